"""Shi's conserved spin current 𝒥 = d(r s)/dt from its definition: two regulator-free routes for insulators.

Both routes hold for a lattice model with point orbitals (:func:`properspin.orbital.point_orbitals`), a local
spin operator and the Fermi level in a gap; derivations in docs/physics.md, "Eq. (2) against the definition".

**Route 1 — finite-q Kubo torque dipole.**  A field ``E e^{i(q·r − ωt)}`` (vector potential ``A = E/iω``,
coupling ``e A·½{v, e^{iq·r}}``) makes the torque density ``τ^l_q = <½{t^l, e^{−iq·r}}>/V`` with
``t = i[H, s]/ħ``.  With ``τ = −∇·P_τ`` the torque dipole is ``P^l_τ,i = π^l_ij E_j``, and at first order in q
and ω (q → 0 at finite ω, then ω → 0; an insulator is analytic in both)

    ħ π^l_ij / e = −∂_{q_i} K^l_j(q)|_{q=0},
    K^l_j(q) = Σ_k Σ_mn (f_m − f_n) <u_m,k−|t^l|u_n,k+> <u_n,k+|v_j|u_m,k−> / (ε_m,k− − ε_n,k+)²,

``k± = k ± q/2``, vertices at the midpoint k (exact to O(q²)), ``v = ∂H`` and ``t = i[H, s]`` (eV·Å, eV) in the
orbital-phase gauge, where ``e^{iq·r}`` is the identity on the orbitals.  The full tensor comes out: a
transverse field (∇×E = −∂_t B ≠ 0) is what carries the Hall part; a static longitudinal field sees only the
symmetric part.  ``method="analytic"`` differentiates K by the Daleckii–Krein formula (divided differences of
``(f_x − f_y)/(x − y)²`` over the spectra at k− and k+), ``"finite_difference"`` re-diagonalises H at k ± q/2
and takes a fourth-order central difference with step ``q_step`` (Å⁻¹).  Adding the conventional current gives
the conserved current (:func:`conserved_kubo`).

**Route 2 — spin Středa.**  Continuity ``∂_t s^l + ∇·𝒥^l = 0`` with ``𝒥^l_i = ε_ijc X^l_c E_j`` and Faraday's
law give ``∂<s^l>/∂B_c = X^l_c`` at fixed μ; a Maxwell relation of the grand potential with ``H → H + h_l s^l``
(h in eV, s in ħ) gives ``∂<s^l>/∂B_c = −∂M_c/∂h_l``.  So ``σ^l_ij = (e/ħ) ε_ijc I^l_c`` with
``I^l_c = −(ħ/e) ∂M_c/∂h_l``, M of :mod:`properspin.orbital`, differentiated by a fourth-order central difference
in h with step ``zeeman_step`` (eV).  Eq. (1) predicts ``I^l_c = ∫ f Σ^{c,l}``.

Per-state values are attributed to the band index at k (exact with E_F in a gap) and averaged over degenerate
blocks, so every result is invariant under rotations inside Kramers pairs.  Fermi-surface terms of metals are
in :mod:`properspin.conserved_metal` (docs/physics.md).
"""

from __future__ import annotations

import numpy as np

from . import geometry as geo
from . import orbital

#: Stencil of the fourth-order central differences: offsets and weights of f'(0) ≈ Σ w f(c·δ)/δ.
STENCIL = ((1, 8 / 12), (-1, -8 / 12), (2, -1 / 12), (-2, 1 / 12))


def _degenerate(energies: np.ndarray, tol: float) -> np.ndarray:
    """(N, n, n) pairs closer than ``tol`` (diagonal included)."""
    return np.abs(energies[:, :, None] - energies[:, None, :]) < tol


def block_average(q: np.ndarray, energies: np.ndarray, tol: float) -> np.ndarray:
    """Average per-state values (..., N, n) over blocks of degenerate bands (gauge-invariant per state)."""
    deg = _degenerate(energies, tol).astype(float)
    return np.einsum("kmn,...kn->...km", deg / deg.sum(-1, keepdims=True), q)


