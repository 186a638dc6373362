"""fcc Pt, symmetrised Wannier model (``wannier90_run(..., symmetrize=True)``): spin Hall numbers without a knob.

Usage::

    python benchmarks/bench_pt_symmetrized.py proper --grids 20 40 60 --tols 1e-8 1e-4 0.05 --wedge
    python benchmarks/bench_pt_symmetrized.py proper --grids 20 --tols 1e-8            # full grid: cubic check
    python benchmarks/bench_pt_symmetrized.py conventional --grids 10 12 20 --methods simple qiao

Each row (one :func:`properspin.conductivity` call, serial engine) is printed as a JSON line: σ^z_xy in (ħ/e) S/cm,
the mean of the cyclic components σ^z_xy, σ^x_yz, σ^y_zx and their largest deviation from it (zero in a cubic
crystal), the largest component forbidden by m-3m1' (``forbidden``), the wall time.  ``--wedge``: the irreducible
wedge of the grid under the group of Pt.win (default ``symmetry_tol``); ``--original``: the model as read, without
symmetrisation (for the old-vs-new comparison).  E_F = 18.3823 eV (Pt.win), T = 0.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from peer import emit

import properspin as ps
from properspin.models import wannier90_run

RUN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "wannier90" / "Pt" / "Pt"
CYCLIC = (("z", "x", "y"), ("x", "y", "z"), ("y", "z", "x"))


def summary(res) -> dict:
    """σ^z_xy, mean and spread of the three cyclic components, largest forbidden component ((ħ/e) S/cm)."""
    from properspin.symmetry import check_result, magnetic_group, structure_from_win

    v = ps.results.convert(res, "(hbar/e) S/cm")
    parts = {}
    if "part" in v.dims:
        parts = {str(p): round(float(v.sel(part=p, spin="z", current="x", field="y")[0]), 4) for p in v.part.values}
        v = v.sum("part")
    comps = [float(v.sel(spin=s, current=i, field=j)[0]) for s, i, j in CYCLIC]
    mean = sum(comps) / 3
    group = magnetic_group(structure_from_win(f"{RUN}.win"), np.zeros(3))
    chk = check_result(v, group)
    spread = max(abs(c - mean) for c in comps)
    return {**parts, "sigma_z_xy": round(comps[0], 4), "mean3": round(mean, 4), "spread3": float(f"{spread:.3g}"),
            "forbidden": float(f"{chk['max_forbidden']:.3g}")}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["proper", "conventional"])
    p.add_argument("--grids", type=int, nargs="*", default=[20])
    p.add_argument("--tols", type=float, nargs="*", default=[1e-8], help="degeneracy_tol (eV) of the block trace")
    p.add_argument("--etas", type=float, nargs="*", default=[0.0], help="dephasing η (eV) of occupied pairs")
    p.add_argument("--methods", nargs="*", default=["simple", "qiao"])
    p.add_argument("--broadening", type=float, default=0.1)
    p.add_argument("--wedge", action="store_true")
    p.add_argument("--original", action="store_true", help="the model as read (no symmetrisation)")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    t = time.perf_counter()
    model = wannier90_run(RUN, symmetrize=not a.original)
    fermi = [model.info["postw90"]["fermi_energies"][0]]
    emit({"build_seconds": round(time.perf_counter() - t, 1), "symmetrize": not a.original}, a.json)
    engine = ps.Engine(workers=1)
    for n in a.grids:
        mesh = ps.mesh.grid(n, symmetry=f"{RUN}.win" if a.wedge else None)
        if a.what == "proper":
            for tol in a.tols:
                for eta in a.etas:
                    resp = ps.responses.get("proper_spin", dephasing=eta, occupation_split=True)
                    t = time.perf_counter()
                    res = ps.conductivity(model, resp, fermi=fermi, mesh=mesh, degeneracy_tol=tol, engine=engine)
                    emit({"run": "proper", "n": n, "tol": tol, "eta": eta, "wedge": a.wedge, **summary(res),
                          "seconds": round(time.perf_counter() - t, 1)}, a.json)
        else:
            for method in a.methods:
                resp = ps.responses.get("conventional_spin", method=method, broadening=a.broadening)
                t = time.perf_counter()
                res = ps.conductivity(model, resp, fermi=fermi, mesh=mesh, degeneracy_tol=1e-7, engine=engine)
                emit({"run": f"conventional {method}", "n": n, "broadening": a.broadening, "wedge": a.wedge,
                      "original": a.original, **summary(res), "seconds": round(time.perf_counter() - t, 1)}, a.json)


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
