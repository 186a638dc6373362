"""Physical constants and the unit conversions of conventions §2.

Every response is accumulated as a plain integral ``I = Σ_m ∫ d^dk/(2π)^d f_m Q_m`` with k in Å⁻¹
(or 1/a) and spin in units of ħ; the functions here turn I into the published units.
"""

from __future__ import annotations

import math

from scipy import constants as _c

E_CHARGE = _c.e  # C
HBAR = _c.hbar  # J s
K_B_EV = _c.k / _c.e  # eV / K
HBAR2_OVER_2M0 = _c.hbar**2 / (2 * _c.m_e) / _c.e * 1e20  # eV Å²
E2_OVER_HBAR = _c.e**2 / _c.hbar  # S
ANGSTROM = 1e-10  # m

#: Unit strings of each (response kind, dimension).
UNITS = {
    ("spin", 2): "e/8pi",
    ("charge", 2): "e^2/h",
    ("spin", 3): "(hbar/2e) S/m",
    ("charge", 3): "S/m",
}

#: 3D units of each family and their size relative to the family's native unit (value_native × scale = value).
#: Spin conductivities: properspin's native (ħ/2e) S/m; Wannier codes (postw90, WannierBerri) print (ħ/e) S/cm.
UNIT_SCALES = {
    "(hbar/2e) S/m": {"(hbar/2e) S/m": 1.0, "(hbar/2e) S/cm": 1e-2, "(hbar/e) S/m": 0.5, "(hbar/e) S/cm": 0.5e-2},
    "S/m": {"S/m": 1.0, "S/cm": 1e-2},
}

#: Alternative 3D units offered by :func:`convert`, from each native unit.
ALTERNATIVE_UNITS = {native: {u: f for u, f in table.items() if u != native} for native, table in UNIT_SCALES.items()}


def spin_factor(dim: int) -> float:
    """σ[unit] per unit of I (spin in ħ units): 3D 2(e²/ħ)·1e10 per Å⁻¹; 2D 8π (units of e/8π)."""
    if dim == 3:
        return 2 * E2_OVER_HBAR / ANGSTROM
    if dim == 2:
        return 8 * math.pi
    raise ValueError(f"spin conductivity is defined for dim 2 or 3, not {dim}")


def charge_factor(dim: int) -> float:
    """σ[unit] per unit of I_charge = ∫ f Q with Q = −Ω (charge −e): 3D (e²/ħ)/Å in S/m; 2D 2π in e²/h."""
    if dim == 3:
        return E2_OVER_HBAR / ANGSTROM
    if dim == 2:
        return 2 * math.pi
    raise ValueError(f"charge conductivity is defined for dim 2 or 3, not {dim}")


def conversion_factor(unit: str, to: str) -> float:
    """Factor turning a value in ``unit`` into ``to`` (both 3D units of the same family in :data:`UNIT_SCALES`)."""
    if unit == to:
        return 1.0
    for table in UNIT_SCALES.values():
        if unit in table and to in table:
            return table[to] / table[unit]
    known = "; ".join(", ".join(table) for table in UNIT_SCALES.values())
    raise ValueError(f"cannot convert {unit!r} to {to!r} (3D units: {known})")


def convert(values, unit: str, to: str):
    """Convert a number or array from ``unit`` to ``to`` (the 3D units of :data:`UNIT_SCALES`)."""
    return values if unit == to else values * conversion_factor(unit, to)
