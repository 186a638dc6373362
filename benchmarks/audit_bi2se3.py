"""Audit of the continuum Bi2Se3 in-gap numbers (docs/physics.md table, conventions §3), issue 22: σ^y_zx at
E_F = 0.1 eV, (ħ/2e) S/m, regulated-limit parts of Eq. (2) (block trace, Π(m̂), X(m̂)) for m̂ = x, y, z, on
``sphere(R, 240 R, 24, 24)`` refined in the angles (``ntheta``, ``nphi`` × 1.5 per step; the radial rule is kept)
by :func:`properspin.converge`.  The docs quoted the 24 × 24 values as limits.

Full mode: R = 0.5 Å⁻¹, m̂ = x and z, rtol 1e-3, 3.5e6 k-points each (the CPU this audit had); each part is
printed with its sequence of values (ntheta = nphi = 24, 36, 54, 81, ...).

Usage: ``python benchmarks/audit_bi2se3.py [--quick]`` (quick: nk = 40, m̂ = x, rtol 2e-2, 2e5 k-points).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import properspin as ps
from properspin import mesh, responses
from properspin.models import topological_insulator

sys.path.insert(0, str(Path(__file__).resolve().parent))
SEL = {"spin": "y", "current": "z", "field": "x"}


def parts(radius: float, regulator: tuple[int, int, int], rtol: float, budget: int, nk: int | None = None
          ) -> list[str]:
    model = topological_insulator(magnetization=(0.0, 0.0, 0.0))
    resp = responses.get("proper_spin", degenerate="regulated_limit", regulator=regulator)
    start = mesh.sphere(radius, nk or round(240 * radius), 24, 24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.NotConvergedWarning)
        res = ps.converge(model, resp, fermi=0.1, mesh=start, rtol=rtol, refine=("ntheta", "nphi"), select=SEL,
                          budget=budget, progress=False,
                          engine=ps.Engine(workers=1))
    z = res.sel(**SEL)
    dim = [d for d in z.value.dims if d != "fermi"][0]
    out = []
    for j, name in enumerate(z[dim].values):
        v, e = float(z.value[0, j]), float(z.error[0, j])
        last = float(z.sequence[-1, 0, j])
        seq = ", ".join(f"{x:.2f}" for x in z.sequence[:, 0, j].values)
        out.append((f"{name} {v:.2f} ± {e:.1g}" if z.converged[0, j] else f"{name} not converged (last {last:.2f})")
                   + f" [{seq}]")
    n = [m.get("ntheta") for m in json.loads(res.attrs["converge_meshes"]) if "ntheta" in m]
    out.append(f"ntheta = nphi: {n}")
    return out


def lattice_gap(model: ps.Model) -> tuple[float, float]:
    """(gap, random-sample gap) of a half-filled lattice model: band extrema refined by Nelder–Mead from the 5
    best of 40000 random k-points (the sample alone, as bench_conserved_definition's mid_gap, overestimates it)."""
    from scipy.optimize import minimize

    nb = model.nbands // 2
    k = np.random.default_rng(0).random((40000, model.dim)) @ model.reciprocal
    e = model.energies(k)
    sample = float(e[:, nb].min() - e[:, nb - 1].max())
    top = max(-minimize(lambda q: -model.energies(q[None])[0, nb - 1], k[i], method="Nelder-Mead",
                        options={"xatol": 1e-8, "fatol": 1e-10}).fun for i in np.argsort(-e[:, nb - 1])[:5])
    bottom = min(minimize(lambda q: model.energies(q[None])[0, nb], k[i], method="Nelder-Mead",
                          options={"xatol": 1e-8, "fatol": 1e-10}).fun for i in np.argsort(e[:, nb])[:5])
    return float(bottom - top), sample


def main(quick: bool) -> None:
    rtol, budget = (2e-2, 200_000) if quick else (1e-3, 3_500_000)
    cases = [(0.5, (1, 0, 0))] if quick else [(0.5, (1, 0, 0)), (0.5, (0, 0, 1))]
    print(f"# audit_bi2se3 ({'quick' if quick else 'full'}: rtol {rtol:g}); σ^y_zx (ħ/2e) S/m at E_F = 0.1 eV")
    from bench_conserved_definition import bi2se3_lattice

    from properspin.models.topological_insulator import topological_insulator_lattice

    for label, lat in (("benchmark completion (tetragonal, c = 9.55 Å)", bi2se3_lattice()),
                       ("topological_insulator_lattice() (hexagonal, c = 3 Å)", topological_insulator_lattice())):
        gap, sample = lattice_gap(lat)
        print(f"lattice {label}: bulk gap {1e3 * gap:.1f} meV (40000 random k alone: {1e3 * sample:.1f} meV)")
    for radius, reg in cases:
        t = time.perf_counter()
        text = "; ".join(parts(radius, reg, rtol, budget, nk=40 if quick else None))
        print(f"R = {radius} Å⁻¹, m̂ = {reg}: {text}  [{time.perf_counter() - t:.0f} s]", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one case, coarse (CI)")
    main(p.parse_args().quick)
    from peer import peak_rss_line

    print(peak_rss_line())
