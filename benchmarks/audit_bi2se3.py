"""Audit of the continuum Bi2Se3 in-gap numbers (docs/physics.md table, conventions §3), issue 22: σ^y_zx at
E_F = 0.1 eV, (ħ/2e) S/m, regulated-limit parts of Eq. (2) (block trace, Π(m̂), X(m̂)) for m̂ = x, y, z, on
``sphere(R, 240 R, 24, 24)`` refined in the angles (``ntheta``, ``nphi`` × 1.5 per step; the radial rule is kept)
by :func:`properspin.converge`.  The docs quoted the 24 × 24 values as limits.

Usage: ``python benchmarks/audit_bi2se3.py [--quick]`` (quick: R = 0.5, m̂ = x, rtol 2e-2).
"""

from __future__ import annotations

import argparse
import time
import warnings

import properspin as ps
from properspin import mesh, responses
from properspin.models import topological_insulator

SEL = {"spin": "y", "current": "z", "field": "x"}


def parts(radius: float, regulator: tuple[int, int, int], rtol: float, nk: int | None = None) -> list[str]:
    model = topological_insulator(magnetization=(0.0, 0.0, 0.0))
    resp = responses.get("proper_spin", degenerate="regulated_limit", regulator=regulator)
    start = mesh.sphere(radius, nk or round(240 * radius), 24, 24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.NotConvergedWarning)
        res = ps.converge(model, resp, fermi=0.1, mesh=start, rtol=rtol, refine=("ntheta", "nphi"), select=SEL,
                          budget=20_000_000, progress=False,
                          engine=ps.Engine(workers=1))
    z = res.sel(**SEL)
    dim = [d for d in z.value.dims if d != "fermi"][0]
    out = []
    for j, name in enumerate(z[dim].values):
        v, e = float(z.value[0, j]), float(z.error[0, j])
        last = float(z.sequence[-1, 0, j])
        out.append(f"{name} {v:.1f} ± {e:.1g}" if z.converged[0, j] else f"{name} not converged (last {last:.1f})")
    n = [m.get("mesh_ntheta") for m in __import__("json").loads(res.attrs["converge_meshes"]) if "mesh_ntheta" in m]
    out.append(f"ntheta = nphi: {n}")
    return out


def main(quick: bool) -> None:
    rtol = 2e-2 if quick else 1e-3
    cases = [(0.5, (1, 0, 0))] if quick else [(r, d) for r in (0.5, 2.0) for d in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
    print(f"# audit_bi2se3 ({'quick' if quick else 'full'}: rtol {rtol:g}); σ^y_zx (ħ/2e) S/m at E_F = 0.1 eV")
    for radius, reg in cases:
        t = time.perf_counter()
        text = "; ".join(parts(radius, reg, rtol, nk=40 if quick else None))
        print(f"R = {radius} Å⁻¹, m̂ = {reg}: {text}  [{time.perf_counter() - t:.0f} s]", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one case, coarse (CI)")
    main(p.parse_args().quick)
