"""The band-geometry stage: gauge-covariant per-band quantities at a batch of k-points.

Everything here is written in the eigenbasis of H(k) from the band-basis velocity
``V^a = U† ∂_a H U + i[E, Ā^a]`` (eV·Å; Ā = U† A^W U is the Wannier position term, zero in the
tight-binding limit) and spin ``S^l = U† s^l U`` (units of ħ).  With ``Δ_mn = ε_m − ε_n``:

* interband Berry connection  ``R^a_mn = i V^a_mn / (ε_n − ε_m)``                       (conventions §1)
* Berry curvature             ``Ω^c_m = −2 Σ_n Im(V^a_mn V^b_nm) / Δ_mn²``   (a, b, c cyclic)
* proper spin Berry curvature ``Σ^{c,l}_m = −2 Σ_n s^l_nn Im(V^a_mn V^b_nm) / Δ_mn²``   (Eq. 2, C6)
* linear response of any k-local Hermitian operator A to E_j through ρ_E (Eq. 6):
  ``Tr(A ρ_E) = e E_j Σ_m f_m Q_m`` with ``Q_m = Σ_n 2 Im(A_nm V^j_mn) / Δ_mn²``            (:func:`density_response`)

Each per-band quantity Q has units of Å² (times spin in ħ); a response is ``e ∫ d^dk/(2π)^d Σ_m f_m Q_m``.
Near-degenerate pairs (|Δ| < ``degeneracy_tol``) are excluded from every sum and counted (conventions §3).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .conventions import CYCLIC_PAIRS as _CYCLIC
from .conventions import DEGENERACY_TOL, excluded, gauge_dependent, spin_split
from .model import Model


@dataclass
class BandGeometry:
    """Eigen-decomposition of H at a batch of k-points in the form every formula needs."""

    energies: np.ndarray  # (N, n) eV
    velocity: np.ndarray  # (dim, N, n, n) band basis, eV·Å
    spin: np.ndarray | None  # (3, N, n, n) band basis, ħ
    torque: np.ndarray | None  # (3, N, n, n) band basis, t = i[H, s]/ħ in eV
    degeneracy_tol: float
    wannier_curvature: np.ndarray | None = None  # (nc, N, n): (U† F^W U)_mm of a Wannier model, Å²
    #: the model's ab-initio spin current (Model.spin_current) at these k, evaluated on first use
    spin_current_source: Callable[[], np.ndarray] | None = None
    _cache: dict = field(default_factory=dict, repr=False)
    model: Model | None = None  # the model and k-points (N, dim) it came from, for responses that need
    k: np.ndarray | None = None  # H away from these k (finite q) or H + h·s (Zeeman derivatives)

    @property
    def dim(self) -> int:
        return self.velocity.shape[0]

    def inverse_gap_squared(self, broadening: float = 0.0) -> np.ndarray:
        """``1/(Δ_mn² + η²)`` with zeros on the diagonal and on near-degenerate pairs, (N, n, n)."""
        d = self.energies[:, :, None] - self.energies[:, None, :]
        with np.errstate(divide="ignore"):
            out = 1.0 / (d * d + broadening**2)
        out[excluded(d, self.degeneracy_tol)] = 0.0
        return out

    def degenerate_pairs(self) -> np.ndarray:
        """Boolean (N, n, n) mask of off-diagonal pairs closer than ``degeneracy_tol``."""
        mask = excluded(self.energies[:, :, None] - self.energies[:, None, :], self.degeneracy_tol)
        n = self.energies.shape[1]
        mask[:, np.arange(n), np.arange(n)] = False
        return mask

    @property
    def spin_diagonal(self) -> np.ndarray:
        """``s^l_mm`` (3, N, n), real."""
        self._need_spin()
        return np.einsum("lkmm->lkm", self.spin).real

    def spin_current(self, method: str = "simple") -> np.ndarray:
        """Band-basis conventional spin current ½{s^l, v^a}, (3, dim, N, n, n) in ħ·eV·Å.

        ``"simple"``: from the model's own s and v (products inside its bands); ``"qiao"``: the model's
        ``spin_current`` (Qiao et al., PRB 98, 214402: <ψ_n|σ v|ψ_m> through all ab-initio bands of a
        Wannier90 run).
        """
        if method == "simple":
            self._need_spin()
            return _anticommutator_with_velocity(self.spin, self)
        if method != "qiao":
            raise ValueError(f"spin-current method must be 'simple' or 'qiao', got {method!r}")
        if self.spin_current_source is None:
            raise ValueError("method='qiao' needs a model with ab-initio spin-current matrix elements "
                             "(Model.spin_current: a Wannier90 run read with its .spn, .mmn and .eig)")
        if "qiao" not in self._cache:
            self._cache["qiao"] = np.asarray(self.spin_current_source())
        return self._cache["qiao"]

    def _need_spin(self) -> None:
        if self.spin is None:
            raise ValueError("this quantity needs a spin operator, but the model has spin=None")


def band_geometry(model: Model, k: np.ndarray, degeneracy_tol: float = DEGENERACY_TOL, with_spin: bool = True
                  ) -> BandGeometry:
    """Diagonalise H(k) and rotate ∂H/∂k, the position term and (``with_spin``) the spin into the band basis."""
    h = model.h(k)
    energies, u = np.linalg.eigh(h)
    return geometry_from_eigenvectors(model, k, h, energies, u, degeneracy_tol, with_spin)


def geometry_from_eigenvectors(
    model: Model, k: np.ndarray, h: np.ndarray, energies: np.ndarray, u: np.ndarray, degeneracy_tol: float,
    with_spin: bool = True,
) -> BandGeometry:
    """Band-basis quantities from given eigenvectors ``u`` (N, n, n) — any gauge (phases, rotations)."""
    ud = u.conj().transpose(0, 2, 1)
    dh_bar = ud @ model.dh(k) @ u
    velocity = dh_bar
    a_w = model.berry_connection_orbital(k)
    f_bar = None
    if a_w is not None:
        a_bar = ud @ a_w @ u
        velocity = velocity + 1j * (energies[:, :, None] - energies[:, None, :]) * a_bar
        f_bar = _wannier_curvature(a_w, model.berry_connection_orbital_curl(k), u, ud)
    spin = torque = None
    if model.spin is not None and with_spin:
        spin = ud[None] @ model.spin[:, None] @ u[None]
        t_orb = 1j * (h[None] @ model.spin[:, None] - model.spin[:, None] @ h[None])
        torque = ud[None] @ t_orb @ u[None]
    elif model.spin_k is not None and with_spin:  # S(k) of a Wannier90 run: t = i[H(k), S(k)]
        s_orb = model.spin_at(k)
        spin = ud[None] @ s_orb @ u[None]
        torque = ud[None] @ (1j * (h[None] @ s_orb - s_orb @ h[None])) @ u[None]
    source = None
    if model.spin_current is not None:
        source = functools.partial(model.spin_current, k, energies, u, dh_bar, degeneracy_tol)
    return BandGeometry(energies, velocity, spin, torque, degeneracy_tol, f_bar, source, model=model, k=k)


def _wannier_curvature(a_w: np.ndarray, curl: np.ndarray, u: np.ndarray, ud: np.ndarray) -> np.ndarray:
    """``(U† F^W_c U)_mm`` with ``F^W_c = ∂_a A^W_b − ∂_b A^W_a − i[A^W_a, A^W_b]`` (Wang et al. 2006, Eq. 27).

    The curvature of the Wannier-gauge connection itself: the part of Ω that no interband sum inside
    the Wannier manifold can give.  Zero for constant diagonal orbital centres.
    """
    out = []
    for c, (a, b) in enumerate(_CYCLIC[a_w.shape[0]]):
        f = curl[c] - 1j * (a_w[a] @ a_w[b] - a_w[b] @ a_w[a])
        out.append(np.einsum("kmi,kij,kjm->km", ud, f, u).real)
    return np.stack(out)


# ------------------------------------------------------------------------ Berry connection/curvature
def berry_connection(g: BandGeometry) -> np.ndarray:
    """Interband Berry connection ``R^a_mn = i V^a_mn / (ε_n − ε_m)`` (dim, N, n, n), diagonal zero (Å)."""
    d = g.energies[:, None, :] - g.energies[:, :, None]  # ε_n − ε_m
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 1j * g.velocity / d
    r[:, excluded(d, g.degeneracy_tol)] = 0.0
    return r


def _curvature_pairs(g: BandGeometry) -> np.ndarray:
    """``G^c_mn = Im(V^a_mn V^b_nm)/Δ²`` for each cyclic (a, b) → c, shape (nc, N, n, n)."""
    inv = g.inverse_gap_squared()
    v = g.velocity
    return np.stack([(v[a] * v[b].transpose(0, 2, 1)).imag * inv for a, b in _CYCLIC[g.dim]])


def berry_curvature(g: BandGeometry, wannier: bool = True) -> np.ndarray:
    """``Ω^c_m`` (nc, N, n) in Å²: c = (x, y, z) in 3D, (z,) in 2D.

    For a Wannier model with position elements ``Ω_m = (U† F^W U)_mm + i Σ_{n≠m}(R^a_mn R^b_nm − R^b_mn R^a_nm)``
    (Wang et al. Eq. 27); ``wannier=False`` gives the interband sum alone, the Ω that enters the
    Appendix-C closed forms together with Eq. (2), which sums over the model's bands only.
    """
    omega = -2 * _curvature_pairs(g).sum(axis=-1)
    if wannier and g.wannier_curvature is not None:
        omega = omega + g.wannier_curvature
    return omega


def proper_spin_curvature(g: BandGeometry) -> np.ndarray:
    """Eq. (2): ``Σ^{c,l}_m = i Σ_{n≠m} s^l_nn (R^a_mn R^b_nm − R^b_mn R^a_nm)``, shape (nc, 3, N, n).

    Note the band-diagonal spin of the *other* band n.
    """
    pairs = _curvature_pairs(g)  # (nc, N, m, n)
    return -2 * np.einsum("ckmn,lkn->clkm", pairs, g.spin_diagonal)


# ------------------------------------------------------------------------ density-matrix responses
def density_response(g: BandGeometry, a_op: np.ndarray, broadening: float = 0.0,
                     eigval_max: float | None = None) -> np.ndarray:
    """Per-band ``Q^j_m = Σ_n 2 Im(A_nm V^j_mn)/(Δ² + η²)`` so that ``Tr(A ρ_E) = e E_j Σ_m f_m Q^j_m``.

    ``a_op`` (..., N, n, n) Hermitian band-basis operator; returns (..., dim_j, N, n).  ρ_E is Eq. (6).
    ``eigval_max`` (eV) drops every pair with a band above it (Wannier90's ``kubo_eigval_max``).
    """
    inv = g.inverse_gap_squared(broadening)
    if eigval_max is not None and np.isfinite(eigval_max):
        high = g.energies > eigval_max
        inv = np.where(high[:, :, None] | high[:, None, :], 0.0, inv)
    a_t = np.swapaxes(a_op, -1, -2)
    return np.stack([2 * ((a_t * g.velocity[j]).imag * inv).sum(-1) for j in range(g.dim)], axis=-3)


def _anticommutator_with_velocity(op: np.ndarray, g: BandGeometry) -> np.ndarray:
    """``½{op^l, V^i}`` for each spin l and current i: (3, dim, N, n, n)."""
    v = g.velocity[None]  # (1, dim, N, n, n)
    o = op[:, None]  # (3, 1, N, n, n)
    return 0.5 * (o @ v + v @ o)


def conventional_spin_curvature(g: BandGeometry, broadening: float = 0.0, method: str = "simple",
                                eigval_max: float | None = None) -> np.ndarray:
    """Conventional (Kubo) spin response: ``Tr(½{s^l, v_i} ρ_E)`` per band, shape (3, dim_i, dim_j, N, n).

    ``method`` chooses the spin-current matrix (:meth:`BandGeometry.spin_current`): ``"simple"`` ½{s, v} inside
    the model's bands, ``"qiao"`` the ab-initio one of a Wannier90 run (Qiao et al. 2018, as postw90).
    """
    return density_response(g, g.spin_current(method), broadening, eigval_max)


def conventional_spin_curvature_ac(g: BandGeometry, frequency: float, broadening: float, method: str = "simple",
                                   eigval_max: float | None = None) -> np.ndarray:
    """The ac (Kubo) conventional spin response per band, (2, 3, dim_i, dim_j, N, n): real and imaginary parts of
    ``Q_m(ω) = Σ_n 2 Im(J_nm V^j_mn) / (Δ_mn² − (ħω + iη)²)`` (postw90's ``shc_freq_scan``; ω, η in eV); at ω = 0 the
    real part is :func:`conventional_spin_curvature` and the imaginary part vanishes."""
    d = g.energies[:, :, None] - g.energies[:, None, :]
    z = complex(frequency, broadening)
    with np.errstate(divide="ignore", invalid="ignore"):
        fac = 1.0 / (d * d - z * z)
    skip = np.abs(d) < g.degeneracy_tol
    skip[:, np.arange(d.shape[1]), np.arange(d.shape[1])] = True
    if eigval_max is not None and np.isfinite(eigval_max):
        high = g.energies > eigval_max
        skip |= high[:, :, None] | high[:, None, :]
    fac[skip] = 0.0
    a_t = np.swapaxes(g.spin_current(method), -1, -2)
    q = np.stack([2 * ((a_t * g.velocity[j]).imag * fac).sum(-1) for j in range(g.dim)], axis=-3)
    return np.stack([q.real, q.imag])


def _split_spin(g: BandGeometry) -> tuple[np.ndarray, np.ndarray]:
    g._need_spin()
    n = g.spin.shape[-1]
    eye = np.eye(n, dtype=bool)
    return np.where(eye, g.spin, 0), np.where(eye, 0, g.spin)


def appendix_c_terms(g: BandGeometry) -> dict[str, np.ndarray]:
    """The four terms of Appendix C, each per band with shape (3, dim_i, dim_j, N, n).

    * ``C6``  conventional current carried by band-diagonal spin, ½ Σ_m s_mm {v_i, ρ_E}_mm (closed form
      ½ ε_ijc (s_mm Ω^c + Σ^{c,l}));
    * ``C7``  the rest of the conventional current (off-diagonal spin);
    * ``C11`` torque dipole from the Q-dependent ρ_E, i Tr t^l ∂ρ_{EQ}/∂Q_i with t = i[H, s]/ħ (C8–C10);
    * ``C24`` torque dipole from the Q-dependent equilibrium ρ, ½ ε_ijc (Σ^{c,l} − s_mm Ω^c).
    (C7) + (C11) = 0 and (C6) + (C24) = Eq. (1).
    """
    s_d, s_od = _split_spin(g)
    c6 = density_response(g, _anticommutator_with_velocity(s_d, g))
    c7 = density_response(g, _anticommutator_with_velocity(s_od, g))
    # (C9)-(C10): I = Tr({X, V_i} ρ_E) with X_mn = −i t_mn / (2(ε_n − ε_m)).
    d = g.energies[:, None, :] - g.energies[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = -0.5j * g.torque / d
    x[:, excluded(d, g.degeneracy_tol)] = 0.0
    c11 = density_response(g, 2 * _anticommutator_with_velocity(x, g))
    omega = berry_curvature(g, wannier=False)  # (nc, N, n), interband as in (C6)
    sigma = proper_spin_curvature(g)  # (nc, 3, N, n)
    s_mm = g.spin_diagonal  # (3, N, n)
    c24 = 0.5 * levi_civita_contract(sigma - omega[:, None] * s_mm[None], g.dim)
    return {"C6": c6, "C7": c7, "C11": c11, "C24": c24}


def levi_civita_contract(q: np.ndarray, dim: int) -> np.ndarray:
    """``ε_ijc q^c`` → (3, dim_i, dim_j, N, n) from q of shape (nc, 3, N, n) (the × of Eq. 1)."""
    nc, nl, nk, nb = q.shape
    out = np.zeros((nl, dim, dim, nk, nb), dtype=q.dtype)
    for c, (a, b) in enumerate(_CYCLIC[dim]):
        out[:, a, b] += q[c]
        out[:, b, a] -= q[c]
    return out


def torque_response(g: BandGeometry) -> np.ndarray:
    """Torque density per band: ``Tr(t^l ρ_E) = e E_j Σ_m f_m Q^{l,j}_m``, shape (3, dim_j, N, n), Q in Å."""
    return density_response(g, g.torque)


def degenerate_contributions(g: BandGeometry) -> np.ndarray:
    """(N, n, n) mask of near-degenerate pairs (n, n') on which ``s_nn`` is gauge-dependent (conventions §3).

    Inside a degenerate subspace D the band-diagonal spin of Eq. (2) depends on the basis chosen in D
    unless the spin restricted to D is ∝ 1; a pair is flagged when ``s^l_nn'`` ≠ 0 or
    ``s^l_nn ≠ s^l_n'n'`` for some l (the rule of :mod:`properspin.conventions`).
    """
    mask = g.degenerate_pairs()
    if not mask.any() or g.spin is None:
        return mask & False
    s = g.spin
    sd = g.spin_diagonal
    split = np.max(spin_split(s, sd[:, :, :, None], sd[:, :, None, :]), axis=0)
    return mask & gauge_dependent(split)
