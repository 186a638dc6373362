"""Tables of docs/physics.md "Metals: the definition with Fermi-surface terms": σ^z_yx (e/8π) of Eq. (2), the
conventional current, the torque dipole and the conserved current (both routes) for lattice Rashba, continuum
Rashba and the paper's hole quantum well at its Fig. 2 Fermi energies, on two meshes and two temperatures each
(k_BT is the width of the Fermi-surface δ).  Usage: ``python benchmarks/metal_definition_tables.py [part]`` with
part in ``rashba``, ``holes``, ``trend`` (default: all).  Minutes on one core.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

import properspin as ps
from properspin import mesh, models
from properspin.paper.reproduce import HOLE_FERMI

ROWS = ("proper_spin", "conventional_spin", "torque_dipole_metal", "conserved_spin_metal",
        "conserved_spin_streda_metal")


def _zyx(model, name, fermi, grid, temperature):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ps.conductivity(model, name, fermi=fermi, mesh=grid, temperature=temperature)
    return r.sel(spin="z", current="y", field="x").values


def _table(title, model, fermi, runs):
    print(f"\n{title}: E_F = {fermi} eV")
    for label, grid, temperature in runs:
        t0 = time.perf_counter()
        vals = {name: _zyx(model, name, fermi, grid, temperature) for name in ROWS}
        print(f"  {label}, T = {temperature} K ({time.perf_counter() - t0:.0f} s)")
        for name, v in vals.items():
            print(f"    {name:28s} " + " ".join(f"{x:+.5f}" for x in v))


def rashba() -> None:
    from tests.test_conserved_metal import lattice_rashba

    _table("lattice Rashba t = 1 eV, α = 0.4 eV, s = σ/2", lattice_rashba(), [0.3, 1.5, 3.0],
           [("grid 96²", mesh.grid(96), 1160), ("grid 192²", mesh.grid(192), 1160), ("grid 192²", mesh.grid(192), 580)])
    _table("continuum Rashba α = 1 eV·Å, m = 0.5 m_e", models.rashba(1.0, 0.5), [-0.02, 0.0, 0.05, 0.2],
           [("disk 0.3 Å⁻¹ 750×16", mesh.disk(0.3, 750, 16), 46),
            ("disk 0.3 Å⁻¹ 1500×16", mesh.disk(0.3, 1500, 16), 23),
            ("disk 0.3 Å⁻¹ 3000×16", mesh.disk(0.3, 3000, 16), 12)])


def holes() -> None:
    for material, ef in HOLE_FERMI.items():
        model = models.hole_quantum_well(material, luttinger="paper")
        _table(f"hole quantum well {material} (paper's two-function model and Luttinger parameters, 25 nm, "
               "F = 1e6 V/m, m_z = 1 meV)", model, [ef],
               [("disk 0.15 Å⁻¹ 200×32", mesh.disk(0.15, 200, 32), 30),
                ("disk 0.15 Å⁻¹ 400×32", mesh.disk(0.15, 400, 32), 15)])


def trend() -> None:
    """Zhang et al. (cond-mat/0701293): the torque dipole opposes the conventional part as the Rashba (gate) field
    grows and can reverse the total; GaAs well at E_F = 15 meV."""
    print("\nGaAs hole well, E_F = 0.015 eV, disk 0.15 Å⁻¹ 300×32, T = 20 K: gate field (V/m), conventional, "
          "torque dipole, conserved (route 1), Eq. (2)")
    for field in (2e5, 5e5, 1e6, 2e6, 4e6):
        model = models.hole_quantum_well("GaAs", field=field, luttinger="paper")
        v = [_zyx(model, n, [0.015], mesh.disk(0.15, 300, 32), 20)[0]
             for n in ("conventional_spin", "torque_dipole_metal", "conserved_spin_metal", "proper_spin")]
        print(f"  {field:8.1e} " + " ".join(f"{x:+.4f}" for x in v))


if __name__ == "__main__":
    parts = sys.argv[1:] or ["rashba", "holes", "trend"]
    np.set_printoptions(precision=5)
    for part in parts:
        {"rashba": rashba, "holes": holes, "trend": trend}[part]()
    from peer import peak_rss_line

    print(peak_rss_line())
