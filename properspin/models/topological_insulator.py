"""3D topological-insulator bulk k·p model, Eq. (10) of Liu, Cullen & Culcer (2023); conventions §5.1.

Basis {orbital 1: ↑, ↓; orbital 2: ↑, ↓} (τ acts on the orbital, σ on the spin):

    H(k) = ε(k) − M(k) τ_z⊗1 + τ_x⊗[B(k) k_z σ_z + A(k)(k_x σ_x + k_y σ_y)] + 1⊗(m·σ),

    ε = C0 + C1 k_z² + C2 k∥²,   M = M0 + M1 k_z² + M2 k∥²,   A = A0 + A2 k∥²,   B = B0 + B2 k_z².

This operator form was checked entry by entry against the printed matrix of Eq. (10):
diag(−M + m_z, −M − m_z, M + m_z, M − m_z), spin blocks m_∓ = m_x ∓ i m_y above/below the diagonal,
and the identical Hermitian orbital off-diagonal blocks [[B k_z, A k_−], [A k_+, −B k_z]]
(k_± = k_x ± i k_y).  The two agree; there is no difference to record.

At m = 0 the model has time reversal Θ = (1⊗iσ_y)K and inversion P = τ_z, so every band is doubly
(Kramers) degenerate; m lifts it (by exactly 2|m| at Γ).  k in Å⁻¹, energies in eV.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..model import PAULI, SPIN_HALF, Model

Array = np.ndarray

#: Bulk parameters of the 4-band model.  Bi2Se3: C.-X. Liu, X.-L. Qi, H. J. Zhang, X. Dai, Z. Fang,
#: S.-C. Zhang, "Model Hamiltonian for topological insulators", Phys. Rev. B 82, 045122 (2010)
#: (fit to ab initio bands), as used by the paper (its Ref. [116]).  A2 = B2 = 0 is the conventions §5.1
#: decision (the cubic corrections are settable through ``overrides``).
MATERIALS: dict[str, dict[str, float]] = {
    "Bi2Se3": {
        "A0": 3.33,
        "A2": 0.0,
        "B0": 2.26,
        "B2": 0.0,
        "C0": -0.0083,
        "C1": 5.74,
        "C2": 30.4,
        "M0": -0.28,
        "M1": 6.86,
        "M2": 44.5,
    },
}

#: Units of every parameter (k in Å⁻¹, energies in eV).
UNITS: dict[str, str] = {
    "A0": "eV Å", "A2": "eV Å^3", "B0": "eV Å", "B2": "eV Å^3",
    "C0": "eV", "C1": "eV Å^2", "C2": "eV Å^2",
    "M0": "eV", "M1": "eV Å^2", "M2": "eV Å^2",
    "magnetization": "eV",
}

_TZ = np.diag([1.0, -1.0]).astype(complex)
_TX = np.array([[0, 1], [1, 0]], dtype=complex)
_I2 = np.eye(2, dtype=complex)
_ID4 = np.eye(4, dtype=complex)
_TZ1 = np.kron(_TZ, _I2)                                  # τ_z ⊗ 1
_TXS = np.stack([np.kron(_TX, s) for s in PAULI])       # τ_x ⊗ σ_a
_SPIN = np.stack([np.kron(_I2, s) for s in SPIN_HALF])  # 1 ⊗ σ/2 (units of ħ)


def _lookup(material: str) -> dict[str, float]:
    for name, params in MATERIALS.items():
        if name.lower() == str(material).lower():
            return dict(params)
    raise ValueError(f"unknown material {material!r}; known: {', '.join(MATERIALS)}")


def topological_insulator(
    material: str = "Bi2Se3",
    magnetization: tuple[float, float, float] = (0.0, 0.0, 1e-3),
    **overrides: float,
) -> Model:
    """The 4×4 bulk TI model of Eq. (10) (conventions §5.1) as a continuum :class:`Model` (dim = 3).

    Parameters
    ----------
    material
        Key of :data:`MATERIALS` (case-insensitive).
    magnetization
        Exchange field (m_x, m_y, m_z) in eV entering as ``1⊗(m·σ)``; bands split by 2|m| at Γ.
    **overrides
        Any parameter of :data:`MATERIALS` by name (A0, A2, B0, B2, C0, C1, C2, M0, M1, M2) in the units
        of :data:`UNITS`.
    """
    params = _parameters(material, overrides)
    m = np.asarray(magnetization, dtype=float)
    if m.shape != (3,) or not np.all(np.isfinite(m)):
        raise ValueError(
            f"magnetization must be three finite numbers (mx, my, mz) in eV, got {magnetization!r}"
        )
    name = next(n for n in MATERIALS if n.lower() == str(material).lower())
    parameters: dict[str, Any] = dict(params)
    parameters["material"] = name
    parameters["magnetization"] = tuple(float(x) for x in m)
    info = {
        "equation": "Liu, Cullen & Culcer (2023) Eq. (10); conventions §5.1",
        "basis": "{orb1 up, orb1 down, orb2 up, orb2 down}",
        "spin_convention": "s = (hbar/2) 1⊗σ",
        "energy_reference": "as in the model (C0)",
        "source": "Liu et al., Phys. Rev. B 82, 045122 (2010); A2 = B2 = 0 unless overridden",
        "units": dict(UNITS, k="1/Å", energy="eV"),
    }
    hamiltonian, gradient = _kp_operators(params, np.einsum("l,lij->ij", 2 * m, _SPIN))  # 1⊗(m·σ)
    return Model(
        hamiltonian=hamiltonian,
        gradient=gradient,
        spin=_SPIN.copy(),
        dim=3,
        reciprocal=None,
        name=f"topological_insulator({name})",
        parameters=parameters,
        info=info,
    )


def _parameters(material: str, overrides: dict[str, Any]) -> dict[str, float]:
    """The material's parameters with ``overrides`` (validated: known names, finite real numbers)."""
    params = _lookup(material)
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; valid: {', '.join(sorted(params))}")
    for key, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise ValueError(f"parameter {key} must be a real number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"parameter {key} must be finite, got {value!r}")
        params[key] = float(value)
    return params


def _kp_operators(p: dict[str, float], zeeman: Array) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    """H(k) of Eq. (10) and its analytic gradient ∂H/∂k_a, (3, N, 4, 4)."""

    def hamiltonian(k: Array) -> Array:
        kx, ky, kz = (np.asarray(k, dtype=float)[:, a, None, None] for a in range(3))
        kp2, kz2 = kx**2 + ky**2, kz**2
        eps = p["C0"] + p["C1"] * kz2 + p["C2"] * kp2
        mass = p["M0"] + p["M1"] * kz2 + p["M2"] * kp2
        a_k = p["A0"] + p["A2"] * kp2
        b_k = p["B0"] + p["B2"] * kz2
        return (
            eps * _ID4 - mass * _TZ1
            + a_k * (kx * _TXS[0] + ky * _TXS[1]) + b_k * kz * _TXS[2]
            + zeeman
        )

    def gradient(k: Array) -> Array:
        kx, ky, kz = (np.asarray(k, dtype=float)[:, a, None, None] for a in range(3))
        kp2 = kx**2 + ky**2
        a_k = p["A0"] + p["A2"] * kp2
        inplane = kx * _TXS[0] + ky * _TXS[1]
        out = []
        for ka, txs in ((kx, _TXS[0]), (ky, _TXS[1])):
            out.append(
                2 * ka * (p["C2"] * _ID4 - p["M2"] * _TZ1 + p["A2"] * inplane) + a_k * txs
            )
        out.append(
            2 * kz * (p["C1"] * _ID4 - p["M1"] * _TZ1) + (p["B0"] + 3 * p["B2"] * kz**2) * _TXS[2]
        )
        return np.stack(out)

    return hamiltonian, gradient


#: Lattice constants (Å) of the regularised model.  In-plane: the crystal's a = 4.14 Å (Bi2Se3).  Along z the
#: crystal's quintuple-layer spacing c_hex/3 = 28.64/3 = 9.55 Å does *not* keep the bulk gap of Eq. (10): at the
#: zone boundary sin(k_z c) = 0 removes the B0 k_z term and the valence band sits at (C0 − M0) − (M1 − C1)·4/c²,
#: 0.223 eV for c = 9.55 Å (the gap shrinks to 42 meV at Z and E_F = 0.1 eV lies in the valence band).  The
#: valence band stays below the k·p maximum (−72 meV) only for c ≤ 3.6 Å; the default c = 3.0 Å is such a
#: regulator (an arbitrary choice like a cutoff radius: results record it, docs/physics.md compares c and lattices).
LATTICE: dict[str, dict[str, float]] = {"Bi2Se3": {"a": 4.14, "c": 3.0}}
#: The crystal's own quintuple-layer spacing (Å), for comparison: c_hex / 3 with c_hex = 28.64 Å.
QUINTUPLE_LAYER: dict[str, float] = {"Bi2Se3": 28.64 / 3}
LATTICE_KINDS = ("hexagonal", "tetragonal")


def _lattice_terms(kind: str, a: float, c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In-plane bond vectors δ_j, the weights of the linear (sin) and quadratic (1 − cos) terms, reciprocal cell.

    ``k_x,y → Σ_j w1 δ̂_j,xy sin(k·δ_j)``, ``k∥² → Σ_j w2 2(1 − cos k·δ_j)``, exact to O(k³) / O(k⁴).
    """
    if kind == "tetragonal":
        bonds = a * np.array([[1.0, 0.0], [0.0, 1.0]])
        w1, w2 = 1.0 / a, 1.0 / a**2
        cell = np.diag([a, a, c])
    else:  # triangular in-plane net: Σ_j (k·δ_j)² = (3/2) a² k², Σ_j δ̂_j (k·δ_j) = (3/2) a k
        bonds = a * np.array([[1.0, 0.0], [0.5, math.sqrt(3) / 2], [-0.5, math.sqrt(3) / 2]])
        w1, w2 = 2.0 / (3 * a), 2.0 / (3 * a**2)
        cell = np.array([[a, 0, 0], [a / 2, a * math.sqrt(3) / 2, 0], [0, 0, c]])
    return bonds, np.array([w1, w2]), 2 * math.pi * np.linalg.inv(cell).T


def topological_insulator_lattice(
    material: str = "Bi2Se3",
    magnetization: tuple[float, float, float] = (0.0, 0.0, 0.0),
    lattice: str = "hexagonal",
    a: float | None = None,
    c: float | None = None,
    **overrides: float,
) -> Model:
    """Eq. (10) regularised on a lattice (conventions §5.1): a periodic model with the k·p model's Γ point.

    Every power of k is replaced by lattice harmonics that agree with it to the next order in k
    (the regularisation of Liu et al., PRB 82, 045122 (2010), on a lattice of spacing a in-plane and c along z):

        k_z → sin(k_z c)/c,   k_z² → 2(1 − cos k_z c)/c²,
        k_x,y → Σ_j w1 δ̂_j,x,y sin(k·δ_j),   k∥² → Σ_j w2 · 2(1 − cos k·δ_j),

    with the in-plane bonds δ_j of a triangular net (``lattice="hexagonal"``, the crystal's own C3-symmetric
    in-plane lattice, δ = a(1, 0), a(½, √3/2), a(−½, √3/2), w1 = 2/3a, w2 = 2/3a²) or of a square one
    (``"tetragonal"``: k_x → sin(k_x a)/a, k_x² → 2(1 − cos k_x a)/a²), simple stacking along z.  The band
    inversion stays at Γ only (M > 0 at every other time-reversal-invariant momentum), so the in-gap bulk
    response needs no cutoff.  The default c = 3.0 Å is a regulator, not the crystal's 9.55 Å (see
    :data:`LATTICE`: with 9.55 Å the regularised bands close the bulk gap to 42 meV at Z).

    Parameters
    ----------
    material, magnetization, **overrides
        As :func:`topological_insulator` (default magnetization 0: Kramers-degenerate, block trace).
    lattice
        ``"hexagonal"`` (default) or ``"tetragonal"``.
    a, c
        Lattice constants in Å (default :data:`LATTICE` of the material: Bi2Se3 a = 4.14, c = 3.0).
    """
    if lattice not in LATTICE_KINDS:
        raise ValueError(f"lattice must be one of {LATTICE_KINDS}, got {lattice!r}")
    kp = topological_insulator(material, magnetization, **overrides)
    p = {k: v for k, v in kp.parameters.items() if k in UNITS and k != "magnetization"}
    name = kp.parameters["material"]
    consts = dict(LATTICE.get(name, {}))
    for key, value in (("a", a), ("c", c)):
        if value is not None:
            consts[key] = float(value)
        if key not in consts or not math.isfinite(consts[key]) or consts[key] <= 0:
            raise ValueError(f"lattice constant {key} must be a positive number of Å (no default for {name})")
    la, lc = consts["a"], consts["c"]
    bonds, weights, reciprocal = _lattice_terms(lattice, la, lc)
    zeeman = np.einsum("l,lij->ij", 2 * np.asarray(kp.parameters["magnetization"]), _SPIN)
    hamiltonian, gradient = _lattice_operators(p, _harmonics(bonds, weights, lc), zeeman)
    parameters: dict[str, Any] = dict(kp.parameters)
    parameters.update({"lattice": lattice, "a_angstrom": la, "c_angstrom": lc})
    info = dict(kp.info)
    info.update({"equation": "Eq. (10) on a lattice: k → lattice harmonics (conventions §5.1)",
                 "regularisation": f"{lattice}: in-plane bonds {np.round(bonds, 6).tolist()} Å, c = {lc:.6g} Å",
                 "source": "Liu et al., PRB 82, 045122 (2010) parameters, lattice regularisation of Eq. (10); "
                           "Bi2Se3 a = 4.14 Å; c a regulator (the crystal's c_hex/3 = 9.55 Å closes the gap)"})
    return Model(hamiltonian=hamiltonian, gradient=gradient, spin=_SPIN.copy(), dim=3, reciprocal=reciprocal,
                 name=f"topological_insulator_lattice({name}, {lattice})", parameters=parameters, info=info)


def _harmonics(bonds: Array, weights: Array, lc: float) -> Callable[[Array], tuple[Array, ...]]:
    """The lattice harmonics standing for k_x, k_y, k∥², k_z, k_z² and their derivatives (conventions §5.1)."""
    w1, w2 = weights
    unit = bonds / np.linalg.norm(bonds, axis=1)[:, None]

    def harmonics(k: Array) -> tuple[Array, ...]:
        k = np.asarray(k, dtype=float)
        ph = k[:, :2] @ bonds.T  # (N, nbonds)
        s, co = np.sin(ph), np.cos(ph)
        kx, ky = w1 * (s @ unit[:, 0]), w1 * (s @ unit[:, 1])
        kp2 = w2 * 2 * (1 - co).sum(1)
        kz, kz2 = np.sin(k[:, 2] * lc) / lc, 2 * (1 - np.cos(k[:, 2] * lc)) / lc**2
        # derivatives: ∂kx/∂k_a, ∂ky/∂k_a, ∂k∥²/∂k_a (a = x, y); ∂kz/∂k_z, ∂kz²/∂k_z
        dkx = w1 * np.einsum("kj,j,ja->ak", co, unit[:, 0], bonds)
        dky = w1 * np.einsum("kj,j,ja->ak", co, unit[:, 1], bonds)
        dkp2 = w2 * 2 * np.einsum("kj,ja->ak", s, bonds)
        return kx, ky, kp2, kz, kz2, dkx, dky, dkp2, np.cos(k[:, 2] * lc), 2 * np.sin(k[:, 2] * lc) / lc

    return harmonics


def _lattice_operators(p: dict[str, float], harmonics: Callable[[Array], tuple[Array, ...]], zeeman: Array
                       ) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    """H(k) of Eq. (10) with k replaced by lattice ``harmonics``, and its gradient by the chain rule."""

    def col(x: Array) -> Array:
        return x[:, None, None]

    def hamiltonian(k: Array) -> Array:
        kx, ky, kp2, kz, kz2 = harmonics(k)[:5]
        eps = p["C0"] + p["C1"] * kz2 + p["C2"] * kp2
        mass = p["M0"] + p["M1"] * kz2 + p["M2"] * kp2
        a_k, b_k = p["A0"] + p["A2"] * kp2, p["B0"] + p["B2"] * kz2
        return (col(eps) * _ID4 - col(mass) * _TZ1 + col(a_k) * (col(kx) * _TXS[0] + col(ky) * _TXS[1])
                + col(b_k * kz) * _TXS[2] + zeeman)

    def gradient(k: Array) -> Array:
        kx, ky, kp2, kz, kz2, dkx, dky, dkp2, dkz, dkz2 = harmonics(k)
        a_k = p["A0"] + p["A2"] * kp2
        inplane = col(kx) * _TXS[0] + col(ky) * _TXS[1]
        out = []
        for i in range(2):
            out.append(col(dkp2[i]) * (p["C2"] * _ID4 - p["M2"] * _TZ1 + p["A2"] * inplane)
                       + col(a_k) * (col(dkx[i]) * _TXS[0] + col(dky[i]) * _TXS[1]))
        b_k = p["B0"] + p["B2"] * kz2
        out.append(col(dkz2) * (p["C1"] * _ID4 - p["M1"] * _TZ1 + p["B2"] * col(kz) * _TXS[2])
                   + col(b_k * dkz) * _TXS[2])
        return np.stack(out)

    return hamiltonian, gradient
