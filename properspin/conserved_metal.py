"""Shi's conserved spin current 𝒥 = d(r s)/dt in metals: Fermi-sea and Fermi-surface parts of both routes.

Derivations and checks in docs/physics.md, "Metals: the definition with Fermi-surface terms".  The dc limit is
Shi's order, q → 0 at finite ω, then ω → 0 (a uniform field switched on slowly).  In that order every
intra-block (intraband) term of the finite-q correlation functions is O(q²) or carries a Drude factor 1/ω that
multiplies only the *symmetric* tensor ``Σ_n δ(ε_n − μ) v_i v_j s_nn`` (zero with time reversal or PT; the
longitudinal spin-polarised Drude current of a ferromagnet, not included here).  What is left are the interband
terms of K(q) with their occupations at k ± q/2, expanded to O(q) by the Daleckii–Krein formula:

    ∂_{q_i} X = Σ_mpn [−½ g_x(m,p;n) V^i_mp O_pn v_nm + ½ g_y(m;n,p) O_mn V^i_np v_pm],
    g(x, y) = (f_x − f_y) h(x, y),  g = 0 inside a degenerate block,

whose divided differences inside a block are derivatives: ``∂_x g = f'(x) h + (f_x − f_y) ∂_x h``.  The f' pieces
are the Fermi-surface terms (weight ``−f'(ε − μ)``, a δ of width ~k_BT: a metal needs T > 0 on a mesh).

* Route 1 (torque dipole, finite-q Kubo): ``O = t = i[H, s]``, ``h = 1/(x − y)²``, ``ħπ/e = −∂_q K``; the
  conserved current is the conventional Kubo current plus π (as in :mod:`properspin.conserved`).
* The same expansion with ``O = s``, ``h = 1/(x − y)`` gives the spin density at finite q, ``σ_ij = −i ∂_{q_i}
  L_j`` by continuity: equal to route 1 state by state (Ward identity), a check of the algebra only.
* Route 2 (Hall part): the thermodynamic spin Středa term ``σ^II = −(ħ/e) ∂M_c/∂h_l`` at fixed μ (Zeeman
  derivative of the orbital magnetisation, Fermi sea + ``Σ δ s_nn m_n``) plus the Fermi-surface term ``σ^I``
  that turns the static order (ω → 0 first) into Shi's (:func:`streda_metal_parts`).  It shares no formula with
  route 1; the two agree in metals after the k-sum, as the mesh is refined.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import conserved
from . import geometry as geo
from .response_contract import MetallicFermiWarning


def _coefficients(g: geo.BandGeometry, op: np.ndarray, power: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-state coefficients (c of f, d of f') of ``∂_{q_i} X_j`` for vertex ``op`` (3, N, n, n), h = 1/Δ^power.

    Shapes (3, dim_i, dim_j, N, n), complex.  The sums over the two inner band indices of the products
    ``A_mpn = V^i_mp O_pn v_nm`` and ``B_mnp = O_mn V^i_np v_pm`` (module docstring) are written as diagonals of
    n × n matrix products, ``Σ_pn X_sp Y_pn Z_ns = (X Y Z)_ss``, with the weights (G, 1/Δ, ∂h, block mask) folded
    into the factors: O(n³) per k-point without the (3, N, n, n, n) products (tested against them to 1e-12).
    """
    e, tol = g.energies, g.degeneracy_tol
    same = conserved._degenerate(e, tol)
    with np.errstate(divide="ignore"):
        nd = np.where(same, 0.0, 1.0 / (e[:, :, None] - e[:, None, :]))  # nd_ab = 1/(ε_a − ε_b), 0 in blocks
    gg, hx = nd**power, -power * nd ** (power + 1)  # G_ab = h(ε_a, ε_b), ∂_x h; ∂_y h = −∂_x h
    em = same.astype(float)
    ggt, hxt = gg.swapaxes(-1, -2), hx.swapaxes(-1, -2)
    o_g, o_h = op * gg, op * hx  # (3, N, n, n)
    dim = g.dim
    c = np.zeros((3, dim, dim) + e.shape, complex)
    d = np.zeros_like(c)
    for i in range(dim):
        vn, ve = g.velocity[i] * nd, g.velocity[i] * em  # V^i ∘ (1/Δ), V^i ∘ (block mask)
        for j in range(dim):
            v = g.velocity[j]
            v_g, v_h = v * ggt, v * hxt  # v_ns G_sn, v_ns ∂h_sn
            o_vg, v_vn, v_og = op @ v_g, v @ vn, v @ o_g
            c1 = (_diag(vn, o_vg) + _diag(ve, op @ v_h) - _diag(o_g, v_vn) - _diag(v_g @ vn, op)
                  + _diag(v_vn, o_g) - _diag(v_h @ ve, op))
            c2 = (_diag(o_g, vn @ v) - _diag(op, vn @ v_g) - _diag(o_h, ve @ v) - _diag(vn, v_og)
                  + _diag(ve, v @ o_h) + _diag(v_g @ op, vn))
            c[:, i, j] = -0.5 * c1 + 0.5 * c2
            d[:, i, j] = -0.5 * _diag(ve, o_vg) - 0.5 * _diag(ve, v_og)
    return c, d


