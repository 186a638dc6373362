"""Hole quantum well solved in z: the Luttinger Hamiltonian (Eq. 11) with V(z) = −e F_z z in a hard-wall well,
expanded in an envelope basis instead of the paper's two Bastard functions (Eq. 12); conventions §5.2.

The 4-component envelope ψ_j(z) (j = +3/2, −3/2, +1/2, −1/2) is expanded in orthonormal real functions,
one set {h_a} for the heavy-hole components (±3/2) and one set {l_b} for the light-hole components (±1/2):
the basis {|+3/2⟩h_a, |−3/2⟩h_a, |+1/2⟩l_b, |−1/2⟩l_b} is orthonormal and the Galerkin (Rayleigh–Ritz)
matrix of H_L(k∥, k̂_z) + V(z) needs only ⟨h|k_z²|h⟩, ⟨h|z|h⟩, ⟨l|k_z²|l⟩, ⟨l|z|l⟩, ⟨h|l⟩ and ⟨h|k_z|l⟩
(:class:`Envelopes`).  As a polynomial in k∥,

    H(k) = H0 + k_x H_x + k_y H_y + k_x² H_xx + k_y² H_yy + k_x k_y H_xy,

exact in the chosen basis, and so is ∂H/∂k.  Three bases:

* :func:`sine_envelopes` — the first ``nbasis`` hard-wall states √(2/d) sin[nπ(z/d + ½)] for both sets
  (matrix elements analytic).  The model of dimension 4·nbasis ("full") converges to the exact well.
* :meth:`Envelopes.subbands` — the lowest k∥ = 0 eigenstates ("subbands") of that basis: at k∥ = 0 the
  four components decouple (L ∝ k₋, M ∝ k∥²), HH_n and LH_n solve the scalar problems
  (ħ²/2m0)(γ1 ∓ 2γ2) k_z² − e F_z z.  Keeping the lowest ``nsub`` HH and ``nsub`` LH Kramers pairs and
  expanding the k∥ ≠ 0 states in them is the subband k·p model (4·nsub bands): a Rayleigh–Ritz projection
  (its energies lie above the full basis's, band by band) that neglects the admixture of the remote
  subbands; it converges to the full basis as nsub grows, algebraically (~nsub⁻³: the k∥ ≠ 0 envelopes have
  ψ'' ≠ 0 at the walls, the k∥ = 0 subbands do not), see docs/tutorial-hole-gas.md.
* :func:`bastard_envelopes` — one HH and one LH Bastard function: reproduces the paper's 4×4 H̃ of
  :func:`~properspin.models.hole_gas.hole_quantum_well` to round-off.

Spin: the projection of J ⊗ 1 on the basis (s = ħJ or ħJ/3): J_z is diagonal, J_x and J_y carry the
HH–LH overlaps ⟨h_a|l_b⟩ (the paper's model uses J without them; only in-plane spin components differ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import Model
from ..validate import check_size, positive_int
from .luttinger import (
    _J,
    DEFAULT_NBASIS,
    DEFAULT_NSUB,
    HBAR2_2M0,
    bastard_matrix_elements,
    check_confinement,
    fermi_limit,
)

Array = np.ndarray

#: Weight of a kept k∥ = 0 subband state on the highest quarter of the sine basis above which the basis is
#: declared too small to resolve it (see :meth:`Envelopes.subbands`).
TAIL_TOLERANCE: float = 1e-6

#: Order of the k∥ polynomial terms of :func:`expansion`.
TERMS = ("1", "kx", "ky", "kx^2", "ky^2", "kx*ky")


@dataclass(frozen=True, eq=False)
class Envelopes:
    """Orthonormal HH (±3/2) and LH (±1/2) envelope sets of a well of width ``width`` (Å) and their matrix elements.

    ``kz2_hh``, ``z_hh``: ⟨h_a|k_z²|h_b⟩ (Å⁻²), ⟨h_a|z|h_b⟩ (Å), shape (nh, nh); ``kz2_ll``, ``z_ll``
    likewise (nl, nl); ``overlap_hl`` ⟨h_a|l_b⟩ and ``kz_hl`` ⟨h_a|k_z|l_b⟩ (Å⁻¹, complex), shape (nh, nl).
    z is measured from the well centre, k_z = −i d/dz.
    """

    width: float
    kz2_hh: Array
    z_hh: Array
    kz2_ll: Array
    z_ll: Array
    overlap_hl: Array
    kz_hl: Array
    label: str = "custom"

    @property
    def nh(self) -> int:
        return self.kz2_hh.shape[0]

    @property
    def nl(self) -> int:
        return self.kz2_ll.shape[0]

    def rotated(self, uh: Array, ul: Array, label: str) -> Envelopes:
        """New sets h'_a = Σ_m h_m uh[m, a], l'_b = Σ_m l_m ul[m, b] (uh, ul with orthonormal real columns)."""
        return Envelopes(
            self.width, uh.T @ self.kz2_hh @ uh, uh.T @ self.z_hh @ uh, ul.T @ self.kz2_ll @ ul,
            ul.T @ self.z_ll @ ul, uh.T @ self.overlap_hl @ ul, uh.T @ self.kz_hl @ ul, label,
        )

    def edges(self, gammas: tuple[float, float, float], field: float) -> tuple[Array, Array, Array, Array]:
        """k∥ = 0 subbands (m_z = 0): HH energies, HH eigenvectors, LH energies, LH eigenvectors (eV, ascending).

        HH: s(γ1 − 2γ2)⟨k_z²⟩ − f⟨z⟩, LH: s(γ1 + 2γ2)⟨k_z²⟩ − f⟨z⟩ with s = ħ²/2m0 (eV Å²), f = eF_z (eV/Å).
        """
        g1, g2, _ = gammas
        eh, uh = np.linalg.eigh(HBAR2_2M0 * (g1 - 2 * g2) * self.kz2_hh - field * self.z_hh)
        el, ul = np.linalg.eigh(HBAR2_2M0 * (g1 + 2 * g2) * self.kz2_ll - field * self.z_ll)
        return eh, uh, el, ul

    def subbands(self, gammas: tuple[float, float, float], field: float, nsub: int) -> tuple[Envelopes, dict]:
        """The lowest ``nsub`` HH and the lowest ``nsub`` LH Kramers pairs at k∥ = 0 as a new basis, and a summary.

        Equal numbers of HH and LH subbands, not the lowest 2·nsub pairs by energy: the k∥-linear coupling L
        ∝ k₋⟨HH|k_z|LH⟩ reaches far up the (sparser) LH ladder, and an energy ranking keeps too few LH
        subbands (docs/tutorial-hole-gas.md, convergence table).  The summary gives the kept k∥ = 0 energies
        (labels HH1, HH2, ..., LH1, ...; eV, without exchange) and the largest weight a kept state has on the
        highest quarter of this basis (``tail_weight``: a large value means the basis does not resolve it).
        """
        nmax = min(self.nh, self.nl)
        if isinstance(nsub, bool) or not isinstance(nsub, (int, np.integer)) or not 1 <= nsub <= nmax:
            raise ValueError(f"nsub = {nsub!r} HH and LH subbands: need an integer in [1, {nmax}] (the basis has "
                             f"{self.nh} HH and {self.nl} LH functions per spin); raise nbasis or lower nsub")
        n = int(nsub)
        eh, uh, el, ul = self.edges(gammas, field)
        labels = [f"HH{i + 1}" for i in range(n)] + [f"LH{i + 1}" for i in range(n)]
        summary = {"n_hh": n, "n_lh": n, "tail_weight": max(_tail(uh[:, :n]), _tail(ul[:, :n])),
                   "edges_eV": dict(zip(labels, map(float, [*eh[:n], *el[:n]]), strict=True))}
        return self.rotated(uh[:, :n], ul[:, :n], f"{n} HH + {n} LH subbands of {self.label}"), summary


def _tail(u: Array) -> float:
    """Largest weight of the columns of u on the highest quarter of the basis rows."""
    if u.shape[1] == 0:
        return 0.0
    start = u.shape[0] - max(1, u.shape[0] // 4)
    return float(np.max(np.sum(u[start:] ** 2, axis=0)))


def sine_envelopes(nbasis: int, width: float) -> Envelopes:
    """The first ``nbasis`` hard-wall states χ_n = √(2/d) sin[nπ(z/d + ½)], n = 1..nbasis, for HH and LH.

    Analytic matrix elements (m ≠ n, m + n odd; zero for m + n even): ⟨m|k_z|n⟩ = −4i mn/[d(m² − n²)],
    ⟨m|z|n⟩ = −8 mn d/[π²(m² − n²)²]; ⟨m|z|m⟩ = 0, ⟨m|k_z²|n⟩ = (nπ/d)² δ_mn, ⟨m|n⟩ = δ_mn.
    """
    nbasis = check_size(positive_int(nbasis, "nbasis"), "basis functions", f"nbasis = {nbasis}")
    n = np.arange(1, int(nbasis) + 1, dtype=float)
    m_, n_ = np.meshgrid(n, n, indexing="ij")
    odd = (m_ + n_) % 2 == 1
    den = np.where(odd, m_**2 - n_**2, 1.0)
    kz = np.where(odd, -4j * m_ * n_ / (width * den), 0.0)
    z = np.where(odd, -8 * m_ * n_ * width / (math.pi**2 * den**2), 0.0)
    kz2 = np.diag((n * math.pi / width) ** 2)
    eye = np.eye(int(nbasis))
    return Envelopes(width, kz2, z, kz2.copy(), z.copy(), eye, kz, f"{int(nbasis)} sine functions")


def bastard_envelopes(beta_h: float, beta_l: float, width: float) -> Envelopes:
    """One HH and one LH Bastard function φ_v ∝ sin[π(z/d + ½)] exp[−β_v(z/d + ½)] (Eq. 12, corrected)."""
    hh = bastard_matrix_elements(beta_h, beta_h, width)
    ll = bastard_matrix_elements(beta_l, beta_l, width)
    hl = bastard_matrix_elements(beta_h, beta_l, width)
    one = np.ones((1, 1))
    return Envelopes(width, hh["kz2"] * one, hh["z"] * one, ll["kz2"] * one, ll["z"] * one,
                     hl["overlap"] * one, hl["kz"] * one.astype(complex), "two Bastard functions")


def _blocks(env: Envelopes) -> tuple[slice, slice, slice, slice]:
    nh, nl = env.nh, env.nl
    return slice(0, nh), slice(nh, 2 * nh), slice(2 * nh, 2 * nh + nl), slice(2 * nh + nl, 2 * nh + 2 * nl)


def expansion(env: Envelopes, gammas: tuple[float, float, float], field: float, exchange: float = 0.0) -> Array:
    """Matrices (H0, H_x, H_y, H_xx, H_yy, H_xy) of H(k∥) = Σ_t c_t(k) H_t in the basis of ``env`` (eV, Å).

    Eq. (11) with the corrected L = −√3(ħ²/m0)γ3 k₋k_z (conventions §5.2), P = sγ1(k² + k_z²),
    Q = −sγ2(2k_z² − k²), M = −√3 s[γ2(k_x² − k_y²) − 2iγ3 k_x k_y] (= −(√3/2)(ħ²/m0)(γ̄k₋² + δk₊²)), plus
    V = −f z (f = eF_z in eV/Å) and the exchange ``exchange``·J_z (eV).  Shape (6, n, n), n = 2nh + 2nl.
    """
    g1, g2, g3 = gammas
    s, sq3 = HBAR2_2M0, math.sqrt(3)
    p3, m3, p1, m1 = _blocks(env)
    n = 2 * env.nh + 2 * env.nl
    t = np.zeros((6, n, n), dtype=complex)
    ih, il = np.eye(env.nh), np.eye(env.nl)
    for blk, jz in ((p3, 1.5), (m3, -1.5)):
        t[0, blk, blk] = s * (g1 - 2 * g2) * env.kz2_hh - field * env.z_hh + exchange * jz * ih
        t[3, blk, blk] = t[4, blk, blk] = s * (g1 + g2) * ih
    for blk, jz in ((p1, 0.5), (m1, -0.5)):
        t[0, blk, blk] = s * (g1 + 2 * g2) * env.kz2_ll - field * env.z_ll + exchange * jz * il
        t[3, blk, blk] = t[4, blk, blk] = s * (g1 - g2) * il
    c_l = -2 * sq3 * s * g3 * env.kz_hl                  # L = c_l k₋ (operator k_z → ⟨h|k_z|l⟩)
    upper = np.zeros_like(t)
    upper[1, p3, p1], upper[2, p3, p1] = c_l, -1j * c_l  # ⟨+3/2|L|+1/2⟩
    upper[1, m3, m1], upper[2, m3, m1] = -c_l, -1j * c_l  # ⟨−3/2|−L†|−1/2⟩ = −c_l k₊
    mxx, mxy = sq3 * s * g2 * env.overlap_hl, 2j * sq3 * s * g3 * env.overlap_hl
    upper[3, p3, m1], upper[4, p3, m1], upper[5, p3, m1] = -mxx, mxx, mxy    # M
    upper[3, m3, p1], upper[4, m3, p1], upper[5, m3, p1] = -mxx, mxx, -mxy   # M†
    return t + upper + np.conj(np.swapaxes(upper, -1, -2))


def spin_operators(env: Envelopes) -> Array:
    """J ⊗ 1 projected on the basis of ``env``: (3, n, n), in units of ħ (J_x, J_y carry ⟨h|l⟩)."""
    blocks = _blocks(env)
    n = 2 * env.nh + 2 * env.nl
    over = {(0, 0): np.eye(env.nh), (2, 2): np.eye(env.nl), (0, 2): env.overlap_hl, (2, 0): env.overlap_hl.T}
    out = np.zeros((3, n, n), dtype=complex)
    for i in range(4):
        for j in range(4):
            o = over[(2 * (i // 2), 2 * (j // 2))]
            out[:, blocks[i], blocks[j]] = _J[:, i, j, None, None] * o
    return out


def polynomial_model(terms: Array, spin: Array, **labels: Any) -> Model:
    """A 2D continuum :class:`Model` with H(k) = Σ_t c_t(k) terms[t] (:data:`TERMS`) and its exact gradient."""
    terms = np.ascontiguousarray(terms)

    def hamiltonian(k: Array) -> Array:
        k = np.asarray(k, dtype=float)
        kx, ky = k[:, 0], k[:, 1]
        c = np.stack([np.ones_like(kx), kx, ky, kx * kx, ky * ky, kx * ky], axis=1)
        return np.tensordot(c, terms, axes=(1, 0))

    def gradient(k: Array) -> Array:
        k = np.asarray(k, dtype=float)
        kx, ky = k[:, 0], k[:, 1]
        zero, one = np.zeros_like(kx), np.ones_like(kx)
        cx = np.stack([zero, one, zero, 2 * kx, zero, ky], axis=1)
        cy = np.stack([zero, zero, one, zero, 2 * ky, kx], axis=1)
        return np.stack([np.tensordot(cx, terms, axes=(1, 0)), np.tensordot(cy, terms, axes=(1, 0))])

    return Model(hamiltonian=hamiltonian, gradient=gradient, spin=spin, dim=2, reciprocal=None, **labels)


def subband_well(name: str, gammas: tuple[float, float, float], gsource: str, width: float, field: float,
                 mz: float, *, spin: str, magnetization_form: str, method: str, nsub: int | None,
                 nbasis: int | None, barrier: float, energy_max: float | None) -> Model:
    """``hole_quantum_well(method="subbands" | "full")`` after its common validation (SI inputs, see there)."""
    g1, g2, g3 = gammas
    if g1 <= 2 * abs(g3):
        raise ValueError(f"need γ1 > 2|γ3| (positive bulk heavy-hole mass along [111]), got {gammas}: the "
                         "Luttinger Hamiltonian is not bounded below and the well problem has no ground state")
    if method == "full" and nsub is not None:
        raise ValueError("nsub belongs to method='subbands'; method='full' keeps the whole basis")
    nbasis = DEFAULT_NBASIS if nbasis is None else nbasis
    if isinstance(nbasis, bool) or not isinstance(nbasis, (int, np.integer)) or nbasis < 2:
        raise ValueError(f"nbasis must be an integer ≥ 2 (sine functions per component), got {nbasis!r}")
    check_size(int(nbasis), "basis functions", f"nbasis = {nbasis}", "the basis converges long before")
    d, f = width * 1e10, field * 1e-10  # Å, eV/Å
    basis = sine_envelopes(int(nbasis), d)
    eh, uh, el, ul = basis.edges(gammas, f)
    confinement = check_confinement(float(min(eh[0], el[0])), energy_max, barrier, d, f)
    if method == "subbands":
        nsub = DEFAULT_NSUB if nsub is None else nsub
        if isinstance(nsub, (int, np.integer)) and not isinstance(nsub, bool) and nsub > nbasis:
            raise ValueError(f"nsub = {nsub} is larger than the basis: nbasis = {nbasis} sine functions give "
                             f"{nbasis} HH and {nbasis} LH subbands; raise nbasis or lower nsub")
        env, summary = basis.subbands(gammas, f, nsub)
        top = max(summary["edges_eV"].values())
        if energy_max is not None and top <= energy_max:
            raise ValueError(f"nsub = {nsub} keeps subbands up to {1e3 * top:.1f} meV, below energy_max = "
                             f"{1e3 * energy_max:.1f} meV: occupied subbands would be missing; raise nsub")
    else:
        env = basis
        check = confinement["checked_energy_eV"]
        nh, nl = max(1, int(np.sum(eh <= check))), max(1, int(np.sum(el <= check)))
        summary = {"n_hh": int(nbasis), "n_lh": int(nbasis), "tail_weight": max(_tail(uh[:, :nh]), _tail(ul[:, :nl])),
                   "edges_eV": {**{f"HH{i + 1}": float(e) for i, e in enumerate(eh[:nh])},
                                **{f"LH{i + 1}": float(e) for i, e in enumerate(el[:nl])}}}
    if summary["tail_weight"] > TAIL_TOLERANCE:
        raise ValueError(
            f"nbasis = {nbasis} is too small: a kept k∥ = 0 subband state has weight {summary['tail_weight']:.1e} "
            f"on the highest quarter of the sine basis (tolerance {TAIL_TOLERANCE:g}); raise nbasis"
            + (" or lower nsub" if method == "subbands" else ""))
    coef = {"projected": 2 / 3, "J": 1.0, "none": 0.0}[magnetization_form]
    terms = expansion(env, gammas, f, coef * mz)
    spin_ops = spin_operators(env) * (1.0 if spin == "hbar_J" else 1 / 3)
    edges = {f"{lab}({jz})": e + coef * mz * float(jz.replace("/2", "")) / 2
             for lab, e in summary["edges_eV"].items()
             for jz in (("+3/2", "-3/2") if lab.startswith("HH") else ("+1/2", "-1/2"))}
    parameters: dict[str, Any] = {
        "material": name, "gamma1": g1, "gamma2": g2, "gamma3": g3, "luttinger_source": gsource,
        "width_m": width, "field_V_per_m": field, "magnetization_eV": mz, "spin": spin,
        "magnetization_form": magnetization_form, "method": method, "nbasis": int(nbasis),
        "nsub": None if method == "full" else int(nsub), "barrier_eV": barrier, "energy_max_eV": energy_max,
    }
    info = {
        "equation": "Liu, Cullen & Culcer (2023) Eq. (11) + V(z) solved in z, conventions §5.2, L corrected",
        "method": (f"subbands: lowest {nsub} HH and {nsub} LH Kramers pairs at k∥ = 0 of {nbasis} hard-wall sine "
                   "functions per component (Rayleigh–Ritz projection; remote subbands neglected)"
                   if method == "subbands"
                   else f"full: {nbasis} hard-wall sine functions per component"),
        "basis": ("blocks {+3/2: HH_a, -3/2: HH_a, +1/2: LH_b, -1/2: LH_b}, "
                  f"{env.nh} HH and {env.nl} LH envelope functions ({env.label})"),
        "spin_convention": "s = hbar J" if spin == "hbar_J" else "s = (hbar/3) J",
        "spin_operator": "J ⊗ 1 projected on the basis (J_x, J_y carry the HH-LH overlaps)",
        "magnetization_term": {"projected": "(2/3) m_z J_z", "J": "m_z J_z", "none": "none"}[magnetization_form],
        "energy_reference": "E measured from V=0 at the well centre (hole picture, V(z) = -e F_z z)",
        "subband_edges_eV": edges,
        "tail_weight": summary["tail_weight"],
        "confinement": confinement,
        "fermi_limit": fermi_limit(confinement, max(summary["edges_eV"].values()) if method == "subbands" else None),
        "units": {"k": "1/Å", "energy": "eV", "width_m": "m", "field_V_per_m": "V/m", "magnetization_eV": "eV"},
        "source": f"Luttinger parameters: {gsource}",
    }
    return polynomial_model(terms, spin_ops, name=f"hole_quantum_well({name}, {method})",
                            parameters=parameters, info=info)
