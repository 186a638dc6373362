"""Analytic test models with known Hall responses (conventions §6).

* :func:`qwz` — Qi–Wu–Zhang lattice Chern insulator (charge only, lattice constant a = 1).
* :func:`massive_dirac` — 2D massive Dirac cone (continuum), σ_xy = −sgn(Δ) e²/2h in the gap.
* :func:`rashba` — Rashba 2DEG with optional exchange field (continuum); Sinova's e/8π.
* :func:`bhz` — spin-conserving lattice BHZ quantum spin Hall model: two time-reversed QWZ copies.
"""

from __future__ import annotations

import math

import numpy as np

from ..model import PAULI, SPIN_HALF, Model
from ..units import HBAR2_OVER_2M0

_SX, _SY, _SZ = PAULI
_ID2 = np.eye(2, dtype=complex)


def _finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _pauli_sum(c0, cx, cy, cz) -> np.ndarray:
    """Σ c_i σ_i for arrays of coefficients (N,) → (N, 2, 2)."""
    return (np.multiply.outer(c0, _ID2) + np.multiply.outer(cx, _SX) + np.multiply.outer(cy, _SY)
            + np.multiply.outer(cz, _SZ))


def qwz(u: float) -> Model:
    """Qi–Wu–Zhang model ``H = sin k_x σ_x + sin k_y σ_y + (u + cos k_x + cos k_y) σ_z`` (k in 1/a).

    Lower-band Chern number −1 for 0 < u < 2, +1 for −2 < u < 0, 0 for |u| > 2; σ_xy = −C e²/h.
    Charge-only (no spin operator).
    """
    u = _finite("u", u)

    def h(k):
        kx, ky = k[:, 0], k[:, 1]
        return _pauli_sum(0 * kx, np.sin(kx), np.sin(ky), u + np.cos(kx) + np.cos(ky))

    def dh(k):
        kx, ky = k[:, 0], k[:, 1]
        z = 0 * kx
        return np.stack([_pauli_sum(z, np.cos(kx), z, -np.sin(kx)), _pauli_sum(z, z, np.cos(ky), -np.sin(ky))])

    return Model(h, dh, None, 2, reciprocal=2 * np.pi * np.eye(2), name="qwz", parameters={"u": u},
                 info={"k_units": "1/a", "formula": "sin kx σx + sin ky σy + (u + cos kx + cos ky) σz"})


def massive_dirac(velocity: float, mass: float) -> Model:
    """2D massive Dirac ``H = v (k_x σ_x + k_y σ_y) + Δ σ_z`` (v in eV·Å, Δ in eV), spin s = σ/2.

    σ_xy = −sgn(Δ) e²/2h with E_F in the gap, −(e²/2h) Δ/|E_F| in a band (infinite cutoff).
    """
    v, m = _finite("velocity", velocity), _finite("mass", mass)

    def h(k):
        z = 0 * k[:, 0]
        return _pauli_sum(z, v * k[:, 0], v * k[:, 1], z + m)

    def dh(k):
        n = len(k)
        return np.stack([np.broadcast_to(v * _SX, (n, 2, 2)), np.broadcast_to(v * _SY, (n, 2, 2))]).copy()

    return Model(h, dh, SPIN_HALF, 2, name="massive_dirac", parameters={"velocity_eVA": v, "mass_eV": m},
                 info={"formula": "v (kx σx + ky σy) + Δ σz", "spin": "s = (hbar/2) σ"})


