"""Time to a certified number (issue 26, item 4): Pt's conventional spin Hall conductivity σ^z_xy (Qiao et al.
spin current, postw90's η = 0.1 eV, E_F = 18.3823 eV, T = 0) of the *symmetrised* Wannier model of fcc Pt, to
1 % and 0.1 %, properspin against WannierBerri 26.x, both on the same model and the same irreducible grids.

* properspin: ``wannier90_run(Pt, symmetrize=True)`` (gauge fit, m-3m1', 96 operations), then
  ``ps.converge(..., mesh=grid(n0, symmetry=Pt.win), rtol=…, rule=…)`` (n → 1.5 n, Richardson error, stops when
  the error of σ^z_xy is ≤ rtol·|σ|), one serial process per target, wall and CPU time of the ``converge`` call.
* WannierBerri at its recommended settings: ``Grid(system, NK=n)`` (its own FFT block split), ``fftlib`` default
  (``fftw``, pyfftw installed), ``run(use_irred_kpt=True, symmetrize=True)``, ``dynamic.SHC`` (ω = 0, Lorentzian
  η, Qiao, ``degen_thresh`` as properspin's ``degeneracy_tol``).  WannierBerri's own symmetriser with the
  projections of Pt.win changes H by 6.7 eV for this run (RESULTS.md §13: the functions are hybrids, not s, p, d),
  so it is given *properspin's* symmetrised matrices instead (H, A, S, SH, SR, SHR converted with the factors
  fitted on the unsymmetrised matrices, as in bench_symmetrize_wannierberri.py) and the point group of the fcc
  structure (spglib).  No ``adpt_num_iter`` refinement: it would break the mesh family the error estimate needs
  (and RESULTS.md §7 found it inconsistent with its symmetrisation).  WannierBerri has no convergence driver:
  its rungs are the meshes properspin's ``converge`` used, scored with the same rule (``converge.estimate``);
  its time to X % is the sum of its rung times up to the first certified rung.
* Confirmation: one properspin run on a much finer wedge (``--confirm-n``), independent of the ladder: the
  certified value must lie within its error bar of it (plus the finer run's own distance, printed).

Every measurement is a fresh process (WannierBerri: one process for its ladder; the model read and injected
first, not timed); one BLAS/numba thread; peak RSS per process printed.  A first process of its own compiles the
kernels (or loads them from the cache) so that no measured process pays numba's cold compile (≈ 2.5 GB peak RSS for
Pt, 1.5 GB of it kept: RESULTS.md §17d); its CPU time and peak are printed apart.

``--case pt_proper``: Pt's *proper* σ^z_xy at η = 0 (Eq. 2; RESULTS.md §13, §17d), ``converge`` on
``adaptive.singular_point_grid(n0, points, 0.12 Å⁻¹, 16, 16, symmetry=Pt.win)`` (the wedge refined, the balls around
the 27 fourfold points kept; the points located by bench_pt_singular.locate, timed apart), ``degeneracy_tol`` 1e-8
eV; the confirmation is the same construction on ``--confirm-n``.  WannierBerri has no proper (conserved) spin
current: no WannierBerri row.

``--case fe``: Fe_tb.dat σ_xy (with positions, E_F for 8 electrons) on the wedge of 4/mm'm', WannierBerri with the
point group of its structure (as bench_convergence.py); ``--budget`` bounds ``converge``, ``--wb-max-n`` the
WannierBerri ladder.  ``--rounds R``: R interleaved rounds of both codes (per-round ratios printed).

Usage: ``python benchmarks/bench_certified.py [--python /work/venv-wb/bin/python] [--rtols 0.01 0.001]
[--n0 12] [--confirm-n 306] [--rule richardson] [--rounds 2] [--case pt|fe]`` (``--python`` defaults to
``$PROPERSPIN_WB_PYTHON`` or ``benchmarks/.venv-wb/bin/python``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from peer import peak_rss_line, run_worker, wb_python

HERE = Path(__file__).resolve().parent
PT_EF, ETA, TOL = 18.3823, 0.1, 1e-7
HEADERS = {"pt": f"Pt σ^z_xy, Qiao, η = {ETA} eV, symmetrised model",
           "pt_proper": "Pt proper σ^z_xy (Eq. 2), η = 0, symmetrised model, singular-point balls (radius 0.12 Å⁻¹, "
                        "16 × 16 × 32 points)",
           "fe": "Fe_tb.dat σ_xy (positions), E_F 17.694853 eV, 4/mm'm'"}
KEYS = {"H": "Ham", "A": "AA", "S": "SS", "SH": "SH", "SR": "SR", "SHR": "SHR"}
COMP = {"spin": "z", "current": "x", "field": "y"}
FE_COMP, FE_EF = {"current": "x", "field": "y"}, 17.694853  # Fe_tb.dat: E_F for 8 electrons (RESULTS.md §7)
SCALE = 0.5e-2  # (ħ/2e) S/m (properspin's spin responses) → (ħ/e) S/cm
PROPER_TOL, RADIUS, ORDER = 1e-8, 0.12, 16  # Pt proper: block trace tolerance (eV), ball radius (Å⁻¹), GL points


# ----------------------------------------------------------------------------------- WannierBerri side
def _wb_system(seed: str):  # noqa: ANN202 - a WannierBerri System_R
    from wannierberri.system.system_R import System_R
    from wannierberri.w90files import WannierData

    wd = WannierData.from_w90_files(seed, files=["win", "chk", "eig", "mmn", "spn"], readnnkp=False)
    wd.chk.wannier_centers_cart = np.zeros_like(wd.chk.wannier_centers_cart)  # postw90's use_ws_distance = false
    return System_R.from_wannierdata(wd, berry=True, spin=True, SHCqiao=True, symmetrize=False)


def wb_dump(spec: dict) -> dict:
    """The unsymmetrised matrices WannierBerri reads (for the convention factors)."""
    system = _wb_system(spec["seedname"])
    mats = {k: np.array(system.get_R_mat(k)) for k in KEYS.values()}
    np.savez(spec["out"], irvec=np.array(system.rvec.iRvec), **mats)
    return {"ok": True}


def wb_ladder(spec: dict) -> dict:
    """properspin's symmetrised matrices injected into WannierBerri, fcc point group; σ^z_xy on each grid n."""
    import wannierberri as wb
    from wannierberri.calculators import dynamic
    from wannierberri.fourier.rvectors import Rvectors

    system = _wb_system(spec["seedname"])
    data = np.load(spec["matrices"])
    system._XX_R = {k: data[k] for k in KEYS.values()}
    system.rvec = Rvectors(lattice=system.real_lattice, iRvec=data["irvec"], shifts_left_red=system.wannier_centers_red)
    system.clear_cached_R()
    system.set_structure(positions=[[0, 0, 0]], atom_labels=["Pt"], magnetic_moments=None)
    system.set_pointgroup_from_structure()
    calc = {"shc": dynamic.SHC(Efermi=np.array([PT_EF]), omega=np.array([0.0]), kBT=0, smr_fixed_width=ETA,
                               smr_type="Lorentzian", SHC_type="qiao", degen_thresh=spec["tol"])}
    # (current, field, spin) in (ħ/e) S/m → σ^z_xy in (ħ/e) S/cm
    return _wb_rungs(wb, system, calc, spec["ladder"], lambda d: float(d.reshape(-1)[0 * 9 + 1 * 3 + 2]) * 1e-2)


