"""Orbital magnetisation of a periodic model (modern theory), and the point-orbital gauge it needs.

Modern theory (Thonhauser et al., PRL 95, 137205; Ceresoli et al., PRB 74, 024408; Xiao et al., RMP 82,
1959, Eq. 3.27), electron charge −e (conventions §1), cyclic (a, b) → c:

    M_c = (e/ħ) Σ_n ∫ d^dk/(2π)^d f_n Im <∂_a u_n|(H + ε_n − 2μ)|∂_b u_n>
        = Σ_n ∫ f_n m_n,c  +  (e/ħ) Σ_n ∫ G(ε_n − μ) Ω_n,c

with the orbital moment ``m_n,c = (e/ħ) Σ_{p≠n} G^c_np (ε_p − ε_n)``, ``G^c_np = Im(V^a_np V^b_pn)/Δ²_np``
(the pair term of :func:`properspin.geometry.berry_curvature`, ``Ω_n = −2 Σ_p G_np``) and the grand-potential
occupation ``G(x) = k_BT ln(1 + e^{−x/k_BT})`` (→ (μ − ε) θ(μ − ε) at T = 0; ``dG/dμ = f``), so that
``∂M_c/∂μ = (e/ħ) ∫ f Ω_c`` (Středa: ``(e/h) C`` in a 2D gap).  Pairs inside a degenerate block are left out:
their part is the trace of a commutator and vanishes, so the block sum is gauge invariant.

Units: 2D ``A`` (moment per area, A·m²/m²), 3D ``A/m``; the per-state values are in eV·Å² (× (e/ħ) per Å^d).

The sum over states is the tight-binding approximation of the position operator: ``r`` is diagonal in the
orbitals, at their centres τ (a :class:`~properspin.models.TightBinding` model, or a model without position
term, all orbitals at one point).  A Wannier model with a full position matrix needs the extra terms of Lopez
et al. (PRB 85, 014435) and is refused by :func:`point_orbitals`.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import geometry as geo
from .model import Model

_CENTRES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def point_orbitals(model: Model) -> np.ndarray:
    """Orbital centres τ (n, dim) of a model whose position matrix is diagonal and k-independent.

    Zeros when the model has no position term.  Raises ``ValueError`` for a position matrix with off-diagonal or
    k-dependent elements (a genuine Wannier model), and for a spin operator that couples orbitals at different
    centres (a spin density must be local for the finite-q and Zeeman routes).
    """
    if model in _CENTRES:
        return _CENTRES[model]
    if not model.periodic:
        raise ValueError(f"model '{model.name}' is a continuum k·p model: the orbital magnetisation and the "
                         "conserved-spin routes need a periodic (lattice) model")
    n, d = model.nbands, model.dim
    tau = np.zeros((n, d))
    if model.position is not None:
        rng = np.random.default_rng(0)
        ks = np.vstack([np.zeros(d), rng.random((2, d)) @ model.reciprocal])
        a = model.berry_connection_orbital(ks)  # (dim, 3, n, n)
        diag = np.einsum("akii->aki", a)
        off = np.max(np.abs(a - np.einsum("aki,ij->akij", diag, np.eye(n))))
        if off > 1e-9 or np.max(np.abs(diag - diag[:, :1])) > 1e-9 or np.max(np.abs(diag.imag)) > 1e-9:
            raise ValueError(
                f"model '{model.name}' has a position matrix with off-diagonal or k-dependent elements "
                f"(max {off:.3g} Å off the diagonal): the sum over states of the orbital magnetisation and the "
                "finite-q / Zeeman routes hold for point orbitals (tight-binding approximation) only; use "
                "models.point_orbital_approximation(model) (centres, on-site spin; what it drops is recorded)")
        tau = diag[:, 0].real.T.copy()
    if model.spin is not None:
        far = np.max(np.abs(tau[:, None, :] - tau[None, :, :]), axis=-1) > 1e-9
        if np.any(np.abs(model.spin[:, far]) > 1e-12):
            raise ValueError(f"model '{model.name}': the spin operator couples orbitals at different centres; "
                             "a local spin density is needed: use models.point_orbital_approximation(model)")
    _CENTRES[model] = tau
    return tau


def tight_binding_gauge(model: Model, k: np.ndarray, gradient: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """``H(k)`` and ``∂H/∂k`` in the orbital-phase convention, ``D† H D`` with ``D = diag e^{ik·τ}``.

    In that basis the plane wave ``e^{iq·r}`` is the identity in the orbitals (point orbitals), so matrix elements
    between k and k + q are plain products; ``∂_a(D† H D) = D† (∂_a H + i[H, τ_a]) D``.  A continuum k·p model
    (k-independent basis) is returned as it is.
    """
    tau = point_orbitals(model) if model.periodic else np.zeros((model.nbands, model.dim))  # k·p: fixed basis
    h = model.h(k)
    dh = model.dh(k) if gradient else None
    if not np.any(tau):
        return h, dh
    d = np.exp(1j * k @ tau.T)  # (N, n)
    if dh is None:
        return d.conj()[:, :, None] * h * d[:, None, :], None
    dh = dh + 1j * (h[None] * tau.T[:, None, None, :] - tau.T[:, None, :, None] * h[None])
    return d.conj()[:, :, None] * h * d[:, None, :], d.conj()[None, :, :, None] * dh * d[None, :, None, :]


def moment_parts(g: geo.BandGeometry, exclude: np.ndarray | None = None) -> np.ndarray:
    """Per-state ``(m_n, Ω_n)`` in eV·Å² and Å², shape (2, nc, N, n): ``M = Σ f m + Σ G(ε − μ) Ω`` (× e/ħ).

    ``exclude`` (N, n, n): further pairs to leave out (pairs of one degenerate block of the unperturbed
    model when H is perturbed: their terms cancel in the block sum).
    """
    pairs = geo._curvature_pairs(g)  # (nc, N, n, p): Im(V^a_np V^b_pn)/Δ², degenerate pairs zero
    if exclude is not None:
        pairs = np.where(exclude[None], 0.0, pairs)
    de = g.energies[:, None, :] - g.energies[:, :, None]  # ε_p − ε_n
    return np.stack([np.einsum("cknp,knp->ckn", pairs, de), -2 * pairs.sum(-1)])


def orbital_magnetization(g: geo.BandGeometry) -> np.ndarray:
    """Per-state parts ``(f-weighted, G-weighted, ε × G-weighted)`` of M_c, shape (3, nc, N, n) (see module)."""
    if g.model is not None:
        point_orbitals(g.model)
    m, omega = moment_parts(g)
    parts = np.stack([m, omega, g.energies[None] * omega])
    deg = (np.abs(g.energies[:, :, None] - g.energies[:, None, :]) < g.degeneracy_tol).astype(float)
    return np.einsum("kmn,...kn->...km", deg / deg.sum(-1, keepdims=True), parts)  # block average: gauge invariant