def rashba(alpha: float, mass: float, zeeman: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Model:
    """Rashba 2DEG ``ħ²k²/2m + α(k_y σ_x − k_x σ_y) + m·σ`` (α eV·Å, mass in m_e, zeeman eV), s = σ/2.

    Conventional σ^z_yx = +e/8π with both subbands occupied (Sinova et al. 2004); proper σ^z_yx → −e/8π
    (both occupied) and → 0 (lower only) as m_z → 0⁺.
    """
    a, mass = _finite("alpha", alpha), _finite("mass", mass)
    if mass <= 0:
        raise ValueError(f"rashba mass must be positive (electron masses), got {mass!r}")
    mz = np.asarray(zeeman, dtype=float)
    if mz.shape != (3,) or not np.all(np.isfinite(mz)):
        raise ValueError(f"zeeman must be three finite numbers (eV), got {zeeman!r}")
    c = HBAR2_OVER_2M0 / mass

    def h(k):
        kx, ky = k[:, 0], k[:, 1]
        return _pauli_sum(c * (kx**2 + ky**2), a * ky + mz[0], -a * kx + mz[1], 0 * kx + mz[2])

    def dh(k):
        kx, ky = k[:, 0], k[:, 1]
        z = 0 * kx
        return np.stack([_pauli_sum(2 * c * kx, z, z - a, z), _pauli_sum(2 * c * ky, z + a, z, z)])

    params = {"alpha_eVA": a, "mass_me": mass, "zeeman_eV": tuple(mz.tolist())}
    return Model(h, dh, SPIN_HALF, 2, name="rashba", parameters=params,
                 info={"formula": "hbar^2 k^2/2m + α(ky σx − kx σy) + m·σ", "spin": "s = (hbar/2) σ"})


def bhz(u: float, rashba: float = 0.0) -> Model:
    """Lattice BHZ model: ``H = diag(h(k), h*(−k)) + λ(sin k_y σ_x − sin k_x σ_y) ⊗ 1_orb`` (k in 1/a).

    h is the QWZ block; basis (orb1↑, orb2↑, orb1↓, orb2↓), s_z = ±½ on the blocks (s_x, s_y flip the blocks).
    With ``rashba`` λ = 0 (eV) the model conserves s_z: for 0 < |u| < 2 the spin Chern number is ∓1 and
    σ^z_yx = +4 e/8π (u in (0, 2)), proper = conventional.  A Rashba-like λ ≠ 0 keeps time reversal, breaks
    inversion and s_z conservation, and splits the Kramers pairs away from the four TRIM points; then H(k) at
    fixed k commutes with the antiunitary C = (σ_x ⊗ τ_z) K, which flips s_z, so s^z_nn = 0 and Eq. (2)'s
    σ^z is identically 0 for every λ ≠ 0 (grids through the TRIM show a 1/N² artefact of the degenerate points).
    """
    up = qwz(u)
    lam = _finite("rashba", rashba)
    eye = np.eye(2, dtype=complex)
    rx, ry = lam * np.kron(_SX, eye), lam * np.kron(_SY, eye)

    uu = up.parameters["u"]

    def h(k):  # the entries of diag(h_QWZ(k), h_QWZ(−k)*) written in place (same numbers as the Pauli sums)
        out = np.zeros((len(k), 4, 4), dtype=complex)
        re, im = out.real, out.imag
        for rows, q, sign in ((slice(0, 2), k, 1.0), (slice(2, 4), -k, -1.0)):  # sign: complex conjugation
            r, i = re[:, rows, rows], im[:, rows, rows]
            sx, sy, dz = np.sin(q[:, 0]), np.sin(q[:, 1]), uu + np.cos(q[:, 0]) + np.cos(q[:, 1])
            r[:, 0, 0], r[:, 1, 1], r[:, 0, 1], r[:, 1, 0] = dz, -dz, sx, sx
            i[:, 0, 1], i[:, 1, 0] = -sign * sy, sign * sy
        if lam:
            out += np.sin(k[:, 1])[:, None, None] * rx - np.sin(k[:, 0])[:, None, None] * ry
        return out

    def dh(k):  # ∂h_QWZ(k) = cos k_a σ_a − sin k_a σ_z and −(∂h_QWZ(−k))*, written in place
        out = np.zeros((2, len(k), 4, 4), dtype=complex)
        re, im = out.real, out.imag
        for rows, q, sign in ((slice(0, 2), k, 1.0), (slice(2, 4), -k, -1.0)):
            for a in range(2):
                r, i = re[a, :, rows, rows], im[a, :, rows, rows]
                s, c = sign * np.sin(q[:, a]), sign * np.cos(q[:, a])
                r[:, 0, 0], r[:, 1, 1] = -s, s
                if a == 0:
                    r[:, 0, 1], r[:, 1, 0] = c, c
                else:
                    i[:, 0, 1], i[:, 1, 0] = -c * sign, c * sign
        if lam:
            out[0] -= np.cos(k[:, 0])[:, None, None] * ry
            out[1] += np.cos(k[:, 1])[:, None, None] * rx
        return out

    spin = np.stack([np.kron(s, eye) for s in SPIN_HALF])
    params = {"u": up.parameters["u"]} | ({"rashba_eV": lam} if lam else {})
    return Model(h, dh, spin, 2, reciprocal=2 * np.pi * np.eye(2), name="bhz", parameters=params,
                 info={"k_units": "1/a", "basis": "(orb1 up, orb2 up, orb1 down, orb2 down)",
                       "formula": "diag(h_QWZ(k), h_QWZ(-k)^*) + λ(sin ky σx − sin kx σy) ⊗ 1",
                       "spin": "s = (hbar/2) σ ⊗ 1_orb"})