def wb_fe_ladder(spec: dict) -> dict:
    """Fe_tb.dat with positions in WannierBerri, its point group from the structure (bench_convergence.py):
    σ_xy (S/cm) on each grid n of the ladder, irreducible K points, symmetrised, no refinement."""
    import wannierberri as wb
    from wannierberri.calculators import static

    system = wb.system.System_tb(tb_file=spec["file"], berry=True)
    system.set_structure(positions=[[0, 0, 0]], atom_labels=["Fe"], magnetic_moments=[[0, 0, -1.0]])
    system.set_pointgroup_from_structure()
    calc = {"ahc": static.AHC(Efermi=np.array([FE_EF]), tetra=False, kwargs_formula={"external_terms": True})}
    return _wb_rungs(wb, system, calc, spec["ladder"], lambda d: float(d.reshape(-1)[2]) * 1e-2)


def _wb_rungs(wb, system, calc: dict, ladder: list[int], pick) -> dict:  # noqa: ANN001 - module, System, callable
    workdir, rungs = tempfile.mkdtemp(prefix="wb-cert-"), []
    (key,) = calc
    for n in ladder:
        grid = wb.Grid(system, NK=n)
        if [int(x) for x in grid.dense] != [n] * 3:
            raise SystemExit(f"WannierBerri chose a {list(grid.dense)} grid, not {n}^3")
        nk = len(grid.get_K_list(use_symmetry=True)) * int(np.prod(grid.FFT))
        t0, c0 = time.perf_counter(), time.process_time()
        res = wb.run(system, grid=grid, calculators=calc, adpt_num_iter=0, use_irred_kpt=True, symmetrize=True,
                     parallel=False, fout_name=os.path.join(workdir, f"{key}{n}"), print_progress_step_time=1e9)
        t, c = time.perf_counter() - t0, time.process_time() - c0
        sigma = pick(np.real(np.asarray(res.results[key].data)))
        rungs.append({"n": n, "t": t, "cpu": c, "kpoints": nk, "sigma": sigma,
                      "split": f"{[int(x) for x in grid.div]}×{[int(x) for x in grid.FFT]}"})
    return {"rungs": rungs, "version": wb.__version__,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "group_order": int(system.pointgroup.size)}


