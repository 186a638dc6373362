"""The Luttinger Hamiltonian of a hole quantum well and its Bastard-function matrix elements, Eqs. (11)–(12)
of Liu, Cullen & Culcer (2023), conventions §5.2: the physics shared by :mod:`.hole_gas` (the paper's 4×4
model) and :mod:`.hole_subbands` (the subband expansion).  Sign and basis conventions: see :mod:`.hole_gas`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import constants

Array = np.ndarray

#: ħ²/2m0 in eV·Å² (= 3.80998...).
HBAR2_2M0: float = constants.hbar**2 / (2 * constants.m_e) / constants.e * 1e20

#: Luttinger parameters (γ1, γ2, γ3): R. Winkler, "Spin–Orbit Coupling Effects in Two-Dimensional
#: Electron and Hole Systems" (Springer 2003), band-parameter tables (the paper's Ref. [132]).
#: Ge uses (13.38, 4.24, 5.69) (conventions decision; the paper prints γ2, γ3 = 5.24, 4.69).
LUTTINGER: dict[str, tuple[float, float, float]] = {
    "GaAs": (6.85, 2.10, 2.90),
    "InAs": (20.40, 8.30, 9.10),
    "InSb": (37.10, 16.50, 17.70),
    "Ge": (13.38, 4.24, 5.69),
}

#: The paper's printed Table I (Appendix D): identical except Ge, where γ2 and γ3 read 5.24, 4.69.
LUTTINGER_PAPER: dict[str, tuple[float, float, float]] = {
    "GaAs": (6.85, 2.10, 2.90),
    "InAs": (20.40, 8.30, 9.10),
    "InSb": (37.10, 16.50, 17.70),
    "Ge": (13.38, 5.24, 4.69),
}

SPIN_OPTIONS = ("hbar_J", "hbar_J_over_3")
MAGNETIZATION_FORMS = ("projected", "J", "none")
METHODS = ("bastard", "subbands", "full")

#: Default barrier height (eV) of the confinement check: a typical valence-band offset of the barrier
#: material (GaAs/Al0.3Ga0.7As ≈ 0.15–0.2 eV).  ``math.inf`` declares ideal hard walls.
DEFAULT_BARRIER: float = 0.2

#: Default basis sizes of ``method="subbands"`` / ``"full"`` (converged for the paper's wells, see
#: docs/tutorial-hole-gas.md).
DEFAULT_NBASIS: int = 40
DEFAULT_NSUB: int = 8


def spin32_matrices() -> Array:
    """(J_x, J_y, J_z) for j = 3/2 in the basis {+3/2, −3/2, +1/2, −1/2} (Condon–Shortley phases).

    Shape ``(3, 4, 4)``; J_z = diag(3/2, −3/2, 1/2, −1/2) and [J_x, J_y] = i J_z.
    """
    ms = (1.5, -1.5, 0.5, -0.5)
    jp = np.zeros((4, 4), dtype=complex)  # J₊|m> = √(j(j+1) − m(m+1)) |m+1>
    for col, m in enumerate(ms):
        if m + 1 in ms:
            jp[ms.index(m + 1), col] = math.sqrt(15 / 4 - m * (m + 1))
    jm = jp.conj().T
    return np.stack([(jp + jm) / 2, (jp - jm) / 2j, np.diag(ms).astype(complex)])


_J = spin32_matrices()


# ---------------------------------------------------------------------------- Bastard functions
def _log_shape(sigma: float) -> float:
    """log of (1 − e^{−σ})/σ, stable for all real σ (limit 0 at σ = 0)."""
    if sigma == 0.0:
        return 0.0
    if sigma > 0:
        return math.log(-math.expm1(-sigma)) - math.log(sigma)
    s = -sigma
    return s + math.log(-math.expm1(-s)) - math.log(s)


def _log_integral(sigma: float) -> float:
    """log I(σ), I(σ) = ∫_0^1 sin²(πu) e^{−σu} du = 2π²(1 − e^{−σ}) / [σ(σ² + 4π²)]."""
    return math.log(2 * math.pi**2) + _log_shape(sigma) - math.log(sigma**2 + 4 * math.pi**2)


def _z_factor(sigma: float) -> float:
    """<z>/(d<a|b>) = (3σ² + 4π²)/(σ(σ² + 4π²)) − 1/(e^σ − 1) − ½, series near σ = 0.

    Uses (3σ² + 4π²)/(σ(σ² + 4π²)) = 1/σ + 2σ/(σ² + 4π²).
    """
    if abs(sigma) < 1e-2:
        return sigma * (1 / (2 * math.pi**2) - 1 / 12) + sigma**3 * (1 / 720 - 1 / (8 * math.pi**4))
    bose = math.exp(-sigma) / -math.expm1(-sigma) if sigma > 0 else 1 / math.expm1(sigma)  # 1/(e^σ − 1)
    return 1 / sigma + 2 * sigma / (sigma**2 + 4 * math.pi**2) - bose - 0.5


def _z_factor_derivative(sigma: float) -> float:
    """d/dσ of :func:`_z_factor`: −1/σ² + 1/(4 sinh²(σ/2)) + 2(4π² − σ²)/(σ² + 4π²)²."""
    if abs(sigma) < 1e-2:
        return (1 / (2 * math.pi**2) - 1 / 12) + 3 * sigma**2 * (1 / 720 - 1 / (8 * math.pi**4))
    a = abs(sigma)
    return (-1 / sigma**2 + math.exp(-a) / math.expm1(-a) ** 2
            + 2 * (4 * math.pi**2 - sigma**2) / (sigma**2 + 4 * math.pi**2) ** 2)


def bastard_matrix_elements(beta_a: float, beta_b: float, d: float) -> dict[str, Any]:
    """Closed-form matrix elements between Bastard functions φ_a, φ_b (conventions §5.2, corrected Eq. 12).

    φ_v(z) = N_v sin[π(z + d/2)/d] exp[−β_v(z/d + ½)] on −d/2 < z < d/2.  With σ = β_a + β_b and
    I(σ) = 2π²(1 − e^{−σ})/[σ(σ² + 4π²)]:

    * ``norm2_a``, ``norm2_b``: N² = 4β(β² + π²)/[π² d (1 − e^{−2β})] = 1/(d I(2β))   [1/length]
    * ``overlap``: <a|b> = N_a N_b d I(σ)
    * ``kz``: <a|k_z|b> = −(i/2d)(β_a − β_b)<a|b>, k_z = −i d/dz   [1/length]
    * ``kz2``: <a|k_z²|b> = (π² + β_a β_b)/d² <a|b>   [1/length²]
    * ``z``: <a|z|b> = d<a|b>[(3σ² + 4π²)/(σ(σ² + 4π²)) − 1/(e^σ − 1) − ½]   [length]

    ``d`` in any length unit; the results are in the same unit.
    """
    beta_a, beta_b, d = float(beta_a), float(beta_b), float(d)
    if not (math.isfinite(beta_a) and math.isfinite(beta_b) and math.isfinite(d)) or d <= 0:
        raise ValueError(f"need finite β and d > 0, got β=({beta_a}, {beta_b}), d={d}")
    sigma = beta_a + beta_b
    log_ia, log_ib = _log_integral(2 * beta_a), _log_integral(2 * beta_b)
    overlap = math.exp(_log_integral(sigma) - 0.5 * (log_ia + log_ib))
    return {
        "norm2_a": math.exp(-log_ia) / d,
        "norm2_b": math.exp(-log_ib) / d,
        "overlap": overlap,
        "kz": -0.5j * (beta_a - beta_b) / d * overlap,
        "kz2": (math.pi**2 + beta_a * beta_b) / d**2 * overlap,
        "z": d * overlap * _z_factor(sigma),
    }


def _subband_energy(beta: float, gamma: float, d: float, field: float) -> float:
    """<v|s γ_v k_z² + V|v> = (s γ_v / d²)(π² + β²) − e F_z <z> (eV; d in Å, field in V/Å)."""
    return HBAR2_2M0 * gamma / d**2 * (math.pi**2 + beta**2) - field * d * _z_factor(2 * beta)


def _subband_slope(beta: float, gamma: float, d: float, field: float) -> float:
    """d/dβ of :func:`_subband_energy`."""
    return 2 * HBAR2_2M0 * gamma / d**2 * beta - 2 * field * d * _z_factor_derivative(2 * beta)


def optimal_beta(gamma: float, d: float, field: float, bound: float = 300.0) -> float:
    """β_v minimising (ħ²γ_v/2m0 d²)(π² + β²) + <V>_v (d in Å, field in V/Å).

    Bounded Brent search on the energy, then polished to round-off by a root of its β-derivative
    (so that F_z → −F_z gives β → −β and F_z = 0 gives β = 0 to machine precision).
    """
    if gamma <= 0:
        raise ValueError(f"γ_v = {gamma} ≤ 0: the subband kinetic energy is not positive")
    from scipy.optimize import brentq, minimize_scalar  # deferred: keeps `import properspin` fast

    res = minimize_scalar(
        _subband_energy, bounds=(-bound, bound), args=(gamma, d, field), method="bounded",
        options={"xatol": 1e-10},
    )
    if not res.success or abs(abs(res.x) - bound) < 1e-3:
        raise ValueError(f"β minimisation failed (β = {res.x}); field too strong for d = {d} Å?")
    x0, args = float(res.x), (gamma, d, field)
    lo, hi = x0 - 1e-6 * (1 + abs(x0)), x0 + 1e-6 * (1 + abs(x0))
    if _subband_slope(lo, *args) < 0 < _subband_slope(hi, *args):
        return float(brentq(_subband_slope, lo, hi, args=args, xtol=1e-300, rtol=4 * np.finfo(float).eps))
    return x0


# ---------------------------------------------------------------------------- Luttinger matrix
def _luttinger(kx: Array, ky: Array, gammas: tuple[float, float, float], kz_h2: Any, kz_l2: Any,
               kz_hl: Any, overlap: float, l_factor: float = 1.0) -> Array:
    """Eq. (11) with k_z² → <v|k_z²|v> on the diagonal, k_z → <h|k_z|l> in L, M → M <h|l>."""
    g1, g2, g3 = gammas
    s = HBAR2_2M0
    kx, ky = np.asarray(kx, dtype=float), np.asarray(ky, dtype=float)
    k2 = kx**2 + ky**2
    km, kp = kx - 1j * ky, kx + 1j * ky
    out = np.zeros(np.broadcast(kx, ky, kz_hl).shape + (4, 4), dtype=complex)
    hh = s * ((g1 + g2) * k2 + (g1 - 2 * g2) * kz_h2)   # P + Q
    lh = s * ((g1 - g2) * k2 + (g1 + 2 * g2) * kz_l2)   # P − Q
    c_l = -math.sqrt(3) * 2 * s * g3 * l_factor          # L = c_l k₋ k_z
    el = c_l * km * kz_hl                                # <+3/2|L|+1/2>
    el13 = -c_l * kp * kz_hl                             # <−3/2|−L*|−1/2>  (−L† = −c_l k₊ k_z)
    gbar, delta = (g2 + g3) / 2, (g2 - g3) / 2
    em = -math.sqrt(3) * s * (gbar * km**2 + delta * kp**2) * overlap       # M
    emc = -math.sqrt(3) * s * (gbar * kp**2 + delta * km**2) * overlap      # M* (operator M†)
    out[..., 0, 0] = out[..., 1, 1] = hh
    out[..., 2, 2] = out[..., 3, 3] = lh
    out[..., 0, 2], out[..., 1, 3], out[..., 0, 3], out[..., 1, 2] = el, el13, em, emc
    return out + np.conj(np.swapaxes(np.triu(out, 1), -1, -2))


def luttinger_bulk(kx: Any, ky: Any, kz: Any, gammas: tuple[float, float, float], *,
                   printed_l: bool = False) -> Array:
    """Bulk Luttinger matrix of Eq. (11), k_z a number (Å⁻¹), shape ``(..., 4, 4)`` in eV.

    ``printed_l=True`` uses the paper's printed L (ħ²/2m0 instead of ħ²/m0), which is *not*
    equivalent to the invariant Luttinger Hamiltonian; kept for the record and the tests.
    """
    kz = np.asarray(kz, dtype=float)
    return _luttinger(kx, ky, tuple(gammas), kz**2, kz**2, kz, 1.0, 0.5 if printed_l else 1.0)


# ---------------------------------------------------------------------------- the model
def check_confinement(lowest: float, energy_max: float | None, barrier: float, d: float, f: float) -> dict:
    """Refuse a well that does not bind a hole at the checked energy; return the numbers (eV).

    The hard walls stand for barriers of height ``barrier`` above the well edge; in the field the barrier
    top on the low-potential side is at barrier − |f| d/2 (f = eF_z in eV/Å, d in Å, energies from the
    well centre).  A hole above it is not bound (it leaves over, or tunnels through, the tilted barrier).
    Checked energy: ``energy_max`` if given, else the lowest subband edge ``lowest``.
    """
    top = barrier - abs(f) * d / 2
    energy = lowest if energy_max is None else energy_max
    if energy >= top:
        what = "the lowest subband edge" if energy_max is None else "energy_max"
        raise ValueError(
            f"unconfined well: {what} {1e3 * energy:.1f} meV lies above the barrier top barrier − e|F_z|d/2 = "
            f"{1e3 * barrier:.1f} − {1e3 * abs(f) * d / 2:.1f} = {1e3 * top:.1f} meV on the low-potential side "
            f"(F_z = {1e10 * f:.3g} V/m, d = {d / 10:.3g} nm); lower the field or energy, or raise barrier"
        )
    return {"barrier_eV": barrier, "barrier_top_eV": top, "checked_energy_eV": energy,
            "criterion": "E < barrier - e|F_z|d/2 (E from the well centre)"}


def fermi_limit(confinement: dict, top_subband: float | None = None) -> dict:
    """``info["fermi_limit"]`` of a well (checked against every Fermi energy by the calculations): the barrier top,
    or the highest kept subband edge when that is lower."""
    top = confinement["barrier_top_eV"]
    if top_subband is not None and top_subband < top:
        return {"energy_eV": float(top_subband), "reason": "the highest kept subband edge (raise nsub)"}
    return {"energy_eV": float(top), "reason": "the barrier top barrier − e|F_z|d/2 (unconfined above it)"}


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _gammas(material: str, luttinger: Any) -> tuple[str, tuple[float, float, float], str]:
    name = next((n for n in LUTTINGER if n.lower() == str(material).lower()), None)
    if luttinger is None or isinstance(luttinger, str):
        if name is None:
            raise ValueError(f"unknown material {material!r}; known: {', '.join(LUTTINGER)}")
        if luttinger is None:
            return name, LUTTINGER[name], "Winkler (2003)"
        if luttinger != "paper":
            raise ValueError(f"luttinger must be None, 'paper' or (γ1, γ2, γ3), got {luttinger!r}")
        return name, LUTTINGER_PAPER[name], "paper Table I (Appendix D)"
    g = tuple(_finite("Luttinger parameter", x) for x in luttinger)
    if len(g) != 3:
        raise ValueError(f"luttinger must have three values (γ1, γ2, γ3), got {luttinger!r}")
    if g[0] - 2 * abs(g[1]) <= 0:
        raise ValueError(f"need γ1 > 2|γ2| (positive HH and LH masses), got {g}")
    return (name or str(material)), g, "user"