# ---------------------------------------------------------------------------------------------- route 1
def _in_blocks(func, g: geo.BandGeometry, *args) -> np.ndarray:
    """``func(g, *args)`` on slices of the k-points, so that the O(N n³) temporaries stay near 100 MB."""
    nk, n = g.energies.shape
    size = max(1, int(2e5 // n**2))
    if nk <= size:
        return func(g, *args)
    parts = []
    for a in range(0, nk, size):
        sl = slice(a, a + size)
        parts.append(func(g.subset(np.arange(nk)[sl]), *args))
    return np.concatenate(parts, axis=-2)


def torque_dipole_analytic(g: geo.BandGeometry) -> np.ndarray:
    """Per-state ``ħπ^l_ij/e`` (Å², spin in ħ), shape (3, dim_i, dim_j, N, n), by the Daleckii–Krein formula.

    ``∂_{q_i}K = Σ_mpn [−½ g_x(m,p;n) V^i_mp t_pn v_nm + ½ g_y(m;n,p) t_mn V^i_np v_pm]`` with g(x, y) =
    (f_x − f_y) h(x, y), h = 1/(x − y)² (0 inside a degenerate block) and g_x, g_y its divided differences
    (derivatives inside a block, f' = 0: insulator); the coefficient of each f_s is the per-state value.
    """
    g._need_spin()
    check_point_orbitals(g)
    return _in_blocks(_analytic, g)


def _analytic(g: geo.BandGeometry) -> np.ndarray:
    e, tol = g.energies, g.degeneracy_tol
    deg = _degenerate(e, tol)
    with np.errstate(divide="ignore"):
        nd = np.where(deg, 0.0, 1.0 / (e[:, :, None] - e[:, None, :]))  # 1/Δ_ab outside degenerate blocks
    h, hp, dg = nd**2, -2 * nd**3, deg.astype(float)  # h, ∂_x h, block indicator
    # every coefficient is a product of two-index factors, so each term is diag(A B C): no n³ arrays
    vi, vj, t = g.velocity[None, :, None], g.velocity[None, None, :], g.torque[:, None, None]
    vn, vd = vi * nd, vi * dg  # V^i ∘ nd, V^i ∘ dg
    vh, vhp = vj * h.transpose(0, 2, 1), vj * hp.transpose(0, 2, 1)  # (v ∘ hᵀ)_ab = v_ab h_ba
    th, thp = t * h, t * hp

    def d3(a, b, c):  # diag(A B C)
        return np.einsum("...ab,...ba->...a", a @ b, c)

    qa = (d3(vn, t, vh) + d3(vd, t, vhp) - d3(th, vj, vn)
          + d3(vj, vn, th) - d3(vh, vn, t) - d3(vhp, vd, t))
    qb = (d3(th, vn, vj) - d3(t, vn, vh) - d3(thp, vd, vj)
          - d3(vn, vj, th) + d3(vd, vj, thp) + d3(vh, t, vn))
    return block_average(-(0.5 * qb - 0.5 * qa).real, e, tol)


def torque_dipole_finite_difference(g: geo.BandGeometry, q_step: float) -> np.ndarray:
    """Per-state ``ħπ^l_ij/e`` as :func:`torque_dipole_analytic`, from K(q) at k ± q/2 (fourth-order in q_step)."""
    _model_of(g)
    return _in_blocks(_finite_difference, g, q_step)


def _finite_difference(g: geo.BandGeometry, q_step: float) -> np.ndarray:
    model, k = _model_of(g)
    h0, dh0 = orbital.tight_binding_gauge(model, k)
    s = model.spin
    t = 1j * (h0[None] @ s[:, None] - s[:, None] @ h0[None])  # (3, N, n, n), orbital basis
    keep = ~_degenerate(g.energies, g.degeneracy_tol)
    nl, dim, (nk, n) = 3, g.dim, g.energies.shape
    out = np.zeros((nl, dim, dim, nk, n))
    for i in range(dim):
        for c, w in STENCIL:
            dk = np.zeros(dim)
            dk[i] = c * q_step / 2
            em, um = np.linalg.eigh(orbital.tight_binding_gauge(model, k - dk, gradient=False)[0])
            ep, up = np.linalg.eigh(orbital.tight_binding_gauge(model, k + dk, gradient=False)[0])
            tt = um.conj().transpose(0, 2, 1)[None] @ t @ up[None]  # <m,k−|t|n,k+>
            vv = up.conj().transpose(0, 2, 1)[None] @ dh0 @ um[None]  # <n,k+|v|m,k−>
            den = np.where(keep, em[:, :, None] - ep[:, None, :], 1.0)
            x = np.where(keep, tt[:, None] * vv[None].transpose(0, 1, 2, 4, 3) / den**2, 0.0)  # (l, j, N, m, n)
            out[:, i] -= w / q_step * (x.sum(-1) - x.sum(-2)).real
    return block_average(out, g.energies, g.degeneracy_tol)


def conserved_kubo(g: geo.BandGeometry, method: str, q_step: float) -> np.ndarray:
    """Route 1: conventional (Kubo, clean) + torque dipole, per state, (3, dim_i, dim_j, N, n)."""
    tau = torque_dipole_analytic(g) if method == "analytic" else torque_dipole_finite_difference(g, q_step)
    return geo.conventional_spin_curvature(g) + tau


# ---------------------------------------------------------------------------------------------- route 2
def spin_streda(g: geo.BandGeometry, zeeman_step: float) -> np.ndarray:
    """Route 2 per state: parts (f-weighted, G-weighted, ε × G-weighted) of ``ε_ijc I^l_c``, (3, 3, dim, dim, N, n).

    ``I^l_c = −∂M̃_c/∂h_l`` with ``M̃ = Σ f a + μ Σ f b`` in a gap, ``a = m − εΩ``, ``b = Ω`` of H + h s^l
    (pairs of one degenerate block of H left out: they cancel in the block sum), so the f-weighted part is
    ``−(∂a + ε ∂b)`` and the grand-potential-weighted part ``−∂b`` (:mod:`properspin.orbital`).
    """
    model, k = _model_of(g)
    h0, dh0 = orbital.tight_binding_gauge(model, k)
    e0, tol = g.energies, g.degeneracy_tol
    block = _degenerate(e0, tol)
    nc = len(geo._CYCLIC[g.dim])
    da = np.zeros((nc, 3) + e0.shape)
    db = np.zeros_like(da)
    for l_ in range(3):
        for c, w in STENCIL:
            e, u = np.linalg.eigh(h0 + c * zeeman_step * model.spin[l_])
            v = u.conj().transpose(0, 2, 1)[None] @ dh0 @ u[None]
            m, omega = orbital.moment_parts(geo.BandGeometry(e, v, None, None, tol), exclude=block)
            da[:, l_] += w / zeeman_step * (m - e[None] * omega)
            db[:, l_] += w / zeeman_step * omega
    q_f = geo.levi_civita_contract(-(da + e0 * db), g.dim)
    q_g = geo.levi_civita_contract(-db, g.dim)
    parts = np.stack([q_f, q_g, e0 * q_g])
    return block_average(parts, e0, tol)


def check_point_orbitals(g: geo.BandGeometry) -> None:
    """Refuse a model without point orbitals and a local spin (continuum k·p, full Wannier position matrix).

    The finite-q vertices use ``e^{iq·r} = 1`` on the orbitals: on a continuum model the sums depend on the
    cutoff, on a Wannier model with a full position matrix terms are missing.
    """
    if g.model is not None:
        orbital.point_orbitals(g.model)


def _model_of(g: geo.BandGeometry):
    if g.model is None or g.k is None:
        raise ValueError("this response needs the model and k-points of the band geometry (band_geometry(model, k))")
    if g.model.spin is None:
        raise ValueError(f"model '{g.model.name}' has no spin operator")
    return g.model, g.k