def _diag(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(x y)_ss`` for stacks of n × n matrices, (..., n): O(n²) per matrix."""
    return np.einsum("...sp,...ps->...s", x, y)


def _size(g: geo.BandGeometry) -> int:
    """k-points per block so that the (3, N, n, n) temporaries stay near 100 MB."""
    return max(1, int(2e5 // g.energies.shape[1] ** 2))


def _blocks(func, g: geo.BandGeometry) -> np.ndarray:
    nk, size = g.energies.shape[0], _size(g)
    if nk <= size:
        return func(g)
    return np.concatenate([func(g.subset(np.arange(a, min(nk, a + size)))) for a in range(0, nk, size)], axis=-2)


def _torque_parts(g: geo.BandGeometry) -> np.ndarray:
    c, d = _coefficients(g, g.torque, 2)
    return conserved.block_average(np.stack([-c.real, d.real]), g.energies, g.degeneracy_tol)


def _density_parts(g: geo.BandGeometry) -> np.ndarray:
    c, d = _coefficients(g, g.spin, 1)
    return conserved.block_average(np.stack([c.imag, -d.imag]), g.energies, g.degeneracy_tol)


def _check_model(g: geo.BandGeometry) -> None:
    """Point orbitals on a lattice model; a continuum k·p model (fixed basis, e^{iq·r} = 1) is checked by
    :func:`check_continuum` at the entry point."""
    if g.model is not None and g.model.periodic:
        conserved.check_point_orbitals(g)


def check_continuum(model, mesh, fermi: np.ndarray, kt: float) -> None:
    """Refuse a continuum model unless every band is empty on the cutoff surface (E_F + 10 k_BT below it).

    With every band filled or every band empty at a k-point the per-state values sum to zero (K(q) and M vanish
    for a full or empty set of bands), so the integrand is confined inside the outermost Fermi surface and the
    cutoff does not enter.  With some bands filled at the cutoff (an insulating k·p model such as continuum
    Bi2Se3, the valence bands filled to the cutoff) the result grows with the cutoff and is refused.
    """
    e = model.energies(mesh.boundary())
    lowest = float(e.min())
    top = float(np.max(fermi)) + 10 * kt
    if lowest <= top:
        raise ValueError(
            f"model '{model.name}' is a continuum k·p model and band states at the cutoff ({lowest:.4g} eV) lie "
            f"below E_F + 10 k_BT = {top:.4g} eV: the conserved spin current would depend on the cutoff (bands "
            "filled to the cutoff). It is defined on a continuum model only when every band is empty at the cutoff "
            "(a metal whose Fermi surfaces lie inside it); use a lattice model otherwise")


def torque_dipole_parts(g: geo.BandGeometry) -> np.ndarray:
    """Route 1: per-state ``ħπ^l_ij/e`` as parts (Fermi sea × f, Fermi surface × (−f')), (2, 3, dim, dim, N, n).

    In a gap the surface part does not contribute and the sea part is
    :func:`properspin.conserved.torque_dipole_analytic` (tested to 1e-12).
    """
    g._need_spin()
    _check_model(g)
    return _blocks(_torque_parts, g)


def conserved_kubo_parts(g: geo.BandGeometry) -> np.ndarray:
    """Route 1: conventional Kubo (Fermi sea) + torque dipole, parts (sea, surface), (2, 3, dim, dim, N, n)."""
    parts = torque_dipole_parts(g)
    parts[0] += geo.conventional_spin_curvature(g)
    return parts


def spin_density_parts(g: geo.BandGeometry) -> np.ndarray:
    """``σ^l_ij = −i ∂_{q_i} L^l_j`` from the spin density at finite q, parts (sea, surface).

    Equal to :func:`conserved_kubo_parts` state by state (the Ward identity of ``ṡ = t − ∇·j``): a check of the
    algebra, not an independent route.
    """
    g._need_spin()
    _check_model(g)
    return _blocks(_density_parts, g)


#: Largest share of k-points with a degenerate block (beyond isolated crossings) that route 2 accepts in a metal.
DEGENERATE_SHARE = 0.1


def _intraband_dipole(g: geo.BandGeometry) -> np.ndarray:
    """Per-state ``D_ij = −(x_i v_j + s_nn y_ij)``, the static-minus-dynamic intraband term of the spin density.

    ``x^l_i = Σ_p Im(s^l_np V^i_pn)/(ε_n − ε_p)`` (spin dipole), ``y_ij = Σ_p Im(V^i_np V^j_pn)/(ε_n − ε_p)``
    (orbital moment), (3, dim, dim, N, n); pairs inside a degenerate block left out, then block-averaged.
    """
    e = g.energies
    same = conserved._degenerate(e, g.degeneracy_tol)
    with np.errstate(divide="ignore"):
        nd = np.where(same, 0.0, 1.0 / (e[:, :, None] - e[:, None, :]))
    s, v = g.spin, g.velocity
    x = np.einsum("lknp,ikpn,knp->lkin", s, v, nd).imag
    y = np.einsum("iknp,jkpn,knp->kijn", v, v, nd).imag
    vd, sd = np.einsum("jknn->kjn", v).real, np.einsum("lknn->lkn", s).real
    return -(np.einsum("lkin,kjn->lijkn", x, vd) + np.einsum("lkn,kijn->lijkn", sd, y))


def streda_metal_parts(g: geo.BandGeometry, zeeman_step: float) -> np.ndarray:
    """Route 2 in metals: ``σ = σ^II + σ^I``, parts (q_f, q_G, ε q_G, q_d), (4, 3, dim, dim, N, n).

    ``σ^II = −(ħ/e) ∂M_c/∂h_l`` at fixed μ (thermodynamic spin Středa term: the Zeeman derivative of the
    orbital magnetisation, :func:`properspin.conserved.spin_streda`, plus its Fermi-surface part
    ``Σ δ(ε_n − μ) s_nn m_n``); ``σ^I = −Σ δ(ε_n − μ) D^A_n`` (Hall part of :func:`_intraband_dipole`) turns the
    static (ω → 0 first) response into Shi's dc order.  Hall (antisymmetric) part only.
    """
    from . import orbital

    e, tol = g.energies, g.degeneracy_tol
    same = conserved._degenerate(e, tol).sum(-1) > 1
    if same.any(-1).mean() > DEGENERATE_SHARE:
        raise ValueError(
            f"conserved_spin_streda_metal: {100 * same.any(-1).mean():.0f}% of the k-points have degenerate bands "
            "(Kramers pairs of a PT-symmetric model): its Fermi-surface terms are written for non-degenerate bands; "
            "use conserved_spin_metal (route 1), which handles degenerate blocks")
    sea = conserved.spin_streda(g, zeeman_step)
    m = orbital.moment_parts(g)[0]
    sd = np.einsum("lknn->lkn", g.spin).real
    fs = geo.levi_civita_contract(np.einsum("lkn,ckn->clkn", sd, m), g.dim)
    d = _intraband_dipole(g)
    surface = conserved.block_average(fs - 0.5 * (d - d.transpose(0, 2, 1, 3, 4)), e, tol)
    return np.concatenate([sea, surface[None]])


def drude_parts(g: geo.BandGeometry) -> np.ndarray:
    """Per-state Drude weight ``s^l_nn v_n,i v_n,j`` (eV²·Å², spin in ħ) as a Fermi-surface part, (2, 3, d, d, N, n).

    ``W^l_ij = Σ δ(ε_n − μ) s^l_nn v_i v_j`` is the weight of the symmetric term that Shi's order of limits leaves
    ∝ 1/ω in a clean metal (∝ 1/Γ with a relaxation rate): zero with time reversal or PT, not zero in a ferromagnet
    or with an exchange field.  It is not part of the metal responses: they accumulate it in their own pass as a
    companion sum (:func:`drude_summary`).
    """
    g._need_spin()
    v = np.einsum("iknn->ikn", g.velocity).real
    sd = np.einsum("lknn->lkn", g.spin).real
    w = np.einsum("lkn,ikn,jkn->lijkn", sd, v, v)
    return conserved.block_average(np.stack([np.zeros_like(w), w]), g.energies, g.degeneracy_tol)


#: Drude weights below this fraction of ``max |σ| × 1 eV`` count as zero (time reversal or PT up to round-off).
DRUDE_TOL = 1e-8


def drude_summary(job: Any, values: np.ndarray, sums: np.ndarray) -> dict[str, Any]:
    """Attrs (and a warning) of a metal response from its companion sums W = ``spin_drude_weight`` (same pass).

    ``drude_weight_max`` = max |W| over Fermi energies and components at the highest temperature (0 when every
    E_F lies in a gap or T = 0); a :class:`MetallicFermiWarning` when it exceeds :data:`DRUDE_TOL` × max |σ|: the
    symmetric part of the dc response then lacks its W/Γ term (the Hall part is complete).
    """
    inside = ~np.asarray(job.band_attrs["fermi_in_gap"], dtype=bool)
    temps = np.asarray(job.temperatures)
    if not inside.any() or np.all(temps <= 0):
        return {"drude_weight_max": 0.0}
    wmax = float(np.max(np.abs(sums[int(np.argmax(temps))])))
    out = {"drude_weight_max": wmax, "drude_note": "symmetric Drude term ∝ W/Γ (spin_drude_weight) not included"}
    if wmax > DRUDE_TOL * max(float(np.nanmax(np.abs(values))), 1e-300):
        warnings.warn(
            f"{job.response.name}: the Drude weight W = Σ δ(ε − E_F) s v_i v_j is {wmax:.3g} (spin_drude_weight; the "
            "model breaks time reversal and PT): the symmetric part of the dc conserved spin current has a term ∝ W/Γ "
            "that needs a relaxation rate Γ and is not included; the Hall (antisymmetric) part is complete",
            MetallicFermiWarning, stacklevel=5)
    return out
