"""Audit of the 2D lattice numbers quoted in docs/physics.md and docs/conventions.md (issue 22), each with its error
bar from :func:`properspin.converge`.

Prints, σ^z_yx in e/8π at E_F mid-gap, T = 0:

1. Kane–Mele + Rashba (t = 1, λ_SO = 0.15, λ_R = 0.1, λ_v = 0.2): Eq. (2) block trace and exclusion — the
   Γ-centred grids sample the four Kramers-degenerate TRIM (a 1/N² artefact), ``converge`` uses shifted grids.
2. BHZ u = 1 + Rashba λ = 0.05, 0.3 eV: Eq. (2), conventional, torque dipole (C11)+(C24) = proper − conventional.
3. The antiunitary C = σ_x ⊗ τ_z K of ``bhz(u, rashba=λ)`` at fixed k: C H(k) C⁻¹ = H(k), C s^z C⁻¹ = −s^z, so
   Σ^z_mk = 0 for every band and k (Eq. 2 is identically 0, not only as λ → 0⁺).
4. BHZ with the mixing λ(sin k_y σ_x − sin k_x σ_y) ⊗ τ_x, λ = 0.3: s^z is not conserved, yet Eq. (2) (block
   trace) = conventional = the definition (Kubo route).

Usage: ``python benchmarks/audit_lattice.py [--quick]`` (quick: rtol 1e-3, for CI).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

import properspin as ps
from properspin import mesh, models

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_conserved import kane_mele, mid_gap  # noqa: E402  (the test model, same parameters)

ZYX = {"spin": "z", "current": "y", "field": "x"}
SX, SY, SZ = ps.PAULI
TX, TZ = ps.PAULI[0], ps.PAULI[2]


def zyx(model: ps.Model, response, ef: float, rtol: float, n0: int = 12, **kw) -> tuple[float, float]:
    """Converged σ^z_yx (value, error); NaN value when not converged (other components are not asked for)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.DegeneracyWarning)
        warnings.simplefilter("ignore", ps.NotConvergedWarning)
        res = ps.converge(model, response, fermi=ef, mesh=mesh.grid(n0), rtol=rtol, atol=rtol * 1e-2,
                          progress=False, **kw)
    return float(res.value.sel(**ZYX)[0]), float(res.error.sel(**ZYX)[0])


def fmt(pair: tuple[float, float]) -> str:
    return f"{pair[0]:+.6f} ± {pair[1]:.1g}"


def mixing_bhz(u: float, lam: float) -> ps.Model:
    """BHZ u plus λ(sin k_y σ_x − sin k_x σ_y) ⊗ τ_x (basis (orb1↑, orb2↑, orb1↓, orb2↓) = σ ⊗ τ)."""
    base = models.bhz(u)
    rx, ry = lam * np.kron(SX, TX), lam * np.kron(SY, TX)

    def h(k):
        return base.hamiltonian(k) + np.sin(k[:, 1])[:, None, None] * rx - np.sin(k[:, 0])[:, None, None] * ry

    def dh(k):
        out = base.gradient(k).copy()
        out[0] -= np.cos(k[:, 0])[:, None, None] * ry
        out[1] += np.cos(k[:, 1])[:, None, None] * rx
        return out

    return ps.Model(h, dh, base.spin, 2, reciprocal=base.reciprocal, name="bhz_mixing",
                    parameters={"u": u, "mixing_eV": lam})


def c_symmetry(lam: float) -> tuple[float, float]:
    """max ‖C H(k) C⁻¹ − H(k)‖ and ‖C s^z C⁻¹ + s^z‖ for C = (σ_x ⊗ τ_z) K on random k."""
    model = models.bhz(1.0, rashba=lam)
    k = np.random.default_rng(0).uniform(-np.pi, np.pi, (200, 2))
    u = np.kron(SX, TZ)
    h = model.hamiltonian(k)
    ch = u @ np.conj(h) @ u.conj().T
    sz = model.spin[2]
    return float(np.abs(ch - h).max()), float(np.abs(u @ np.conj(sz) @ u.conj().T + sz).max())


def main(quick: bool) -> None:
    rtol = 1e-3 if quick else 1e-6
    km = kane_mele()
    ef = mid_gap(km)[0]
    print(f"# audit_lattice ({'quick' if quick else 'full'}: rtol = {rtol:g}); σ^z_yx in e/8π, E_F mid-gap")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.DegeneracyWarning)
        gamma = float(ps.conductivity(km, "proper_spin", fermi=ef, mesh=mesh.grid(60)).sel(**ZYX)[0])
    print(f"Kane-Mele+Rashba Eq.(2) block trace: {fmt(zyx(km, 'proper_spin', ef, rtol))} "
          f"(Γ-centred 60²: {gamma:.6f})")
    excl = ps.responses.get("proper_spin", degenerate="exclude")
    print(f"Kane-Mele+Rashba Eq.(2) exclude:     {fmt(zyx(km, excl, ef, rtol))}")
    print(f"Kane-Mele+Rashba conventional:       {fmt(zyx(km, 'conventional_spin', ef, rtol))}")
    print(f"Kane-Mele+Rashba torque dipole:      {fmt(zyx(km, 'torque_dipole', ef, rtol))}")
    for lam in (0.05, 0.3):
        model = models.bhz(1.0, rashba=lam)
        parts = [zyx(model, r, 0.0, rtol) for r in ("proper_spin", "conventional_spin", "torque_dipole")]
        print(f"BHZ u=1 Rashba {lam}: Eq.(2) {fmt(parts[0])}; conventional {fmt(parts[1])}; "
              f"torque dipole {fmt(parts[2])}")
        dh, ds = c_symmetry(lam)
        print(f"  C = σx⊗τz K: |C H C⁻¹ − H| = {dh:.1e}, |C s^z C⁻¹ + s^z| = {ds:.1e} (Σ^z ≡ 0)")
    mix = mixing_bhz(1.0, 0.3)
    k = np.random.default_rng(1).uniform(-np.pi, np.pi, (50, 2))
    comm = np.abs(mix.hamiltonian(k) @ mix.spin[2] - mix.spin[2] @ mix.hamiltonian(k)).max()
    parts = [zyx(mix, r, 0.0, rtol) for r in ("proper_spin", "conventional_spin", "conserved_spin_kubo")]
    print(f"BHZ u=1 + λ(sin ky σx − sin kx σy)⊗τx, λ=0.3 (max |[H, s^z]| = {comm:.3f}): Eq.(2) block trace "
          f"{fmt(parts[0])}; conventional {fmt(parts[1])}; definition (Kubo) {fmt(parts[2])}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="rtol 1e-3 (CI)")
    main(p.parse_args().quick)
    from peer import peak_rss_line

    print(peak_rss_line())
