"""The response stage: what each response accumulates per band, its labelled components and unit.

Each response maps a :class:`~properspin.geometry.BandGeometry` to per-band values ``Q`` with shape
``(*components, N, n)`` such that the response is ``σ = factor · Σ_k w_k Σ_m f(ε_mk) Q_mk``.

=====================  ==========================================================  =========================
response               per-band quantity                                           components
=====================  ==========================================================  =========================
``proper_spin``        ``ε_ijc Σ^{c,l}_m`` — Eq. (1)/(C25), Σ of Eq. (2)           spin, current, field
``conventional_spin``  ``Tr(½{s^l, v_i} ρ_E)`` — Kubo spin Hall                   spin, current, field
``torque_dipole``      proper − conventional                                       spin, current, field
``charge``             ``−ε_ijc Ω^c_m`` — anomalous Hall (s_nn → −e)               current, field
``appendix_c``         (C6), (C7), (C11), (C24)                                    term, spin, current, field
``torque``             ``Tr(t^l ρ_E)``, the torque density (SPEC §6)               spin, field
=====================  ==========================================================  =========================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import geometry as geo
from . import units

SPIN_LABELS = ("x", "y", "z")
APPENDIX_C_TERMS = ("C6", "C7", "C11", "C24")


@dataclass(frozen=True)
class Response:
    """A response: its per-band formula, component dimensions and unit."""

    name: str
    kind: str  # "spin", "charge" or "torque"
    dims: tuple[str, ...]
    formula: Callable[[geo.BandGeometry, float], np.ndarray]
    uses_broadening: bool = False
    description: str = ""

    def coords(self, dim: int) -> dict[str, tuple[str, ...]]:
        labels = {"spin": SPIN_LABELS, "current": SPIN_LABELS[:dim], "field": SPIN_LABELS[:dim],
                  "term": APPENDIX_C_TERMS}
        return {d: labels[d] for d in self.dims}

    def factor(self, dim: int) -> float:
        if self.kind == "spin":
            return units.spin_factor(dim)
        if self.kind == "charge":
            return units.charge_factor(dim)
        return units.E_CHARGE / units.ANGSTROM ** (dim - 1)  # torque: e Å^(1-d) → C m^(1-d)

    def unit(self, dim: int) -> str:
        if self.kind == "torque":
            return "C/m^2" if dim == 3 else "C/m"
        return units.UNITS[(self.kind, dim)]


def _proper(g: geo.BandGeometry, eta: float) -> np.ndarray:
    return geo.levi_civita_contract(geo.proper_spin_curvature(g), g.dim)


def _conventional(g: geo.BandGeometry, eta: float) -> np.ndarray:
    return geo.conventional_spin_curvature(g, eta)


def _torque_dipole(g: geo.BandGeometry, eta: float) -> np.ndarray:
    return _proper(g, eta) - _conventional(g, eta)


def _charge(g: geo.BandGeometry, eta: float) -> np.ndarray:
    return -geo.levi_civita_contract(geo.berry_curvature(g)[:, None], g.dim)[0]


def _appendix_c(g: geo.BandGeometry, eta: float) -> np.ndarray:
    terms = geo.appendix_c_terms(g)
    return np.stack([terms[t] for t in APPENDIX_C_TERMS])


def _torque(g: geo.BandGeometry, eta: float) -> np.ndarray:
    return geo.torque_response(g)


_SPIN_DIMS = ("spin", "current", "field")

RESPONSES: dict[str, Response] = {
    r.name: r
    for r in (
        Response("proper_spin", "spin", _SPIN_DIMS, _proper,
                 description="intrinsic proper (conserved) spin conductivity, Eq. (1)"),
        Response("conventional_spin", "spin", _SPIN_DIMS, _conventional, uses_broadening=True,
                 description="conventional intrinsic (Kubo) spin Hall conductivity, j = ½{s, v}"),
        Response("torque_dipole", "spin", _SPIN_DIMS, _torque_dipole, uses_broadening=True,
                 description="torque-dipole spin conductivity = proper − conventional"),
        Response("charge", "charge", ("current", "field"), _charge,
                 description="intrinsic anomalous Hall conductivity (Berry curvature)"),
        Response("appendix_c", "spin", ("term",) + _SPIN_DIMS, _appendix_c,
                 description="Appendix C terms (C6), (C7), (C11), (C24) as spin conductivities"),
        Response("torque", "torque", ("spin", "field"), _torque,
                 description="spin torque density per unit field, Tr(t^l ρ_E)"),
    )
}


def get(name: str) -> Response:
    """Look up a response by name, with a clear error for unknown names."""
    try:
        return RESPONSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown response {name!r}; choose one of {', '.join(RESPONSES)}") from None