# ------------------------------------------------------------------------------------- properspin side
def _ps_case(case: str, seed: str) -> tuple:
    """(model, response, E_F, symmetry, component, scale to the printed unit, degeneracy_tol) of a case."""
    import properspin as ps

    if case == "pt_proper":
        from properspin.models import wannier90_run

        return (wannier90_run(seed, symmetrize=True), ps.responses.get("proper_spin"), PT_EF, seed + ".win", COMP,
                SCALE, PROPER_TOL)
    if case == "pt":
        from properspin.models import wannier90_run

        return (wannier90_run(seed, symmetrize=True), ps.responses.get("conventional_spin", method="qiao",
                broadening=ETA), PT_EF, seed + ".win", COMP, SCALE, TOL)
    from properspin import symmetry as sy
    from properspin.conventions import DEGENERACY_TOL
    from properspin.models.wannier import wannier90

    model = wannier90(seed, spinor_order="interleaved", use_position=True)
    structure = sy.Structure(2 * np.pi * np.linalg.inv(model.reciprocal).T, [[0, 0, 0]], ["Fe"])
    return model, ps.responses.get("charge"), FE_EF, structure, FE_COMP, 1e-2, DEGENERACY_TOL


def ps_worker(spec: dict) -> dict:
    """``converge`` to ``rtol`` (or one ``conductivity`` on grid ``n``), timed, in this fresh process."""
    import properspin as ps

    t0 = time.perf_counter()
    model, resp, ef, sym, comp, scale, tol = _ps_case(spec["case"], spec["seedname"])
    t_build = time.perf_counter() - t0
    engine = ps.Engine(workers=1)
    c0 = time.process_time()
    ps.conductivity(model, resp, fermi=ef, mesh=ps.mesh.grid(2), degeneracy_tol=tol, engine=engine)  # warm-up
    if spec.get("warm"):  # the compile (or cache load) alone: its peak RSS is not a worker's (RESULTS.md §17d)
        return {"cpu": time.process_time() - c0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                / 1024}
    t0 = time.perf_counter()
    mesh = _ps_mesh(spec["case"], model, ef, sym, spec.get("radius", RADIUS), spec.get("order", ORDER))
    t_locate = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    if "n" in spec:
        r = ps.conductivity(model, resp, fermi=ef, mesh=mesh(spec["n"]), degeneracy_tol=tol, engine=engine)
        assert r.attrs["units"] == "(hbar/2e) S/m", r.attrs["units"]
        out = {"sigma": float(r.sel(**comp).item()) * scale, "kpoints": int(r.attrs["mesh_size"])}
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = ps.converge(model, resp, fermi=ef, mesh=mesh(spec["n0"]), rtol=spec["rtol"],
                            rule=spec["rule"], select=comp, degeneracy_tol=tol, engine=engine, avoid_touchings=False,
                            max_steps=10, budget=spec["budget"], progress=False)
        seq = r["sequence"].sel(**comp).values.reshape(-1) * scale
        meshes = [m for m in json.loads(r.attrs["converge_meshes"]) if "mesh_n" in m]
        out = {"sigma": float(r["value"].sel(**comp).item()) * scale,
               "error": float(r["error"].sel(**comp).item()) * scale,
               "converged": bool(r["converged"].sel(**comp).item()), "kpoints": int(r.attrs["converge_kpoints_spent"]),
               "error_rule": str(r["error_rule"].sel(**comp).item()),
               "rung_seconds": [m["seconds"] for m in meshes if "seconds" in m],
               "ladder": [m["mesh_n"][0] for m in meshes if m.get("role") != "shift check"], "sequence": seq.tolist(),
               "stopped": [m["stopped"] for m in json.loads(r.attrs["converge_meshes"]) if "stopped" in m],
               "warnings": sorted({str(w.message)[:160] for w in caught})}
    return {**out, "t": time.perf_counter() - t0, "cpu": time.process_time() - c0, "t_build": t_build,
            "t_locate": t_locate,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _ps_mesh(case: str, model, fermi: float, sym, radius: float, order: int):  # noqa: ANN001, ANN202
    """n → the case's mesh: the wedge of grid(n), or for ``pt_proper`` grid(n) + balls (``radius``, ``order``
    Gauss–Legendre points) around the fourfold points."""
    import properspin as ps

    if case != "pt_proper":
        return lambda n: ps.mesh.grid(n, symmetry=sym)
    from bench_pt_singular import locate

    from properspin.adaptive import singular_point_grid

    points = [row["k"] for row in locate(model, fermi)]
    return lambda n: singular_point_grid(n, points, radius, radial=order, angular=order, symmetry=sym)


def run_ps(spec: dict) -> dict:
    """This script's ``--ps-worker`` in a fresh process (one thread): the dict of its ``PSRESULT`` line."""
    return run_worker(sys.executable, __file__, spec, role="ps")


def wb_matrices(seed: str, python: str, tmp: Path) -> Path:
    """properspin's symmetrised matrices in WannierBerri's layout and conventions (factors fitted unsymmetrised)."""
    from bench_symmetrize_wannierberri import _ours, _theirs, compare

    from properspin.models.wannier import read_wannier90_run
    from properspin.models.wannier.symmetrize import symmetrize_run

    run_worker(python, __file__, {"mode": "dump", "seedname": seed, "out": str(tmp / "before.npz")})
    data = np.load(tmp / "before.npz")
    run = read_wannier90_run(seed, use_ws_distance=False)
    n = run.num_wann
    before = compare(_ours(run), run.irvec, _theirs({f"b_{v}": data[v] for v in KEYS.values()}, "b", n), data["irvec"])
    worst = max(v["relative"] for k, v in before["rows"].items() if not k.startswith("_"))
    if worst > 1e-10:
        raise SystemExit(f"the unsymmetrised matrices do not agree (max relative {worst:.2e}): conventions changed?")
    sym = symmetrize_run(run)
    ours = _ours(sym)
    out = {}
    for k, key in KEYS.items():
        x = ours[k] / before["factor"][k][None, :, None, None]  # (nR, c, n, n) in WannierBerri's units
        x = np.moveaxis(x, 1, 3)  # (nR, n, n, c)
        if k == "H":
            x = x[..., 0]
        elif k in ("SR", "SHR"):
            x = x.reshape(x.shape[:3] + (3, 3)).swapaxes(-1, -2)  # properspin (spin, r) → WannierBerri (r, spin)
        out[key] = np.ascontiguousarray(x)
    np.savez(tmp / "sym.npz", irvec=np.asarray(sym.irvec), **out)
    return tmp / "sym.npz"


# ------------------------------------------------------------------------------------------------ main
def score(rungs: list[dict], rtol: float, rule: str) -> dict | None:
    """The first rung whose ``converge.estimate`` error is ≤ rtol·|value|, with the time summed up to it."""
    from properspin.converge import estimate

    for i in range(1, len(rungs)):
        v = np.array([r["sigma"] for r in rungs[: i + 1]])[:, None]
        h = np.array([1.0 / r["n"] for r in rungs[: i + 1]])
        value, err, _ = estimate(v, h, rule)
        if len(v) >= (2 if rule == "difference" else 3) and err[0] <= rtol * abs(value[0]):
            return {"n": rungs[i]["n"], "sigma": float(value[0]), "error": float(err[0]),
                    "t": sum(r["t"] for r in rungs[: i + 1]), "cpu": sum(r["cpu"] for r in rungs[: i + 1]),
                    "kpoints": sum(r["kpoints"] for r in rungs[: i + 1])}
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=None, help="interpreter with wannierberri (default: peer.wb_python())")
    p.add_argument("--rtols", type=float, nargs="*", default=[0.01, 0.001])
    p.add_argument("--n0", type=int, default=12)
    p.add_argument("--rule", default="richardson", choices=["richardson", "difference", "auto"])
    p.add_argument("--confirm-n", type=int, default=306, help="the much finer independent wedge (0: skip)")
    p.add_argument("--skip-wb", action="store_true")
    p.add_argument("--confirm-balls", type=float, nargs=2, default=None, metavar=("RADIUS", "ORDER"),
                   help="pt_proper: other balls for the confirmation (Å⁻¹, Gauss–Legendre points), e.g. 0.10 20")
    p.add_argument("--rounds", type=int, default=1, help="interleaved rounds of both codes")
    p.add_argument("--case", default="pt", choices=["pt", "pt_proper", "fe"],
                   help="pt: Pt σ^z_xy (Qiao); pt_proper: Pt proper σ^z_xy at η = 0; fe: Fe_tb.dat σ_xy")
    p.add_argument("--budget", type=int, default=4_000_000, help="converge's k-point budget (all meshes)")
    p.add_argument("--wb-max-n", type=int, default=0, help="WannierBerri's ladder up to this n only (0: all)")
    p.add_argument("--data", type=Path, default=HERE.parent / ".." / "shared" / "data")
    p.add_argument("--ps-worker", help=argparse.SUPPRESS)
    p.add_argument("--wb-worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.ps_worker:
        print("PSRESULT " + json.dumps(ps_worker(json.loads(a.ps_worker))))
        return
    if a.wb_worker:
        spec = json.loads(a.wb_worker)
        work = {"dump": wb_dump, "ladder": wb_ladder, "fe_ladder": wb_fe_ladder}[spec["mode"]]
        print("WBRESULT " + json.dumps(work(spec)))
        return
    import bench_wannierberri as bw

    bw.NATIVE = a.data / "wannier90"
    python = a.python or (sys.executable if a.skip_wb or a.case == "pt_proper" else wb_python())
    with tempfile.TemporaryDirectory() as tmp:
        seed = bw.native_copy("Pt", Path(tmp) / "Pt") if a.case != "fe" else str(a.data / "Fe_tb.dat")
        print(HEADERS[a.case] + f"; rule {a.rule}; serial, 1 thread; load {os.getloadavg()[0]:.1f}", flush=True)
        warm = run_ps({"case": a.case, "seedname": seed, "warm": True})  # compiles the kernels into the cache
        print(f"kernel compile or cache load, a process of its own: {warm['cpu']:.1f} s CPU, peak RSS "
              f"{warm['peak_rss_mb']:.0f} MB (a cold numba cache: ≈ 2.5 GB, RESULTS.md §17d)", flush=True)
        rounds, mats = [], None
        for i in range(a.rounds):  # interleaved: properspin's converge calls, then WannierBerri's ladder
            ours = {}
            for rtol in sorted(a.rtols, reverse=True):
                ours[rtol] = run_ps({"case": a.case, "seedname": seed, "n0": a.n0, "rtol": rtol, "rule": a.rule,
                                     "budget": a.budget})
                print(f"round {i + 1}: properspin converge rtol {rtol:g}: " + json.dumps(ours[rtol]), flush=True)
            ladder = max(ours.values(), key=lambda r: len(r["ladder"]))["ladder"] if ours else []
            ladder = [n for n in ladder if not a.wb_max_n or n <= a.wb_max_n]
            theirs = None
            if a.case == "pt_proper":
                print("WannierBerri: not run — it has no proper (conserved) spin current (Eq. 2)", flush=True)
            elif not a.skip_wb and a.case == "pt":
                mats = mats or wb_matrices(seed, python, Path(tmp))
                theirs = run_worker(python, __file__, {"mode": "ladder", "seedname": seed, "matrices": str(mats),
                                                       "ladder": ladder, "tol": TOL})
            elif not a.skip_wb:
                theirs = run_worker(python, __file__, {"mode": "fe_ladder", "file": seed, "ladder": ladder})
            if theirs:
                print(f"round {i + 1}: WannierBerri ladder: " + json.dumps(theirs), flush=True)
            rounds.append((ours, theirs, os.getloadavg()[0]))
        ours, theirs, _ = rounds[0]
        balls = {"radius": a.confirm_balls[0], "order": int(a.confirm_balls[1])} if a.confirm_balls else {}
        confirm = run_ps({"case": a.case, "seedname": seed, "n": a.confirm_n, **balls}) if a.confirm_n else None
        if a.case == "pt_proper" and ours:
            print(f"  locating the fourfold points (not in the times): {min(r['t_locate'] for r in ours.values()):.1f} "
                  "s", flush=True)
        if confirm:
            print(f"confirmation wedge {a.confirm_n}³: " + json.dumps(confirm), flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    report(ours, theirs, confirm, a)
    for i, (o, t, load) in enumerate(rounds):
        for rtol, r in sorted(o.items(), reverse=True):
            s = score(t["rungs"], rtol, a.rule) if t else None
            ratio = f", ratio CPU {r['cpu'] / s['cpu']:.3f}, wall {r['t'] / s['t']:.3f}" if s and r["converged"] else ""
            print(f"  round {i + 1} (load {load:.1f}), {100 * rtol:g} %: properspin CPU {r['cpu']:.1f} s (wall "
                  f"{r['t']:.1f}), WannierBerri " + (f"CPU {s['cpu']:.1f} s (wall {s['t']:.1f})" if s else "—") + ratio)


def report(ours: dict, theirs: dict | None, confirm: dict | None, a: argparse.Namespace) -> None:
    unit = "σ_xy (S/cm)" if a.case == "fe" else "σ^z_xy ((ħ/e) S/cm)"
    print(f"\n| target | code | {unit} | last grid | k-points (sum) | wall (s) | CPU (s) | confirmed |")
    print("|---|---|---|---|---|---|---|---|")
    for rtol, r in sorted(ours.items(), reverse=True):
        rows = [("properspin", r if r["converged"] else None, r["ladder"][-1])]
        if a.case == "pt_proper":
            rows.append(("WannierBerri", None, "cannot compute: no proper (conserved) spin current"))
        elif theirs:
            s = score(theirs["rungs"], rtol, a.rule)
            rows.append((f"WannierBerri {theirs['version']}", s, s["n"] if s else "—"))
        for code, x, n in rows:
            if x is None:
                print(f"| {100 * rtol:g} % | {code} | {n if isinstance(n, str) else 'not reached'} | | | | | |")
                continue
            ok = ""
            if confirm:  # the finer run must lie within the target and within the error bar
                d = abs(x["sigma"] - confirm["sigma"])
                in_target, in_bar = d <= rtol * abs(x["sigma"]), d <= x["error"]
                ok = (f"|Δ| {d:.2f} = {100 * d / abs(confirm['sigma']):.3f} %: target {'yes' if in_target else 'NO'}, "
                      f"error bar {'yes' if in_bar else 'NO'}")
            print(f"| {100 * rtol:g} % | {code} | {x['sigma']:.2f} ± {x['error']:.2f} | {n}³ | {x['kpoints']} | "
                  f"{x['t']:.1f} | {x['cpu']:.1f} | {ok} |")
    if theirs:
        for rung in theirs["rungs"]:
            print(f"  WannierBerri {rung['n']}³: σ {rung['sigma']:.4f}, {rung['kpoints']} k (split {rung['split']}), "
                  f"wall {rung['t']:.1f} s, CPU {rung['cpu']:.1f} s")
        seq = max(ours.values(), key=lambda r: len(r["ladder"]))
        dev = max(abs(x - r["sigma"]) / abs(r["sigma"]) for x, r in zip(seq["sequence"], theirs["rungs"], strict=False))
        print(f"  same rungs, properspin vs WannierBerri: max relative difference {dev:.1e}; "
              f"WannierBerri peak RSS {theirs['peak_rss_mb']:.0f} MB")
    runs = list(ours.values()) + ([confirm] if confirm else [])
    print(f"  properspin peak RSS per process: {', '.join(str(round(r['peak_rss_mb'])) for r in runs)} MB; "
          f"model build (symmetrise) {min(r['t_build'] for r in runs):.1f} s, not in the times")
    print(peak_rss_line())


if __name__ == "__main__":
    main()
