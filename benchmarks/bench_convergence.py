"""Time to a converged answer: bcc Fe σ_xy from ``../shared/data/Fe_tb.dat`` to 1 % and 0.1 % (issue 15).

Both codes use their symmetry and their refinement on the same file (with its position matrix elements), at
the same Fermi energy (8 electrons), T = 0, serial on one core with one BLAS thread each:

* properspin: ``adaptive_conductivity(..., symmetry=Structure(bcc, Fe at 0))`` — the magnetic point group
  4/mm'm' (verified on the model), irreducible wedge of ``grid(n)``, points whose integrand exceeds
  ``threshold`` × the mean refined into ``refine³`` sub-grids (whole stars), result projected;
* WannierBerri (its own environment, as in ``bench_wannierberri.py``): ``set_structure`` +
  ``set_pointgroup_from_structure`` (spglib), ``Grid(NK=n)``, ``run(use_irred_kpt=True, symmetrize=True,
  adpt_num_iter=...)`` (its K-point refinement).

Each code runs a ladder of increasing n; the reference σ_xy is a finer properspin calculation (printed, and
compared with WannierBerri's finest rung).  "Time to X %" is the wall time of the first rung from which every
finer rung stays within X % of the reference (a lucky coarse hit does not count).

Usage::

    python benchmarks/bench_convergence.py --python /work/peers/wb/bin/python
    python benchmarks/bench_convergence.py --ladder 16,24,32 --ref-n 64          # quicker
    python benchmarks/bench_convergence.py --load OUTPUT --reference 607.12        # re-score a saved output
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from peer import ONE_THREAD, run_worker

HERE = Path(__file__).resolve().parent
FE_FILE = HERE.parent.parent / "shared" / "data" / "Fe_tb.dat"


def wb_worker(spec: dict) -> dict:
    """Inside the WannierBerri environment: σ_xy (S/cm) with its symmetrisation and refinement."""
    import tempfile

    import numpy as np
    import wannierberri as wb
    from wannierberri.calculators import static

    sym = spec.get("symmetry", True)
    system = wb.system.System_tb(tb_file=spec["file"], berry=True)
    if sym:
        system.set_structure(positions=[[0, 0, 0]], atom_labels=["Fe"], magnetic_moments=[[0, 0, -1.0]])
        system.set_pointgroup_from_structure()
    grid = wb.Grid(system, NK=spec["n"], use_symmetry=sym)
    nk_list = len(grid.get_K_list(use_symmetry=sym))
    calc = {"ahc": static.AHC(Efermi=np.array([spec["fermi"]]), tetra=False, kwargs_formula={"external_terms": True})}
    workdir = tempfile.mkdtemp(prefix="wb-conv-")
    os.chdir(workdir)
    t0 = time.perf_counter()
    res = wb.run(system, grid=grid, calculators=calc, adpt_num_iter=spec["adpt"], use_irred_kpt=sym,
                 symmetrize=sym, parallel=False, fout_name=os.path.join(workdir, "wb"), print_progress_step_time=1e9)
    t_run = time.perf_counter() - t0
    sxy = float(np.asarray(res.results["ahc"].data)[0, 2]) / 100  # S/m → S/cm
    nfft = int(np.prod(grid.FFT))
    return {"sigma": sxy, "t": t_run, "kpoints": (nk_list + 8 * spec["adpt"]) * nfft, "div": [int(x) for x in grid.div],
            "fft": [int(x) for x in grid.FFT], "version": wb.__version__}


def run_wb(python: str, spec: dict) -> dict:
    return run_worker(python, str(Path(__file__).resolve()), spec)


def time_to(rungs: list[dict], ref: float, tol: float) -> dict | None:
    """First rung from which every later rung is within ``tol`` (relative) of ``ref``."""
    for i, r in enumerate(rungs):
        if all(abs(s["sigma"] - ref) <= tol * abs(ref) for s in rungs[i:]):
            return r
    return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default="/work/peers/wb/bin/python", help="interpreter with wannierberri")
    p.add_argument("--ladder", default="16,24,32,48,64", help="grid sizes n of both ladders")
    p.add_argument("--refine", type=int, default=5, help="properspin refine (sub-grid refine³ per flagged point)")
    p.add_argument("--threshold", type=float, default=10.0, help="properspin relative refinement threshold")
    p.add_argument("--adpt", type=int, default=20, help="WannierBerri adpt_num_iter")
    p.add_argument("--ref-n", type=int, default=96, help="reference: properspin adaptive on grid(ref-n)")
    p.add_argument("--skip-wb", action="store_true")
    p.add_argument("--reference", type=float, help="σ_xy reference (S/cm) instead of computing it")
    p.add_argument("--load", type=Path, help="re-score the rungs of an earlier run's RESULT line (a file holding it)")
    p.add_argument("--wb-worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.wb_worker:
        print("WBRESULT " + json.dumps(wb_worker(json.loads(a.wb_worker))))
        return
    if a.load:
        line = [x for x in a.load.read_text().splitlines() if x.startswith("RESULT ")][-1]
        data = json.loads(line[len("RESULT "):])
        report(data["rungs"], a.reference if a.reference is not None else data["reference"])
        return
    os.environ.update(ONE_THREAD)
    import numpy as np

    import properspin as ps
    from properspin import symmetry as sy
    from properspin.models.wannier import wannier90

    model = wannier90(FE_FILE, spinor_order="interleaved", use_position=True)
    structure = sy.Structure(2 * np.pi * np.linalg.inv(model.reciprocal).T, [[0, 0, 0]], ["Fe"])
    engine = ps.Engine(workers=1)
    ef = float(np.round(ps.fermi_level(model, 8.0, ps.mesh.grid(48, symmetry=structure)), 6))
    print(f"properspin {ps.__version__}; Fe_tb.dat with positions; E_F = {ef} eV (8 electrons, 48³ grid); "
          f"serial, 1 thread each; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    ps.conductivity(model, "charge", fermi=ef, mesh=ps.mesh.grid(4), engine=engine)  # numba cache warm-up

    def ours(n: int) -> dict:
        t0 = time.perf_counter()
        r = ps.adaptive_conductivity(model, "charge", fermi=ef, n=n, refine=a.refine, threshold=a.threshold,
                                     symmetry=structure, engine=engine)
        dt = time.perf_counter() - t0
        return {"n": n, "sigma": r.sel(current="x", field="y").item() / 100, "t": dt,
                "kpoints": int(r.attrs["adaptive_total_points"]), "group": r.attrs.get("mesh_symmetry_group")}

    t0 = time.perf_counter()
    if a.reference is None:
        ref_run = ours(a.ref_n)
        ref = ref_run["sigma"]
        print(f"reference: properspin adaptive grid({a.ref_n}) refine {a.refine} threshold {a.threshold}: "
              f"σ_xy = {ref:.4f} S/cm ({ref_run['kpoints']} k-points, {time.perf_counter() - t0:.0f} s, "
              f"group {ref_run['group']})", flush=True)
    else:
        ref = a.reference
        print(f"reference (given): σ_xy = {ref:.4f} S/cm")
    ladder = [int(x) for x in a.ladder.split(",")]
    rungs: dict[str, list[dict]] = {"properspin": [], "WannierBerri": []}
    for n in ladder:
        r = ours(n)
        rungs["properspin"].append(r)
        print(f"  properspin   n={n:4d}: σ_xy = {r['sigma']:10.4f} S/cm ({100 * (r['sigma'] / ref - 1):+7.3f} %), "
              f"{r['kpoints']:9d} k-points, {r['t']:8.2f} s", flush=True)
    if not a.skip_wb:
        for n in ladder:
            r = run_wb(a.python, {"file": str(FE_FILE), "n": n, "fermi": ef, "adpt": a.adpt})
            r["n"] = n
            rungs["WannierBerri"].append(r)
            print(f"  WannierBerri n={n:4d}: σ_xy = {r['sigma']:10.4f} S/cm ({100 * (r['sigma'] / ref - 1):+7.3f} %), "
                  f"≈{r['kpoints']:8d} k-points (NKdiv {r['div']} × NKFFT {r['fft']}, adpt_num_iter {a.adpt}), "
                  f"{r['t']:8.2f} s (WannierBerri {r['version']})", flush=True)
    report(rungs, ref)
    print("RESULT " + json.dumps({"reference": ref, "fermi": ef, "rungs": rungs}))


def report(rungs: dict[str, list[dict]], ref: float) -> None:
    """Times to 1 % and 0.1 % of ``ref`` for each code, and their ratio."""
    print(f"\nreference σ_xy = {ref:.4f} S/cm")
    for code, rs in rungs.items():
        print(f"  {code:12s} " + "  ".join(f"n={r['n']}: {100 * (r['sigma'] / ref - 1):+.2f} % ({r['t']:.0f} s)"
                                          for r in rs))
    for tol in (0.01, 0.001):
        line = []
        hit = {}
        for code, rs in rungs.items():
            if not rs:
                continue
            h = time_to(rs, ref, tol)
            hit[code] = h
            line.append(f"{code} " + (f"{h['t']:.2f} s ({h['kpoints']} k-points, n={h['n']})" if h
                                      else "not reached in the ladder"))
        if hit.get("properspin") and hit.get("WannierBerri"):
            line.append(f"ratio WannierBerri/properspin {hit['WannierBerri']['t'] / hit['properspin']['t']:.1f}×")
        print(f"  to {100 * tol:g} %: " + "; ".join(line))


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
