"""properspin against WannierBerri: anomalous Hall conductivity σ_xy, values and wall times (issue 5, item 3).

WannierBerri is *not* a dependency of properspin.  It lives in its own virtual environment, by default
``benchmarks/.venv-wb`` (created by ``--setup``), or any interpreter given with ``--python``; this script runs
properspin in the interpreter that starts it and WannierBerri in a subprocess of the other interpreter
(``--wb-worker`` mode, internal).  Both codes get the same ``_tb.dat`` file, the same Γ-centred n³
Monkhorst–Pack mesh, the same Fermi energy and T = 0:

(a) a 3D lattice model (stacked Haldane layers with complex interlayer hoppings, orbitals off the cell
    origin), written with ``properspin.models.wannier.write_tb``;
(b) ``../shared/data/Fe_tb.dat`` (bcc Fe, 18 spinor Wannier functions) at E_F for 8 electrons.

Each is run *with* the position matrix elements (properspin ``use_position=True``; WannierBerri
``berry=True``, external terms on) and *without* them (properspin ``use_position=False``; WannierBerri
``berry=False``, Wannier centres set to 0 so that its phase convention I equals Wannier90's convention II,
``external_terms=False``).  WannierBerri settings: ``use_irred_kpt=False, symmetrize=False,
Grid(use_symmetry=False)``, ``adpt_num_iter=0`` (no refinement), no Wigner–Seitz (MDRS) remapping (a
``_tb.dat`` system never applies it), ``AHC(tetra=False)``, one BLAS thread per process.

(e) the native Wannier90 run ``../shared/data/wannier90/Fe`` (``.chk``, ``.eig``, ``.mmn``): σ_xy at postw90's
    E_F = 12.6279 eV, properspin ``wannier90_run`` against WannierBerri ``System_R.from_wannierdata``;
(f) the native run ``../shared/data/wannier90/Pt`` (with ``.spn``): the conventional spin Hall tensor with the
    Qiao et al. spin current (and the simple ½{s, v} one) at E_F = 18.3823 eV with postw90's fixed broadening
    η = 0.1 eV (WannierBerri ``dynamic.SHC`` at ω = 0, Lorentzian), and in the η → 0 limit (``static.SHC``).

For (e) and (f) both codes read the same files (decompressed, the checkpoint converted to the unformatted
``.chk`` WannierBerri reads, as ``w90chk2chk.x -f2u`` would).  The two ``.win`` files set ``use_ws_distance =
false``; WannierBerri always applies its minimal-distance (MDRS) R vectors, which with the Wannier centres set
to 0 reduce exactly to the plain Wigner–Seitz supercell with degeneracies (and its finite-difference phases
e^{ib·τ_j} to 1), i.e. postw90's ``use_ws_distance = false``.

Usage::

    python benchmarks/bench_wannierberri.py --setup          # once: benchmarks/.venv-wb with wannierberri
    python benchmarks/bench_wannierberri.py                  # the benchmark (≈ 10 min on 2 cores)
    python benchmarks/bench_wannierberri.py --python /path/to/env/bin/python --lattice-n 160 --fe-n 40
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peer import ONE_THREAD, run_worker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_VENV = HERE / ".venv-wb"
FE_FILE = ROOT.parent / "shared" / "data" / "Fe_tb.dat"
NATIVE = ROOT.parent / "shared" / "data" / "wannier90"


# ---------------------------------------------------------------------------------------- WannierBerri side
def wb_native_worker(spec: dict) -> dict:
    """A native Wannier90 run in WannierBerri: AHC (Fe) or SHC (Pt), values and the time of ``run``."""
    import numpy as np
    import wannierberri as wb
    from wannierberri.calculators import dynamic, static
    from wannierberri.system.system_R import System_R
    from wannierberri.w90files import WannierData

    t0 = time.perf_counter()
    files = ["win", "chk", "eig", "mmn"] + (["spn"] if spec["kind"] == "native_shc" else [])
    wd = WannierData.from_w90_files(spec["seedname"], files=files, readnnkp=False)
    wd.chk.wannier_centers_cart = np.zeros_like(wd.chk.wannier_centers_cart)  # postw90's use_ws_distance = false
    extra = {"spin": True, "SHCqiao": True} if spec["kind"] == "native_shc" else {}
    system = System_R.from_wannierdata(wd, berry=True, symmetrize=False, **extra)
    t_read = time.perf_counter() - t0
    n = spec["n"]
    # NKFFT None: WannierBerri's own split (Grid(NK=n) picks the FFT block from the R vectors, as its documentation
    # recommends); an integer: that block (n: one block spanning the whole grid)
    grid = wb.grid.Grid(system, NK=n, NKFFT=spec.get("nkfft"), use_symmetry=False)
    if [int(x) for x in grid.dense] != [n] * 3:
        raise SystemExit(f"WannierBerri chose a {list(grid.dense)} grid, not {n}^3")
    ef = np.array(spec["fermi"])
    if spec["kind"] == "native_ahc":
        calc = {"ahc": static.AHC(Efermi=ef, tetra=False)}
    else:
        eta = spec["eta"]
        calc = {f"{kind}_eta": dynamic.SHC(Efermi=ef, omega=np.array([0.0]), kBT=0, smr_fixed_width=eta,
                                            smr_type="Lorentzian", SHC_type=kind, degen_thresh=1e-7)
                for kind in ("qiao", "simple")}
        calc["qiao_static"] = static.SHC(Efermi=ef, tetra=False, kwargs_formula={"spin_current_type": "qiao"})
    if spec.get("calcs"):
        calc = {key: c for key, c in calc.items() if key in spec["calcs"]}
    workdir = tempfile.mkdtemp(prefix="wb-native-")
    out = {"t_read": t_read, "version": wb.__version__, "nkdiv": [int(x) for x in grid.div],
           "nkfft": [int(x) for x in grid.FFT]}
    for key, c in calc.items():  # one run per calculator: separate timings
        t0, c0 = time.perf_counter(), time.process_time()
        res = wb.run(system, grid=grid, calculators={key: c}, adpt_num_iter=0, use_irred_kpt=False,
                     symmetrize=False, parallel=False, fout_name=os.path.join(workdir, key),
                     print_progress_step_time=1e9)
        out[f"t_{key}"] = time.perf_counter() - t0
        out[f"cpu_{key}"] = time.process_time() - c0
        out[f"nk_{key}"] = int(np.prod(grid.dense))  # no refinement (adpt_num_iter=0), no symmetry: every point
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        data = np.asarray(res.results[key].data)
        out[key] = (data.real if np.iscomplexobj(data) else data).tolist()
    return out


def wb_worker(spec: dict) -> dict:
    """Runs inside the WannierBerri environment: one AHC calculation, returns σ_xy (S/m) and timings."""
    import numpy as np
    import wannierberri as wb
    from wannierberri.calculators import static

    if spec.get("kind", "").startswith("native"):
        return wb_native_worker(spec)
    t0 = time.perf_counter()
    kwargs = {"berry": spec["position"]}
    if not spec["position"]:
        # Wannier centres 0: WannierBerri's convention I (phases e^{ik(R+τ_n-τ_m)}) becomes Wannier90's
        # convention II, i.e. exactly H(k) = Σ_R e^{ikR} H_R / d_R as in properspin without positions.
        with open(spec["file"]) as f:
            for _ in range(4):
                f.readline()
            nw = int(f.readline())
        kwargs["wannier_centers_cart"] = np.zeros((nw, 3))
    system = wb.system.System_tb(tb_file=spec["file"], **kwargs)
    if spec.get("kind") == "shc":
        system.set_spin_interlaced()  # S = σ on (2i, 2i+1) pairs: properspin's spinor_order="interleaved" (s = σ/2)
    t_read = time.perf_counter() - t0
    grid = wb.Grid(system, NK=spec["n"], use_symmetry=False)
    dense = [int(x) for x in grid.dense]
    if dense != [spec["n"]] * 3:
        raise SystemExit(f"WannierBerri chose a {dense} grid, not {spec['n']}^3")
    if spec.get("kind") == "shc":  # Kubo SHC with J = ½{S, v}: properspin's conventional_spin (Wannier manifold)
        calc = {"shc": static.SHC(Efermi=np.array(spec["fermi"]), tetra=False,
                                  kwargs_formula={"spin_current_type": "simple", "external_terms": False})}
    else:
        calc = {"ahc": static.AHC(Efermi=np.array(spec["fermi"]), tetra=False,
                                  kwargs_formula={"external_terms": spec["position"]})}
    parallel = spec["processes"] > 1
    if parallel:
        import ray

        ray.init(num_cpus=spec["processes"], include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": ONE_THREAD})
    workdir = tempfile.mkdtemp(prefix="wb-run-")
    os.chdir(workdir)
    t0, c0 = time.perf_counter(), time.process_time()
    res = wb.run(system, grid=grid, calculators=calc, adpt_num_iter=0, use_irred_kpt=False, symmetrize=False,
                 parallel=parallel, fout_name=os.path.join(workdir, "wb"), print_progress_step_time=1e9)
    t_run, cpu_run = time.perf_counter() - t0, time.process_time() - c0
    if spec.get("kind") == "shc":
        data = np.asarray(res.results["shc"].data)  # (nEf, current, field, spin), (ħ/e) S/m
        return {"shc": data.tolist(), "t_run": t_run, "version": wb.__version__}
    data = np.asarray(res.results["ahc"].data)  # (nEf, 3): pseudovector O, σ_xy = O_z (S/m)
    return {"sigma_xy": data[:, 2].tolist(), "sigma_full": data.tolist(), "t_run": t_run, "t_read": t_read,
            "cpu_run": cpu_run, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "nk": int(np.prod(grid.dense)), "nkdiv": [int(x) for x in grid.div], "nkfft": [int(x) for x in grid.FFT],
            "version": wb.__version__, "processes": spec["processes"]}


def run_wb(python: str, spec: dict) -> dict:
    return run_worker(python, str(Path(__file__).resolve()), spec)


# ------------------------------------------------------------------------------------------ properspin side
def lattice_model():
    """3D Chern-like metal: AB-stacked Haldane layers with complex interlayer hoppings (spinless, 2 bands)."""
    import math

    import numpy as np

    from properspin.models.tight_binding import TightBinding

    c = 1.7
    lat = [[1.0, 0.0, 0.0], [0.5, math.sqrt(3) / 2, 0.0], [0.0, 0.0, c]]
    tb = TightBinding(lat, [[1 / 3, 1 / 3, 0.08], [2 / 3, 2 / 3, -0.11]], name="stacked-haldane",
                      parameters={"t1": 1.0, "t2": 0.15, "phi": 1.1, "M": 0.2, "tz": 0.3, "c": c})
    tb.set_onsite([0.2, -0.2])
    for r in ((0, 0, 0), (-1, 0, 0), (0, -1, 0)):
        tb.add_hopping(1.0, 0, 1, r)
    t2 = 0.15 * complex(math.cos(1.1), math.sin(1.1))
    for i, j, r, t in ((0, 0, (1, 0, 0), t2), (1, 1, (1, -1, 0), t2), (1, 1, (0, 1, 0), t2),
                       (1, 1, (1, 0, 0), t2.conjugate()), (0, 0, (1, -1, 0), t2.conjugate()),
                       (0, 0, (0, 1, 0), t2.conjugate())):
        tb.add_hopping(t, i, j, r)
    tb.add_hopping(0.3, 0, 0, (0, 0, 1))
    tb.add_hopping(-0.25, 1, 1, (0, 0, 1))
    tb.add_hopping(0.12 * np.exp(0.7j), 0, 1, (0, 0, 1))
    tb.add_hopping(0.08 * np.exp(-0.4j), 1, 0, (1, 0, 1))
    return tb


def run_ours(model, fermi, n: int, workers: int) -> tuple[list[float], float, int]:
    import properspin as ps

    ps.conductivity(model, "charge", fermi=fermi, mesh=ps.mesh.grid(3), engine=ps.Engine(workers=1))  # warm-up:
    # loads the compiled kernel from numba's cache (or compiles it after an edit of properspin/kernels.py)
    t0 = time.perf_counter()
    res = ps.conductivity(model, "charge", fermi=fermi, mesh=ps.mesh.grid(n), engine=ps.Engine(workers=workers))
    dt = time.perf_counter() - t0
    assert res.attrs["units"] == "S/m"
    return res.sel(current="x", field="y").values.tolist(), dt, int(res.attrs["degenerate_kpoints"])


def lattice_case(python: str, a: argparse.Namespace) -> None:
    import numpy as np

    from properspin.models.wannier import wannier90, write_tb

    with tempfile.TemporaryDirectory() as tmp:
        tb = lattice_model()
        path = Path(tmp) / "stacked_haldane_tb.dat"
        write_tb(path, tb.to_wannier())
        m_pos = wannier90(path, use_position=True)
        m_nopos = wannier90(path, use_position=False)
        e = np.linalg.eigvalsh(m_pos.h(np.random.default_rng(0).random((4000, 3)) @ m_pos.reciprocal))
        fermi = float(np.round(np.quantile(e[:, 0], 0.8), 6))  # in the lower band: a metal with a Fermi surface
        print(f"(a) lattice model: {tb.name} {tb.parameters}, lower band {e[:, 0].min():.3f}..{e[:, 0].max():.3f} eV,"
              f" upper {e[:, 1].min():.3f}..{e[:, 1].max():.3f} eV")
        case("a", python, path, m_pos, m_nopos, fermi, a.lattice_n, 1e-6, a.workers)


def long_range_model(n: int = 18, rmax: int = 4, seed: int = 5):
    """An 18-band Wannier Hamiltonian with hoppings and positions on R ∈ {−4..4}³ (729 R vectors, decaying as
    e^{−|R|}), bcc lattice of Fe: the size of a real Wannier90 output, where the Fourier sums cost as much as
    the eigensolver."""
    import numpy as np

    from properspin.models.wannier import random_wannier_hamiltonian

    lat = 1.435 * np.array([[1.0, 1.0, 1.0], [-1.0, 1.0, 1.0], [-1.0, -1.0, 1.0]])
    return random_wannier_hamiltonian(n, lat, rmax=rmax, decay=1.0, position_scale=0.05, seed=seed)


def long_range_case(python: str, a: argparse.Namespace) -> None:
    import numpy as np

    from properspin.models.wannier import wannier90, write_tb

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long_range_tb.dat"
        write_tb(path, long_range_model())
        m_pos = wannier90(path, use_position=True)
        m_nopos = wannier90(path, use_position=False)
        e = np.linalg.eigvalsh(m_nopos.h(np.random.default_rng(0).random((2000, 3)) @ m_nopos.reciprocal))
        fermi = float(np.round(np.median(e), 6))
        print(f"\n(d) long-range model: 18 bands, 729 R vectors, E_F = {fermi} eV (median band energy)")
        case("d", python, path, m_pos, m_nopos, fermi, a.long_n, 1e-4, 1)


def spin_case(python, path, model_nopos, fermi: list[float], n: int, target: float) -> None:
    """Conventional spin Hall conductivity, all 27 components at several E_F, against WannierBerri's SHC.

    WannierBerri ``SHC(spin_current_type="simple", external_terms=False)`` is the Kubo formula with
    J = ½{S, v} and S = σ, in (ħ/e) S/m; properspin's ``conventional_spin`` (η = 0) is the same formula with
    s = σ/2 in (ħ/2e) S/m, so the two numbers must differ by exactly a factor 2.  (WannierBerri wants its
    Fermi energies in ascending order.)
    """
    import numpy as np

    import properspin as ps

    fermi = sorted(fermi)
    ps.conductivity(model_nopos, "conventional_spin", fermi=fermi, mesh=ps.mesh.grid(3), engine=ps.Engine(workers=1))
    print(f"\n== (c) {path.name}: conventional spin Hall σ^s_ab, E_F = {fermi} eV, {n}^3 k-points, no positions ==")
    t0 = time.perf_counter()
    res = ps.conductivity(model_nopos, "conventional_spin", fermi=fermi, mesh=ps.mesh.grid(n),
                          engine=ps.Engine(workers=1))
    t_ours = time.perf_counter() - t0
    ours = res.transpose("fermi", "current", "field", "spin").values / 2  # (ħ/e) S/m
    wb = run_wb(python, {"file": str(path), "position": False, "n": n, "fermi": fermi, "processes": 1,
                         "kind": "shc"})
    theirs = np.array(wb["shc"])
    scale = np.max(np.abs(theirs))
    err = float(np.max(np.abs(ours - theirs)) / scale)
    for i, ef in enumerate(fermi):
        print(f"  E_F = {ef:.6f} eV: σ^z_xy properspin {ours[i, 0, 1, 2]:14.6f}  "
              f"WannierBerri {theirs[i, 0, 1, 2]:14.6f}  (ħ/e) S/m")
    print(f"  all 27 components × {len(fermi)} E_F: max |ours − theirs| / max|theirs| = {err:.2e} "
          + ("OK" if err <= target else f"> target {target:g}"))
    print(f"    serial wall time: properspin {t_ours:7.2f} s, WannierBerri {wb['t_run']:7.2f} s, "
          f"ratio ours/theirs {t_ours / wb['t_run']:.3f}")


def native_copy(name: str, dest: Path) -> str:
    """The test-suite run ``name`` decompressed into ``dest``, with the unformatted ``.chk`` WannierBerri reads."""
    import bz2

    from properspin.models.wannier.native import find_file, read_chk, write_chk_unformatted

    src = NATIVE / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.glob(f"{name}.*"):
        if ".chk" in f.name:
            continue
        target = dest / (f.name[:-4] if f.suffix == ".bz2" else f.name)
        target.write_bytes(bz2.open(f).read() if f.suffix == ".bz2" else f.read_bytes())
    write_chk_unformatted(read_chk(find_file(src / name, ".chk.fmt")), dest / f"{name}.chk")
    return str(dest / name)


def native_cases(python: str, a: argparse.Namespace) -> None:
    """(e) Fe σ_xy and (f) Pt spin Hall from the native Wannier90 runs, both codes serial on the same files."""
    import numpy as np

    import properspin as ps
    from properspin.models import wannier90_run

    with tempfile.TemporaryDirectory() as tmp:
        if a.native_fe_n:
            seed = native_copy("Fe", Path(tmp) / "Fe")
            t0 = time.perf_counter()
            model = wannier90_run(seed)
            t_read = time.perf_counter() - t0
            ef = 12.6279
            print(f"\n== (e) native Wannier90 run Fe (use_ws_distance false): σ, E_F = {ef} eV, Γ-centred "
                  f"{a.native_fe_n}^3 k-points, T = 0 ==")
            ours, t_ours, _ = run_ours(model, [ef], a.native_fe_n, 1)
            res = ps.conductivity(model, "charge", fermi=ef, mesh=ps.mesh.grid(a.native_fe_n))
            full = ps.results.convert(res, "S/cm").values[0]
            wb = run_wb(python, {"kind": "native_ahc", "seedname": seed, "n": a.native_fe_n, "fermi": [ef]})
            theirs = np.array(wb["ahc"])[0] * 1e-2  # pseudovector (σ_yz, σ_zx, σ_xy), S/cm
            mine = np.array([full[1, 2], full[2, 0], full[0, 1]])
            for lab, x, y in zip(("σ_yz", "σ_zx", "σ_xy"), mine, theirs, strict=True):
                print(compare(f"{lab} (S/cm):", x, y))
            err = float(np.max(np.abs(mine - theirs)) / np.max(np.abs(theirs)))
            print(f"  max |ours − theirs| / max|theirs| = {err:.2e} " + ("OK" if err <= 1e-6 else "> target 1e-6"))
            print(f"    serial wall time: properspin {t_ours:7.2f} s, WannierBerri {wb['t_ahc']:7.2f} s, ratio "
                  f"{t_ours / wb['t_ahc']:.3f}; reading the run: properspin {t_read:.2f} s (bz2 files), "
                  f"WannierBerri {wb['t_read']:.2f} s")
        if a.native_pt_n:
            seed = native_copy("Pt", Path(tmp) / "Pt")
            t0 = time.perf_counter()
            model = wannier90_run(seed)
            t_read = time.perf_counter() - t0
            ef, eta, n = 18.3823, 0.1, a.native_pt_n
            print(f"\n== (f) native Wannier90 run Pt (.spn, use_ws_distance false): conventional spin Hall, E_F = "
                  f"{ef} eV, Γ-centred {n}^3 k-points, T = 0 ==")
            wb = run_wb(python, {"kind": "native_shc", "seedname": seed, "n": n, "fermi": [ef], "eta": eta})
            rows = [("qiao", eta, "qiao_eta", 1e-6), ("simple", eta, "simple_eta", 1e-6), ("qiao", 0.0, "qiao_static",
                                                                                         None)]
            for method, broad, key, target in rows:
                resp = ps.responses.get("conventional_spin", method=method, broadening=broad)
                tol = 1e-7 if broad else 1e-5  # η = 0: see docs/wannier90-native.md (near-degenerate pairs)
                ps.conductivity(model, resp, fermi=ef, mesh=ps.mesh.grid(2), degeneracy_tol=tol,
                                engine=ps.Engine(workers=1))
                t0 = time.perf_counter()
                res = ps.conductivity(model, resp, fermi=ef, mesh=ps.mesh.grid(n), degeneracy_tol=tol,
                                      engine=ps.Engine(workers=1))
                t_ours = time.perf_counter() - t0
                ours = ps.results.convert(res, "(hbar/e) S/m").values[0].transpose(1, 2, 0)  # current, field, spin
                theirs = np.array(wb[key]).reshape(3, 3, 3)
                err = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
                label = f"{method}, η = {broad} eV" + ("" if broad else f", degeneracy_tol {tol:g}")
                print(compare(f"σ^z_xy ((ħ/e) S/cm), {label}:", ours[0, 1, 2] / 100, theirs[0, 1, 2] / 100),
                      "" if target is None else ("OK" if abs(ours[0, 1, 2] / theirs[0, 1, 2] - 1) <= target
                                                 else f"> target {target:g}"))
                print(f"    all 27 components: max |ours − theirs| / max|theirs| = {err:.2e}; serial wall time "
                      f"properspin {t_ours:7.2f} s, WannierBerri {wb['t_' + key]:7.2f} s, ratio "
                      f"{t_ours / wb['t_' + key]:.3f}")
            print(f"    reading the run: properspin {t_read:.2f} s (bz2 files), WannierBerri {wb['t_read']:.2f} s "
                  f"(uncompressed, with its R-space operators)")


# ---------------------------------------------------------------------------------------------------- main
def setup(venv: Path) -> str:
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["wannierberri", "numba", "pyfftw", "fortio", "ray"], check=True)
    subprocess.run(pip + ["-e", str(ROOT)], check=True)  # properspin, for --wb-worker imports of this file
    return str(py)


def compare(label: str, ours: float, theirs: float) -> str:
    rel = abs(ours - theirs) / max(abs(theirs), 1e-300)
    return f"  {label:<34s} properspin {ours:16.8e}  WannierBerri {theirs:16.8e}  rel.diff {rel:9.2e}"


def case(name, python, path, model_pos, model_nopos, fermi, n, target, parallel_procs) -> dict:
    print(f"\n== ({name}) {path.name}: E_F = {fermi:.6f} eV, Γ-centred {n}^3 = {n**3} k-points, T = 0 ==")
    timings = {}
    for pos, model in ((True, model_pos), (False, model_nopos)):
        tag = "with positions" if pos else "without positions"
        ours, t_ours, ndeg = run_ours(model, [fermi], n, 1)
        wb = run_wb(python, {"file": str(path), "position": pos, "n": n, "fermi": [fermi], "processes": 1})
        print(compare(f"σ_xy (S/m), {tag}:", ours[0], wb["sigma_xy"][0]),
              "OK" if abs(ours[0] - wb["sigma_xy"][0]) <= target * abs(wb["sigma_xy"][0]) else f"> target {target:g}")
        print(f"    serial wall time: properspin {t_ours:7.2f} s, WannierBerri {wb['t_run']:7.2f} s "
              f"(NKdiv {wb['nkdiv']} × NKFFT {wb['nkfft']}; reading {wb['t_read']:.2f} s not counted), "
              f"ratio ours/theirs {t_ours / wb['t_run']:.3f}; properspin excluded {ndeg} degenerate k-points")
        timings[pos] = (ours[0], wb["sigma_xy"][0])
    if parallel_procs > 1:
        ours, t2, _ = run_ours(model_pos, [fermi], n, parallel_procs)
        try:
            wb2 = run_wb(python, {"file": str(path), "position": True, "n": n, "fermi": [fermi],
                                  "processes": parallel_procs})
            t_wb2, wbnote = wb2["t_run"], f"{wb2['t_run']:7.2f} s (Ray, {parallel_procs} CPUs)"
        except SystemExit as err:
            t_wb2, wbnote = None, f"failed ({err})"
        print(f"    {parallel_procs} processes, with positions: properspin Engine(workers={parallel_procs}) "
              f"{t2:7.2f} s, WannierBerri {wbnote}"
              + (f", ratio ours/theirs {t2 / t_wb2:.3f}" if t_wb2 else ""))
    return timings


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", help="interpreter of an environment with wannierberri (default benchmarks/.venv-wb)")
    p.add_argument("--setup", action="store_true", help="create/refresh benchmarks/.venv-wb and exit")
    p.add_argument("--lattice-n", type=int, default=120, help="k-points per direction, lattice model")
    p.add_argument("--fe-n", type=int, default=40, help="k-points per direction, Fe")
    p.add_argument("--fermi-grid", type=int, default=40, help="mesh for the 8-electron Fermi level of Fe")
    p.add_argument("--workers", type=int, default=2, help="processes for the parallel timing (1: skip)")
    p.add_argument("--spin-n", type=int, default=20, help="k-points per direction, Fe spin Hall (0: skip)")
    p.add_argument("--spin-only", action="store_true", help="only the Fe spin Hall comparison (c)")
    p.add_argument("--long-n", type=int, default=30, help="k-points per direction, long-range model (0: skip)")
    p.add_argument("--native-fe-n", type=int, default=30, help="k-points per direction, native Fe run (0: skip)")
    p.add_argument("--native-pt-n", type=int, default=12, help="k-points per direction, native Pt run (0: skip)")
    p.add_argument("--native-only", action="store_true", help="only the native Wannier90 runs (e), (f)")
    p.add_argument("--wb-worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.wb_worker:
        print("WBRESULT " + json.dumps(wb_worker(json.loads(a.wb_worker))))
        return
    if a.setup:
        print("WannierBerri environment:", setup(DEFAULT_VENV))
        return
    python = a.python or str(DEFAULT_VENV / "bin" / "python")
    if not Path(python).exists():
        raise SystemExit(f"{python} not found: run `python {Path(__file__).name} --setup` or pass --python")

    import numpy as np

    import properspin as ps
    from properspin.filling import fermi_level
    from properspin.models.wannier import wannier90

    ver = subprocess.run([python, "-c", "import wannierberri as w, numpy as n; print(w.__version__, n.__version__)"],
                         capture_output=True, text=True, env={**os.environ, **ONE_THREAD}).stdout.split()
    print(f"properspin {ps.__version__} (numpy {np.__version__}) in {sys.executable}")
    print(f"WannierBerri {ver[0]} (numpy {ver[1]}) in {python}")
    print(f"machine: {os.cpu_count()} cores; serial runs use 1 process with 1 BLAS thread each; "
          f"parallel runs {a.workers} processes × 1 thread")
    if a.native_only:
        native_cases(python, a)
        return
    if not a.spin_only:
        lattice_case(python, a)

    fe_pos = wannier90(FE_FILE, spinor_order="interleaved", use_position=True)
    fe_nopos = wannier90(FE_FILE, spinor_order="interleaved", use_position=False)
    t0 = time.perf_counter()
    ef = float(np.round(fermi_level(fe_nopos, 8.0, ps.mesh.grid(a.fermi_grid)), 6))
    print(f"\n(b) Fe: E_F from 8 electrons on a {a.fermi_grid}^3 grid = {ef:.6f} eV ({time.perf_counter() - t0:.1f} s)")
    if not a.spin_only:
        case("b", python, FE_FILE, fe_pos, fe_nopos, ef, a.fe_n, 1e-4, a.workers)
    if a.long_n and not a.spin_only:
        long_range_case(python, a)
    if a.spin_n:
        spin_case(python, FE_FILE, fe_nopos, [ef - 0.2, ef, ef + 0.1], a.spin_n, 1e-6)
    if not a.spin_only and (a.native_fe_n or a.native_pt_n):
        native_cases(python, a)


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
