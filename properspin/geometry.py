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
Near-degenerate pairs (|Δ| < ``degeneracy_tol``) are excluded from every energy denominator.  Consecutive bands
closer than the tolerance form degenerate blocks (conventions §3): Σ then takes the block-trace form
(:func:`block_trace_curvature`, derived from Appendix C with projectors), the Appendix-C terms use the
block-diagonal spin, and :func:`regulated_limit_parts` gives the λ → 0 limit of a Zeeman-regulated Eq. (2) as
block trace + projection Π(m̂) + intra-pair X(m̂).  :func:`occupation_parts` splits Eq. (1) into its
occupied–empty and occupied–occupied parts (with an optional dephasing weight).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .conventions import CYCLIC_PAIRS as _CYCLIC
from .conventions import DEGENERACY_TOL, excluded, gauge_dependent, new_block, spin_split
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
    position: np.ndarray | None = None  # (dim, N, n, n): Ā = U† A^W U, band-basis Wannier position term, Å

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

    def subset(self, keep: np.ndarray) -> BandGeometry:
        """The geometry of the k-points selected by the boolean or index array ``keep``."""
        def cut(x: np.ndarray | None, axis: int) -> np.ndarray | None:
            return None if x is None else np.take(x, np.flatnonzero(keep) if np.asarray(keep).dtype == bool
                                                  else keep, axis=axis)
        return BandGeometry(cut(self.energies, 0), cut(self.velocity, 1), cut(self.spin, 1), cut(self.torque, 1),
                            self.degeneracy_tol, cut(self.wannier_curvature, 1), model=self.model,
                            k=cut(self.k, 0), position=cut(self.position, 1))

    def rotated(self, w: np.ndarray) -> BandGeometry:
        """The same states in another gauge ``U → U W``, ``w`` (N, n, n) unitary and block-diagonal on the
        degenerate blocks (energies unchanged).  The per-band Wannier curvature is kept as it is (it enters no
        block-rotated formula)."""
        wd = w.conj().transpose(0, 2, 1)

        def rot(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else wd[None] @ x @ w[None]
        return BandGeometry(self.energies, rot(self.velocity), rot(self.spin), rot(self.torque), self.degeneracy_tol,
                            self.wannier_curvature, model=self.model, k=self.k, position=rot(self.position))

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


def band_geometry(model: Model, k: np.ndarray, degeneracy_tol: float = DEGENERACY_TOL, with_spin: bool = True,
                  with_torque: bool = True, with_curvature: bool = True) -> BandGeometry:
    """Diagonalise H(k) and rotate ∂H/∂k, the position term and (``with_spin``) the spin into the band basis.

    ``with_torque`` / ``with_curvature``: also the torque ``i[H, s]`` and the Wannier curvature term (only the
    Appendix-C / torque responses and the Berry curvature need them; skipping them saves ~20 % per k-point).
    """
    from .eigen import eigh  # here, not at the top: importing properspin loads no numba

    h = model.h(k)
    energies, u = eigh(h)  # the kernel's eigensolver: both paths see the same eigenvalues (bin weights)
    return geometry_from_eigenvectors(model, k, h, energies, u, degeneracy_tol, with_spin, with_torque,
                                      with_curvature)


def geometry_from_eigenvectors(
    model: Model, k: np.ndarray, h: np.ndarray, energies: np.ndarray, u: np.ndarray, degeneracy_tol: float,
    with_spin: bool = True, with_torque: bool = True, with_curvature: bool = True,
) -> BandGeometry:
    """Band-basis quantities from given eigenvectors ``u`` (N, n, n) — any gauge (phases, rotations)."""
    ud = u.conj().transpose(0, 2, 1)
    dh_bar = ud @ model.dh(k) @ u
    velocity = dh_bar
    a_w = model.berry_connection_orbital(k)
    f_bar = a_bar = None
    if a_w is not None:
        a_bar = ud @ a_w @ u
        velocity = velocity + 1j * (energies[:, :, None] - energies[:, None, :]) * a_bar
        if with_curvature:
            f_bar = _wannier_curvature(a_w, model.berry_connection_orbital_curl(k), u, ud)
    spin = torque = None
    if model.spin is not None and with_spin:
        spin = ud[None] @ model.spin[:, None] @ u[None]
        if with_torque:
            t_orb = 1j * (h[None] @ model.spin[:, None] - model.spin[:, None] @ h[None])
            torque = ud[None] @ t_orb @ u[None]
    elif model.spin_k is not None and with_spin:  # S(k) of a Wannier90 run: t = i[H(k), S(k)]
        s_orb = model.spin_at(k)
        spin = ud[None] @ s_orb @ u[None]
        if with_torque:
            torque = ud[None] @ (1j * (h[None] @ s_orb - s_orb @ h[None])) @ u[None]
    source = None
    if model.spin_current is not None:
        source = functools.partial(model.spin_current, k, energies, u, dh_bar, degeneracy_tol)
    return BandGeometry(energies, velocity, spin, torque, degeneracy_tol, f_bar, source, model=model, k=k,
                        position=a_bar)


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


DEGENERATE_MODES = ("block_trace", "exclude")


def proper_spin_curvature(g: BandGeometry, degenerate: str = "block_trace") -> np.ndarray:
    """Eq. (2): ``Σ^{c,l}_m = i Σ_{n≠m} s^l_nn (R^a_mn R^b_nm − R^b_mn R^a_nm)``, shape (nc, 3, N, n).

    Note the band-diagonal spin of the *other* band n.  At k-points with degenerate blocks (bands closer
    than ``degeneracy_tol``, :func:`block_labels`) ``degenerate="block_trace"`` uses the block-trace form
    (:func:`block_trace_curvature`, conventions §3), which is Eq. (2) wherever there is no degeneracy;
    ``"exclude"`` keeps Eq. (2) with the pairs inside ``degeneracy_tol`` dropped and ``s_nn`` of whatever
    basis the eigensolver returned (gauge-dependent inside a block).
    """
    if degenerate not in DEGENERATE_MODES:
        raise ValueError(f"degenerate must be one of {DEGENERATE_MODES}, got {degenerate!r}")
    pairs = _curvature_pairs(g)  # (nc, N, m, n)
    out = -2 * np.einsum("ckmn,lkn->clkm", pairs, g.spin_diagonal)
    if degenerate == "block_trace":
        deg = degenerate_kpoints(g)
        if deg.any():
            out[:, :, deg] = block_trace_curvature(g.subset(deg))
    return out


# ------------------------------------------------------------------------ degenerate blocks (conventions §3)
def block_labels(energies: np.ndarray, tol: float) -> np.ndarray:
    """(N, n) block index of each band: consecutive (sorted) bands whose gap is excluded share a block
    (:func:`properspin.conventions.new_block`)."""
    new = np.ones(energies.shape, dtype=bool)
    new[:, 1:] = new_block(np.diff(energies, axis=1), tol)
    return np.cumsum(new, axis=1) - 1


def same_block(g: BandGeometry) -> np.ndarray:
    """(N, n, n) True where bands m and n belong to the same degenerate block (diagonal included)."""
    lab = block_labels(g.energies, g.degeneracy_tol)
    return lab[:, :, None] == lab[:, None, :]


def degenerate_kpoints(g: BandGeometry) -> np.ndarray:
    """(N,) True at k-points with a block of two or more bands."""
    if g.energies.shape[1] < 2:
        return np.zeros(len(g.energies), dtype=bool)
    return (~new_block(np.diff(g.energies, axis=1), g.degeneracy_tol)).any(axis=1)


def block_share(q: np.ndarray, same: np.ndarray) -> np.ndarray:
    """Each band's equal share of its block's sum: ``q`` (..., N, n) → (..., N, n), block sums unchanged."""
    size = same.sum(axis=-1)
    return np.einsum("kmn,...kn->...km", same.astype(q.dtype), q) / size


def _interblock_connection(g: BandGeometry, same: np.ndarray) -> np.ndarray:
    """``R^a_mn = i V^a_mn/(ε_n − ε_m)`` between different blocks, zero inside blocks (dim, N, n, n)."""
    d = g.energies[:, None, :] - g.energies[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 1j * g.velocity / np.where(same, 1.0, d)
    r[:, same] = 0.0
    return r


def spin_pair_terms(g: BandGeometry, degenerate: str = "block_trace") -> np.ndarray:
    """Pair-resolved Eq. (2): ``G^{c,l}_mn`` (nc, 3, N, n, n) with ``Σ^{c,l}_m = Σ_n G^{c,l}_mn`` (before the
    block share).

    ``exclude``: ``G_mn = −2 s_nn Im(V^a_mn V^b_nm)/Δ²`` (pairs within ``degeneracy_tol`` dropped).
    ``block_trace``: the same where there is no degeneracy; at k-points with degenerate blocks
    ``G_mn = −2 Im[R^a_mn (s_bd R^b)_nm]`` with R between different blocks only and ``s_bd = Σ_α P_α s P_α``;
    summed over m in block β and n in block α it is the (β, α) term ``i Tr[R^a_βα s_α R^b_αβ − R^b_βα s_α R^a_αβ]``.
    """
    out = -2 * np.einsum("ckmn,lkn->clkmn", _curvature_pairs(g), g.spin_diagonal)
    deg = degenerate_kpoints(g) if degenerate == "block_trace" else None
    if deg is not None and deg.any():
        gd = g.subset(deg)
        same = same_block(gd)
        r = _interblock_connection(gd, same)
        s_bd = np.where(same, gd.spin, 0.0)
        for c, (a, b) in enumerate(_CYCLIC[g.dim]):
            for l in range(3):
                out[c, l, deg] = -2 * (r[a] * (s_bd[l] @ r[b]).transpose(0, 2, 1)).imag
    return out


def block_trace_curvature(g: BandGeometry, spin: np.ndarray | None = None) -> np.ndarray:
    """Block-trace form of Eq. (2) (conventions §3), each band's equal share of its block's value:

        ``Σ^{c,l}_β = i Σ_{α≠β} Tr[R^a_βα s^l_α R^b_αβ − R^b_βα s^l_α R^a_αβ]``,  ``s^l_α = P_α s^l P_α``,

    invariant under unitary rotations inside blocks; Eq. (2) where every block is one band.  Shape
    (nc, 3, N, n).  ``spin`` (3, N, n, n) replaces the band-basis spin (only its block-diagonal part enters).
    """
    same = same_block(g)
    r = _interblock_connection(g, same)
    s_bd = np.where(same, g.spin if spin is None else spin, 0.0)
    out = np.empty((len(_CYCLIC[g.dim]), 3) + g.energies.shape)
    for c, (a, b) in enumerate(_CYCLIC[g.dim]):
        for l in range(3):
            out[c, l] = -2 * np.einsum("kmn,knm->km", r[a], s_bd[l] @ r[b]).imag
    return block_share(out, same)


def occupation_parts(g: BandGeometry, pair_terms: np.ndarray, dephasing: float = 0.0, share: bool = True
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Occupied–empty and occupied–occupied per-band deposits of Eq. (1) (conventions §3).

    With bands in ascending order, ``Σ_m f_m Σ_m = Σ_{n<m} [f_n G_nm + f_m G_mn]``; at T = 0 a pair with
    both bands occupied (``f_n f_m = θ(E_F − ε_m)``) contributes ``G_nm + G_mn``, deposited at the upper
    band m.  Returns per-band arrays (… , N, n) to be occupied with ``f(ε_m)``:

    * occupied–occupied ``O_m = Σ_{n<m} w_nm (G_nm + G_mn)``;
    * occupied–empty    ``E_m = Σ_{n>m} G_mn − Σ_{n<m} G_nm``  (so that ``E_m + O_m = Σ_m`` when w = 1),

    each shared equally inside degenerate blocks with ``share`` (the block-trace form; not with ``"exclude"``).
    ``dephasing`` η > 0 gives the occupied–occupied pairs the weight ``w_nm = Δ²/(Δ² + η²)`` (Δ = ε_m − ε_n).
    At T > 0 the same deposits are folded with f(ε_m): the occupied–occupied part is then weighted by f of the
    upper band of each pair, and the two parts still add up to ``Σ_m f_m Σ_m``.
    """
    n = g.energies.shape[1]
    low = np.tril(np.ones((n, n)), -1)  # [m, n] = 1 for n < m
    lead = pair_terms.shape[:-3]
    g2 = pair_terms.reshape((-1,) + pair_terms.shape[-3:])  # (C, N, n, n)
    down = np.einsum("ckmn,mn->ckm", g2, low)  # Σ_{n<m} G_mn
    up_t = np.einsum("cknm,mn->ckm", g2, low)  # Σ_{n<m} G_nm
    occ_empty = np.einsum("ckmn,nm->ckm", g2, low) - up_t  # Σ_{n>m} G_mn − Σ_{n<m} G_nm
    if dephasing > 0:
        d = g.energies[:, :, None] - g.energies[:, None, :]
        wl = (d * d / (d * d + dephasing**2)) * low  # (N, n, n), weights on n < m
        occ_occ = np.einsum("ckmn,kmn->ckm", g2, wl) + np.einsum("cknm,kmn->ckm", g2, wl)
    else:
        occ_occ = down + up_t
    occ_empty = occ_empty.reshape(lead + occ_empty.shape[1:])
    occ_occ = occ_occ.reshape(lead + occ_occ.shape[1:])
    if not share:
        return occ_empty, occ_occ
    same = same_block(g)
    return block_share(occ_empty, same), block_share(occ_occ, same)


REGULATED_PARTS = ("block_trace", "projection", "intra_pair")


def regulated_limit_parts(g: BandGeometry, direction: np.ndarray) -> np.ndarray:
    """The λ → 0 limit of Eq. (2) for ``H + λ m̂·σ`` (σ = 2s/ħ), split as block-trace + Π(m̂) + X(m̂).

    Shape (3, nc, 3, N, n) along :data:`REGULATED_PARTS`, each shared equally inside degenerate blocks:

    * ``block_trace`` — :func:`block_trace_curvature`;
    * ``projection`` Π(m̂) — in each other block α the regulator picks the basis that diagonalises
      ``P_α (m̂·σ) P_α``; Eq. (2) keeps only the diagonal of ``s_α`` in it, so Π is the block trace with
      ``s_α`` replaced by ``diag(s_α) − s_α`` (zero when m̂ ∥ the spin component l);
    * ``intra_pair`` X(m̂) — the pairs inside a block, split by λμ_i: band i gets ``Σ_j s_jj Ω_ij`` with
      ``Ω^c_ij = i(R^a_ij R^b_ji − R^b_ij R^a_ji)`` and the finite limit of the intra-block connection
      ``R_ij = i Σ_{n∉β} [D_in M_nj + M_in D_nj] / ((ε_β − ε_n)(μ_j − μ_i)) + Ā_ij`` (first-order states;
      ``D = U†∂H U``, ``M = m̂·σ`` in the band basis, Ā the Wannier position term); for a doublet
      ``X = (s_−− − s_++) Ω_+−``.  Finite only when ``P_β D P_β`` is diagonal in the regulated basis (∝ 1 for
      a Kramers doublet); a block the regulator does not split at first order, or where D mixes the
      regulated states, has no limit and raises ``ValueError``.
    """
    m_hat = np.asarray(direction, dtype=float)
    m_hat = m_hat / np.linalg.norm(m_hat)
    nk, n = g.energies.shape
    nc = len(_CYCLIC[g.dim])
    out = np.zeros((3, nc, 3, nk, n))
    out[0] = proper_spin_curvature(g, "exclude")
    deg = degenerate_kpoints(g)
    if not deg.any():
        return out
    gd = g.subset(deg)
    same = same_block(gd)
    mb = 2 * np.einsum("l,lkij->kij", m_hat, gd.spin)
    w, mu = _block_eigh(mb, same)
    ga = gd.rotated(w)
    mb = 2 * np.einsum("l,lkij->kij", m_hat, ga.spin)
    bt = block_trace_curvature(ga)
    s_diag = np.where(np.eye(n, dtype=bool), ga.spin, 0.0)
    proj = block_trace_curvature(ga, spin=s_diag) - bt
    # intra-block connection in the regulated limit
    e = ga.energies
    d = e[:, :, None] - e[:, None, :]  # ε_m − ε_n
    inside = same & ~np.eye(n, dtype=bool)[None]
    dmu = mu[:, None, :] - mu[:, :, None]  # μ_j − μ_i
    scale = max(1.0, float(np.abs(mu).max()))
    unsplit = (inside & (np.abs(dmu) < 1e-8 * scale)).any(axis=(1, 2))
    if unsplit.any():
        direction = tuple(float(x) for x in m_hat.round(6))
        raise ValueError(f"the regulator direction {direction} does not split a degenerate block at first order "
                         f"(equal eigenvalues of P (m·σ) P) at {int(unsplit.sum())} k-point(s) of a chunk: the "
                         "regulated limit is singular there; shift the mesh off such points, choose another "
                         "direction or use degenerate='block_trace'")
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(same, 0.0, 1.0 / np.where(same, 1.0, d))
        inv_mu = np.where(inside, 1.0 / np.where(inside, dmu, 1.0), 0.0)
    r_in = []
    vscale = max(1.0, float(np.abs(ga.velocity).max()))
    for a in range(g.dim):
        dvel = ga.velocity[a]
        if ga.position is not None:
            dvel = dvel - 1j * d * ga.position[a]
        if np.abs(np.where(inside, dvel, 0.0)).max() > 1e-6 * vscale:
            raise ValueError("the velocity mixes the states of a degenerate block (P ∂H P is not diagonal in the "
                             "regulated basis, e.g. an accidental, non-Kramers degeneracy): the regulated Eq. (2) "
                             "diverges as 1/λ there and has no limit; use degenerate='block_trace'")
        d1 = (dvel * inv) @ mb + (mb * inv) @ dvel
        r = 1j * d1 * inv_mu
        if ga.position is not None:
            r = r + np.where(inside, ga.position[a], 0.0)
        r_in.append(r)
    s_d = np.einsum("lkmm->lkm", ga.spin).real
    x = np.empty_like(bt)
    for c, (a, b) in enumerate(_CYCLIC[g.dim]):
        omega = -2 * (r_in[a] * r_in[b].transpose(0, 2, 1)).imag  # Ω_ij = i(R^a_ij R^b_ji − c.c.)
        x[c] = np.einsum("kij,lkj->lki", omega, s_d)
    x = block_share(x, same)
    out[0][:, :, deg] = bt
    out[1][:, :, deg] = proj
    out[2][:, :, deg] = x
    return out


def _block_eigh(mat: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Diagonalise ``mat`` (N, n, n) inside each degenerate block: block-diagonal unitary W and the
    eigenvalues μ (N, n), ascending inside each block (vectorised over blocks of equal size)."""
    nk, n = mat.shape[:2]
    w = np.broadcast_to(np.eye(n, dtype=complex), (nk, n, n)).copy()
    mu = np.einsum("kii->ki", mat).real.copy()
    size = same.sum(-1)
    first = np.ones((nk, n), dtype=bool)
    first[:, 1:] = ~same[:, np.arange(1, n), np.arange(n - 1)]
    for d in np.unique(size[first]):
        if d < 2:
            continue
        kk, ii = np.nonzero(first & (size == d))
        idx = ii[:, None] + np.arange(d)
        ks, rows, cols = kk[:, None, None], idx[:, :, None], idx[:, None, :]
        vals, vecs = np.linalg.eigh(mat[ks, rows, cols])
        w[ks, rows, cols] = vecs
        mu[kk[:, None], idx] = vals
    return w, mu


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


def _split_spin(g: BandGeometry, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spin split into its block-diagonal part (band-diagonal without degeneracy) and the rest."""
    g._need_spin()
    s_d = np.where(same, g.spin, 0)
    return s_d, g.spin - s_d


def appendix_c_terms(g: BandGeometry, degenerate: str = "block_trace") -> dict[str, np.ndarray]:
    """The four terms of Appendix C, each per band with shape (3, dim_i, dim_j, N, n).

    * ``C6``  conventional current carried by band-diagonal spin, ½ Σ_m s_mm {v_i, ρ_E}_mm (closed form
      ½ ε_ijc (s_mm Ω^c + Σ^{c,l}));
    * ``C7``  the rest of the conventional current (off-diagonal spin);
    * ``C11`` torque dipole from the Q-dependent ρ_E, i Tr t^l ∂ρ_{EQ}/∂Q_i with t = i[H, s]/ħ (C8–C10);
    * ``C24`` torque dipole from the Q-dependent equilibrium ρ, ½ ε_ijc (Σ^{c,l} − s_mm Ω^c).
    (C7) + (C11) = 0 and (C6) + (C24) = Eq. (1).

    With degenerate blocks (``degenerate="block_trace"``, conventions §3) "band-diagonal" becomes
    block-diagonal: ``s_d = Σ_α P_α s P_α``, the torque has no matrix elements inside a block, so (C11)
    carries the block-off-diagonal spin only; ``s_mm Ω^c_m`` becomes the share of ``Tr(s_β F^c_β)`` with
    ``F^c_β = i Σ_{α≠β}(R^a_βα R^b_αβ − R^b_βα R^a_αβ)`` and Σ the block trace.  ``"exclude"``: the band
    formulas with pairs inside ``degeneracy_tol`` dropped.
    """
    if degenerate == "exclude":
        n = g.energies.shape[1]
        same = np.broadcast_to(np.eye(n, dtype=bool), g.energies.shape + (n,))
        d = g.energies[:, None, :] - g.energies[:, :, None]
        exclude = excluded(d, g.degeneracy_tol)
    else:
        same = exclude = same_block(g)
    s_d, s_od = _split_spin(g, same)
    c6 = density_response(g, _anticommutator_with_velocity(s_d, g))
    c7 = density_response(g, _anticommutator_with_velocity(s_od, g))
    # (C9)-(C10): I = Tr({X, V_i} ρ_E) with X_mn = −i t_mn / (2(ε_n − ε_m)).
    d = g.energies[:, None, :] - g.energies[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = -0.5j * g.torque / d
    x[:, exclude] = 0.0
    c11 = density_response(g, 2 * _anticommutator_with_velocity(x, g))
    sigma = proper_spin_curvature(g, degenerate)  # (nc, 3, N, n)
    if degenerate == "exclude":
        omega = berry_curvature(g, wannier=False)  # (nc, N, n), interband as in (C6)
        s_omega = omega[:, None] * g.spin_diagonal[None]
    else:
        r = _interblock_connection(g, same)
        f = np.stack([np.where(same, 1j * (r[a] @ r[b] - r[b] @ r[a]), 0) for a, b in _CYCLIC[g.dim]])
        s_omega = block_share(np.einsum("ckmp,lkpm->clkm", f, s_d).real, same)  # share of Tr(s_β F^c_β)
    c24 = 0.5 * levi_civita_contract(sigma - s_omega, g.dim)
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
