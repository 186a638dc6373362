"""Symmetry on native Wannier90 runs: how symmetric the interpolated model is, and wedge + projector vs full grid.

For fcc Pt (``../shared/data/wannier90/Pt``, m-3m1', S(k) from ``.spn``, Qiao spin current) and bcc Fe
(``../shared/data/wannier90/Fe``, 4/mm'm' with the magnetisation given along z: the run has no ``.spn``):

1. the asymmetry of the model: Kramers splittings and max |ε(gk) − ε(k)| over the group at random k and at the
   ab-initio k-points, and ``symmetry.verify``'s measures (the numbers a ``symmetry_tol`` is compared with);
2. σ on the irreducible wedge (+ projector) against the full grid, for Pt's conventional σ^z_xy (simple and qiao,
   η = 0.1 eV; qiao with postw90's D threshold 1e-7 eV and with ``spin_current_tol`` = 1e-5 eV) and Fe's σ_xy:
   values, relative difference, how far the full-grid tensor itself is from the symmetry-allowed form, k-point
   counts and times (serial, one BLAS thread).

Usage::

    python benchmarks/bench_symmetry_native.py                   # Pt 8, 10, 12, 20; Fe 10, 16, 24 (about 2 min)
    python benchmarks/bench_symmetry_native.py --pt 8 --fe 10     # quicker
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

import properspin as ps  # noqa: E402
from properspin import symmetry as sy  # noqa: E402
from properspin.models.wannier import read_wannier90_run  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wannier90"
PT_EF, FE_EF = 18.3823, 12.6279
TO_WANNIER = 1 / 200  # (ħ/2e) S/m → (ħ/e) S/cm; S/m → S/cm is 1/100


def asymmetry(model: ps.Model, group: sy.MagneticGroup, k: np.ndarray) -> tuple[float, float, float]:
    """(max Kramers splitting, median over k of the largest splitting, max |ε(gk) − ε(k)|) in eV at ``k``."""
    e = model.energies(k)
    split = e[:, 1::2] - e[:, 0::2]
    shift = max(float(np.abs(model.energies(k @ op.k_map.T) - e).max()) for op in group.operations)
    return float(split.max()), float(np.median(split.max(axis=1))), shift


def timed(model, resp, mesh, fermi):
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", sy.SymmetryWarning)
        res = ps.conductivity(model, resp, fermi=fermi, mesh=mesh, engine=ps.Engine(workers=1), degeneracy_tol=1e-7)
    return res, time.perf_counter() - t, [str(w.message) for w in caught]


def pt(ladder: list[int]) -> None:
    run = read_wannier90_run(DATA / "Pt" / "Pt")
    models = {1e-7: run.model(), 1e-5: _with_tol(run, 1e-5)}
    model = models[1e-7]
    win = DATA / "Pt" / "Pt.win"
    group = sy.group_for(model, win)
    print(f"\n== fcc Pt (native run, 18 Wannier functions): group {group.label}, |G| = {group.order}")
    rng = np.random.default_rng(0)
    for where, k in (("200 random k", rng.random((200, 3)) @ model.reciprocal),
                     ("64 ab-initio k", run.chk.kpt_latt @ model.reciprocal)):
        kr, med, shift = asymmetry(model, group, k)
        print(f"  {where:15s}: Kramers splitting max {kr * 1e3:8.4f} meV (median of per-k max {med * 1e3:7.4f} meV), "
              f"max |ε(gk) − ε(k)| {shift * 1e3:8.4f} meV")
    for method in ("simple", "qiao"):
        resp = ps.responses.get("conventional_spin", method=method, broadening=0.1)
        v = sy.verify(models[1e-5], group, resp)
        print(f"  verify conventional_spin {method:6s}: energy {v.energy_error:.3g} × bandwidth "
              f"({v.energy_error * v.bandwidth * 1e3:.1f} meV of {v.bandwidth:.1f} eV), "
              f"integrand {v.integrand_error:.3g}")
    print("  σ^z_xy (ħ/e) S/cm at E_F = 18.3823 eV, η = 0.1 eV; 'asym' = max |σ − Pσ| of the full-grid tensor "
          "/ |σ^z_xy|")
    print(f"  {'n':>3s} {'method':14s} {'full':>10s} {'wedge':>10s} {'rel diff':>9s} {'asym':>9s} "
          f"{'k full':>7s} {'k wedge':>7s} {'t full':>7s} {'t wedge':>7s}")
    for n in ladder:
        for method, tol in (("simple", 1e-7), ("qiao", 1e-7), ("qiao", 1e-5)):
            m = models[tol]
            resp = ps.responses.get("conventional_spin", method=method, broadening=0.1)
            full, tf, _ = timed(m, resp, ps.mesh.grid(n), [PT_EF])
            red, tr, warn = timed(m, resp, ps.mesh.grid(n, symmetry=win, symmetry_tol=0.5), [PT_EF])
            a = full.values[0, 2, 0, 1] * TO_WANNIER
            b = red.values[0, 2, 0, 1] * TO_WANNIER
            asym = sy.check_result(full, group)["deviation"] * TO_WANNIER / abs(a)
            label = method + ("" if method == "simple" else f" {tol:g}")
            print(f"  {n:3d} {label:14s} {a:10.2f} {b:10.2f} {abs(b - a) / abs(a):9.2e} {asym:9.2e} "
                  f"{full.attrs['mesh_size']:7d} {red.attrs['mesh_size']:7d} {tf:7.2f} {tr:7.2f}"
                  + (f"  ({warn[0][:60]})" if warn else ""))


def _with_tol(run, tol):
    from dataclasses import replace

    return replace(run, options={**run.options, "spin_current_tol": tol}).model()


def fe(ladder: list[int]) -> None:
    model = ps.models.wannier90_run(DATA / "Fe" / "Fe")
    structure = sy.structure_from_win(DATA / "Fe" / "Fe.win", magnetization=(0, 0, 1))
    group = sy.group_for(model, structure)
    rng = np.random.default_rng(0)
    _, _, shift = asymmetry(model, group, rng.random((200, 3)) @ model.reciprocal)
    v = sy.verify(model, group, "charge")
    print(f"\n== bcc Fe (native run, no .spn; magnetisation given along z): group {group.label}, |G| = {group.order}")
    print(f"  max |ε(gk) − ε(k)| at 200 random k: {shift * 1e3:.4f} meV; verify charge: energy {v.energy_error:.2g} × "
          f"bandwidth, integrand {v.integrand_error:.2g}")
    print("  σ_xy (S/cm) at E_F = 12.6279 eV (postw90 10³: 1222.1510)")
    print(f"  {'n':>3s} {'full':>12s} {'wedge':>12s} {'rel diff':>9s} {'k full':>7s} {'k wedge':>7s} {'t full':>7s} "
          f"{'t wedge':>7s}")
    for n in ladder:
        full, tf, _ = timed(model, "charge", ps.mesh.grid(n), [FE_EF])
        red, tr, warn = timed(model, "charge", ps.mesh.grid(n, symmetry=structure), [FE_EF])
        a, b = full.values[0, 0, 1] / 100, red.values[0, 0, 1] / 100
        print(f"  {n:3d} {a:12.4f} {b:12.4f} {abs(b - a) / abs(a):9.2e} {full.attrs['mesh_size']:7d} "
              f"{red.attrs['mesh_size']:7d} {tf:7.2f} {tr:7.2f}" + (f"  ({warn[0][:60]})" if warn else ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pt", default="8,10,12,20", help="Pt grids (comma-separated)")
    p.add_argument("--fe", default="10,16,24", help="Fe grids (comma-separated)")
    args = p.parse_args()
    if not (DATA / "Pt" / "Pt.win").is_file():
        raise SystemExit(f"{DATA} absent: this benchmark needs ../shared/data/wannier90")
    ps.conductivity(ps.models.qwz(1.0), "charge", fermi=[0.0], mesh=ps.mesh.grid(2))  # compile outside the timings
    fe([int(x) for x in args.fe.split(",") if x])
    pt([int(x) for x in args.pt.split(",") if x])


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
