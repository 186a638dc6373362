"""fcc Pt and bcc Fe: Eq. (2) (block trace), the conventional and the definition's (Shi's conserved) σ^z_xy in
(ħ/e) S/cm on the point-orbital approximation of their Wannier models (models.point_orbital_approximation).

Usage: ``python benchmarks/metal_definition_wannier.py [pt|fe|full] [--grids 16 24 32] [--temps 1160 580]
[--quick]``.  ``pt``: Pt native run (E_F from Pt.win), full grid (the approximated model fails the m-3m1' check at
symmetry_tol 0.5: integrand 0.97 relative, the merged centres move by up to 0.1 Å), degeneracy_tol 0.05 eV;
route 1 only (route 2 is written for non-degenerate bands, Pt's are Kramers pairs).
``fe``: Fe_tb.dat (1_orb ⊗ σ/2 interleaved), E_F for 8 electrons on 40³ at T = 0, wedge of 4/mm'm' (m ∥ z),
both routes and the symmetric (Drude) weight.  ``full``: Eq. (2) of Pt on the full and the approximated model.
``--quick``: Fe on 4³ at one temperature (seconds; run by the tests).  Rows: grid, T (K), k_BT (eV), values, s.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import properspin as ps
from properspin import filling, mesh, models, symmetry

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TO_HBAR_E_S_CM = 0.5 / 100  # (ħ/2e) S/m → (ħ/e) S/cm
K_B = 8.617333262e-5  # eV/K
WORKERS = 1  # --workers
ROUTE1 = ("proper_spin", "conventional_spin", "conserved_spin_metal")


def pt() -> tuple[ps.Model, float, object, dict]:
    full = models.wannier90_run(DATA / "wannier90" / "Pt" / "Pt")
    fermi = float(full.info["postw90"]["fermi_energies"][0])
    return full, fermi, None, {}


def fe() -> tuple[ps.Model, float, object, dict]:
    full = models.wannier90(DATA / "Fe_tb.dat", spinor_order="interleaved", use_position=True)
    fermi = filling.fermi_level(full, 8.0, mesh.grid(40))
    lattice = 2 * np.pi * np.linalg.inv(full.reciprocal).T
    structure = symmetry.Structure(lattice, [[0, 0, 0]], ["Fe"], magnetization=[0, 0, 1])
    return full, fermi, structure, {}


def sigma(model: ps.Model, name: str, fermi: float, grid, temperature: float, tol: float) -> tuple[float, dict]:
    """σ^z_xy in (ħ/e) S/cm and the result's attrs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ps.conductivity(model, name, fermi=[fermi], mesh=grid, temperature=temperature, degeneracy_tol=tol,
                            engine=ps.Engine(workers=WORKERS))
    assert r.attrs["units"] == "(hbar/2e) S/m"
    return float(r.sel(spin="z", current="x", field="y").values[0]) * TO_HBAR_E_S_CM, dict(r.attrs)


def table(label: str, model: ps.Model, fermi: float, sym, sym_kw: dict, names, grids, temps, tol: float) -> None:
    print(f"\n{label}: E_F = {fermi:.4f} eV, degeneracy_tol = {tol} eV; σ^z_xy ((ħ/e) S/cm): " + ", ".join(names))
    for n in grids:
        grid = mesh.grid(n, symmetry=sym, **sym_kw) if sym is not None else mesh.grid(n)
        for t in temps:
            t0 = time.perf_counter()
            vals, attrs = zip(*(sigma(model, name, fermi, grid, t, tol) for name in names), strict=True)
            drude = attrs[names.index("conserved_spin_metal")].get("drude_weight_max", 0.0)
            print(f"  {n:3d}³ ({attrs[0].get('mesh_size')} k) T = {t:6.0f} K (k_BT = {K_B * t:.3f} eV): "
                  + "  ".join(f"{v:+10.1f}" for v in vals)
                  + f"  ({time.perf_counter() - t0:.0f} s) Drude weight max {drude:.3g}", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("part", nargs="?", default="fe", choices=("pt", "fe", "full"))
    p.add_argument("--grids", type=int, nargs="+", default=[16, 24, 32])
    p.add_argument("--temps", type=float, nargs="+", default=[1160.0, 580.0])
    p.add_argument("--centre-tol", type=float, default=None,
                   help="Å; default: 2.0 for Pt (one site at the atom: the truncated spin keeps time reversal), "
                        "0.3 for Fe (spinor partners merged)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1: a shared machine)")
    p.add_argument("--quick", action="store_true", help="Fe on 4³, one temperature (seconds)")
    a = p.parse_args(argv)
    global WORKERS
    WORKERS = a.workers
    if a.quick:
        a.part, a.grids, a.temps = "fe", [4], [1160.0]
    full, fermi, sym, sym_kw = pt() if a.part in ("pt", "full") else fe()
    centre_tol = a.centre_tol if a.centre_tol is not None else (2.0 if a.part in ("pt", "full") else 0.3)
    approx = models.point_orbital_approximation(full, centre_tol=centre_tol)
    print(f"{approx.name}: point_orbital_approximation = {approx.info['point_orbital_approximation']}")
    tol = 0.05 if a.part in ("pt", "full") else 1e-6
    if a.part == "full":
        for n in a.grids:
            vals = [sigma(m, "proper_spin", fermi, mesh.grid(n), a.temps[0], tol)[0] for m in (full, approx)]
            print(f"  Eq. (2) {n}³ T = {a.temps[0]:.0f} K: full model {vals[0]:+.1f}, point orbitals {vals[1]:+.1f}")
        return
    names = ROUTE1 + (("conserved_spin_streda_metal",) if a.part == "fe" else ())
    table(approx.name, approx, fermi, sym, sym_kw, names, a.grids, a.temps, tol)


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
