"""Wannier90 tight-binding models: ``seedname_hr.dat``, ``seedname_tb.dat``, ``_wsvec.dat`` and ``.win``.

A Wannier Hamiltonian is a set of lattice vectors R (integers, R = n1 a1 + n2 a2 + n3 a3) with
degeneracies d_R and matrices H_R[m, n] = <0m|H|Rn> (eV), optionally r_R[a, m, n] = <0m|r_a|Rn> (Å).
The Bloch Hamiltonian in the Wannier-90 convention (no orbital-position phases) is

    H(k) = Σ_R e^{ik·R} H_R / d_R,      ∂H/∂k_a = Σ_R i R_a e^{ik·R} H_R / d_R,

with R Cartesian (Å) and k Cartesian (Å⁻¹); the orbital-basis Berry connection is
A^W_a(k) = Σ_R e^{ik·R} r_R[a] / d_R (Wang et al., PRB 74, 195118).  Evaluation is one matrix product
(N, nR) × (nR, n²) per component, in chunks of k so the phase matrix stays small.

The file's ``m n`` columns are row and column of H_R (Wannier90 writes ``j i ham_r(j, i, irpt)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..model import CYCLIC_PAIRS, SPIN_HALF, Model

Array = np.ndarray
PathLike = str | Path

#: Bohr radius in Å (CODATA 2018), for ``bohr`` units in a ``.win`` file.
BOHR_ANGSTROM = 0.529177210903

_CHUNK_ELEMENTS = 2**21  # complex entries of one phase-matrix chunk (32 MiB)


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True, eq=False)
class WannierHamiltonian:
    """Real-space Wannier Hamiltonian as stored in ``_hr.dat`` / ``_tb.dat``.

    ``lattice`` (3, 3) rows a_i in Å; ``rvec`` (nR, 3) integer R; ``deg`` (nR,) degeneracies;
    ``ham`` (nR, n, n) = <0m|H|Rn> in eV (not divided by ``deg``); ``pos`` (nR, 3, n, n) =
    <0m|r_a|Rn> in Å or None; ``source`` names the file in error messages.
    """

    lattice: Array
    rvec: Array
    deg: Array
    ham: Array
    pos: Array | None = None
    header: str = ""
    source: str = "<memory>"

    def __post_init__(self) -> None:
        lat = np.asarray(self.lattice, dtype=float)
        rvec = np.asarray(self.rvec)
        ham = np.asarray(self.ham, dtype=complex)
        if lat.shape != (3, 3) or abs(np.linalg.det(lat)) < 1e-12:
            raise ValueError(f"{self.source}: lattice must be a non-singular (3, 3) array, got {lat.shape}")
        if rvec.ndim != 2 or rvec.shape[1] != 3 or not np.all(rvec == np.round(rvec)):
            raise ValueError(f"{self.source}: rvec must be (nR, 3) integers")
        nr = rvec.shape[0]
        if ham.ndim != 3 or ham.shape[0] != nr or ham.shape[1] != ham.shape[2]:
            raise ValueError(f"{self.source}: ham must have shape ({nr}, n, n), got {ham.shape}")
        deg = np.asarray(self.deg)
        if deg.shape != (nr,) or np.any(deg < 1):
            raise ValueError(f"{self.source}: deg must be {nr} positive integers")
        if len({tuple(r) for r in rvec.tolist()}) != nr:
            raise ValueError(f"{self.source}: duplicate R vectors")
        object.__setattr__(self, "lattice", lat)
        object.__setattr__(self, "rvec", rvec.astype(int))
        object.__setattr__(self, "deg", deg.astype(int))
        object.__setattr__(self, "ham", ham)
        if self.pos is not None:
            pos = np.asarray(self.pos, dtype=complex)
            n = ham.shape[1]
            if pos.shape != (nr, 3, n, n):
                raise ValueError(f"{self.source}: pos must have shape ({nr}, 3, {n}, {n}), got {pos.shape}")
            object.__setattr__(self, "pos", pos)

    @property
    def num_wann(self) -> int:
        """Number of Wannier functions n."""
        return self.ham.shape[1]

    @property
    def nrpts(self) -> int:
        """Number of R vectors."""
        return self.rvec.shape[0]

    def permuted(self, order: Sequence[int]) -> WannierHamiltonian:
        """The same model with orbitals reordered: new orbital i is old orbital ``order[i]``."""
        p = np.asarray(order, dtype=int)
        if sorted(p.tolist()) != list(range(self.num_wann)):
            raise ValueError(f"order must be a permutation of range({self.num_wann})")
        ix = np.ix_(p, p)
        ham = self.ham[:, ix[0], ix[1]]
        pos = None if self.pos is None else self.pos[:, :, ix[0], ix[1]]
        return replace(self, ham=ham, pos=pos)

    def with_wsvec(self, wsvec: PathLike | Mapping[tuple[int, ...], Array]) -> WannierHamiltonian:
        """Fold the minimal-distance replicas of ``seedname_wsvec.dat`` (``use_ws_distance``).

        Each element (R, m, n) is split equally among R + T over its listed shifts T, as in Wannier90
        (weight 1 / (d_R N_T)).  The result has new R vectors, the weights folded into ``ham``/``pos``,
        and all degeneracies 1.
        """
        table = read_wsvec(wsvec) if isinstance(wsvec, str | Path) else wsvec
        where = str(wsvec) if isinstance(wsvec, str | Path) else "wsvec"
        n, index = self.num_wann, {tuple(r): i for i, r in enumerate(self.rvec.tolist())}
        ir, mm, nn, rnew, wt = [], [], [], [], []
        for (r1, r2, r3, m, k), shifts in table.items():
            i = index.get((r1, r2, r3))
            if i is None or not (1 <= m <= n and 1 <= k <= n):
                raise ValueError(f"{where}: entry R=({r1}, {r2}, {r3}) m={m} n={k} not in {self.source}")
            t = np.asarray(shifts, dtype=int).reshape(-1, 3)
            ir += [i] * len(t)
            mm += [m - 1] * len(t)
            nn += [k - 1] * len(t)
            rnew.append(self.rvec[i] + t)
            wt += [1.0 / len(t)] * len(t)
        ir, mm, nn, wt = (np.asarray(a) for a in (ir, mm, nn, wt))
        hits = np.bincount((ir * n + mm) * n + nn, weights=wt, minlength=self.nrpts * n * n)
        if not np.allclose(hits, 1.0):
            raise ValueError(f"{where}: does not list every (R, m, n) of {self.source} exactly once")
        uniq, inv = np.unique(np.concatenate(rnew), axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        w = wt / self.deg[ir]
        ham = np.zeros((len(uniq), n, n), dtype=complex)
        np.add.at(ham, (inv, mm, nn), self.ham[ir, mm, nn] * w)
        pos = None
        if self.pos is not None:
            pos_t = np.zeros((len(uniq), n, n, 3), dtype=complex)  # (R, m, n, a) for add.at
            np.add.at(pos_t, (inv, mm, nn), self.pos.transpose(0, 2, 3, 1)[ir, mm, nn] * w[:, None])
            pos = pos_t.transpose(0, 3, 1, 2)
        out = replace(self, rvec=uniq, deg=np.ones(len(uniq), dtype=int), ham=ham, pos=pos)
        _check_hermitian(out)
        return out

    def hermiticity_error(self) -> float:
        """max |H(k) − H(k)†| (eV) at a few random k (0 for a valid file up to rounding)."""
        return _hermiticity_error(self.rvec, self.ham / self.deg[:, None, None])

    def to_model(
        self,
        spinor_order: str | None = None,
        spin: Array | None = None,
        use_position: bool = True,
        dim: int = 3,
        name: str | None = None,
        parameters: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
    ) -> Model:
        """The periodic :class:`Model` (see :func:`wannier90` for the arguments).

        ``dim`` < 3 keeps the first ``dim`` directions (needs R and lattice vectors in that plane).
        Positions are made Hermitian, A^W → (A^W + A^W†)/2; the discarded anti-Hermitian part
        (finite-difference noise of Wannier90's position matrix) is recorded in ``info``.
        """
        n = self.num_wann
        spin_op = _spin_operator(n, spinor_order, spin, self.source)
        if dim not in (1, 2, 3):
            raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
        if np.any(self.rvec[:, dim:] != 0) or not np.allclose(self.lattice[:dim, dim:], 0.0):
            raise ValueError(f"{self.source}: cannot reduce to dim={dim}: R vectors leave the plane")
        lat = self.lattice[:dim, :dim]
        rcart = self.rvec[:, :dim] @ lat
        hw = self.ham / self.deg[:, None, None]
        h_sum = _FourierSum(rcart, hw[:, None], single=True, lattice=lat)
        g_sum = _FourierSum(rcart, 1j * rcart[:, :, None, None] * hw[:, None], phases=getattr(h_sum, "phases", None),
                            lattice=lat)
        notes = {
            "source": self.source,
            "header": self.header,
            "num_wann": n,
            "nrpts": self.nrpts,
            "convention": "Wannier90: H(k) = sum_R exp(ik.R) H_R / deg_R, no orbital-position phases",
            "spinor_order": spinor_order if spin is None else "user",
        }
        position = position_gradient = None
        if use_position and self.pos is not None:
            rall, pall, anti = _hermitize(self.rvec, self.pos / self.deg[:, None, None, None])
            rc = rall[:, :dim] @ lat
            position = _FourierSum(rc, pall[:, :dim], phases=getattr(h_sum, "phases", None), lattice=lat)
            # ∂_a A^W_b = Σ_R i R_a e^{ik·R} r_R,b, flattened (a, b) → a·dim + b
            position_gradient = _PositionGradient(rc, pall[:, :dim], getattr(position, "phases", None), lat)
            notes["position_antihermitian_max_angstrom"] = anti
        return Model(
            hamiltonian=h_sum,
            gradient=g_sum,
            spin=spin_op,
            dim=dim,
            reciprocal=2 * np.pi * np.linalg.inv(lat).T,
            position=position,
            position_gradient=position_gradient,
            name=name or f"wannier90:{Path(self.source).name}",
            parameters=dict(parameters or {}),
            info={**notes, **(info or {})},
        )


class _PositionGradient:
    """∂_a A^W_b = Σ_R i R_a e^{ik·R} r_R,b as (dim, dim, N, n, n); ``curl`` gives ∂_a A_b − ∂_b A_a directly."""

    def __init__(self, rcart: Array, pos: Array, phases: _Phases | None = None, lattice: Array | None = None) -> None:
        nr, dim, n, _ = pos.shape
        self.dim = dim
        grad = 1j * rcart[:, :, None, None, None] * pos[:, None]  # (nR, a, b, n, n)
        self.full = _FourierSum(rcart, grad.reshape(nr, dim * dim, n, n), phases=phases, lattice=lattice)
        self.curl_sum = _FourierSum(
            rcart, np.stack([grad[:, a, b] - grad[:, b, a] for a, b in CYCLIC_PAIRS[dim]], axis=1), phases=phases,
            lattice=lattice)

    def __call__(self, k: Array) -> Array:
        out = self.full(k)
        return out.reshape(self.dim, self.dim, *out.shape[1:])

    def curl(self, k: Array) -> Array:
        return self.curl_sum(k)


class _FourierSum:
    """k ↦ Σ_R e^{ik·R} B_R[c] for blocks B of shape (nR, c, n, n): (c, N, n, n), or (N, n, n) if single.

    When the R set is closed under R → −R the pairs are folded, e^{ik·R} B_R + e^{−ik·R} B_{−R} =
    cos(k·R)(B_R + B_{−R}) + sin(k·R) i(B_R − B_{−R}), so one real product ``[cos, sin] @ W`` over half
    the R vectors gives each component (half the arithmetic of the complex product, same sum to round-off).
    When moreover every sum is Hermitian (B_{−R} = B_R† to round-off: H, ∂H, the symmetrised A^W), only the
    lower triangle is summed and mirrored, which halves the product again and makes the result exactly
    Hermitian.  ``phases`` may be shared by sums over the same R: the last k's [cos, sin] is reused.

    With the ``lattice`` (rows a_i, Å), k-points that lie on lines along the last reciprocal vector (a uniform
    grid read in order: every k-point of a block shares θ_i = k·a_i, i < dim, with many others) are summed in
    two stages, e^{ik·R} = e^{i Σ_{i<dim} R_i θ_i} e^{i R_dim θ_dim}: once per line over all R, then per
    k-point over the few distinct R_dim only (see :class:`_LineSums`).
    """

    def __init__(self, rcart: Array, blocks: Array, single: bool = False, phases: _Phases | None = None,
                 lattice: Array | None = None) -> None:
        nr, c, n, _ = blocks.shape
        self.n, self.single = n, single
        flat = np.ascontiguousarray(blocks.reshape(nr, c, n * n).transpose(1, 0, 2)).astype(complex)  # (c, nR, n²)
        self.flat = flat
        self.chunk = max(1, _CHUNK_ELEMENTS // max(nr, 1))
        self.lower = None
        self.lines = None
        partner = _partners(rcart)
        if partner is None:
            self.rcart = np.ascontiguousarray(rcart.T)  # (dim, nR)
            self.weights = None
            return
        keep = np.array([r for r in range(nr) if r <= partner[r]], dtype=np.int64)
        pk = partner[keep]
        odd = keep[keep != pk]  # pairs with R ≠ 0 carry a sine term
        cos_b = np.where((keep == pk)[None, :, None], flat[:, keep], flat[:, keep] + flat[:, pk])
        sin_b = 1j * (flat[:, odd] - flat[:, partner[odd]])
        w = np.concatenate([cos_b, sin_b], axis=1)  # (c, nh + ns, n²) complex
        wm = w.reshape(c, -1, n, n)
        if np.max(np.abs(wm - wm.conj().swapaxes(-1, -2)), initial=0.0) <= 1e-12 * np.max(np.abs(wm), initial=0.0):
            rows, cols = np.tril_indices(n)
            self.lower = (rows.astype(np.int64), cols.astype(np.int64))
            w = w[:, :, rows * n + cols]
        self.phases = phases if phases is not None and phases.matches(rcart[keep], rcart[odd]) else \
            _Phases(rcart[keep], rcart[odd])
        if self.lower is not None and lattice is not None:
            self.lines = _LineSums.build(rcart, flat[:, :, self.lower[0] * n + self.lower[1]], lattice, self.phases)
        self.weights = np.ascontiguousarray(w).view(float)  # (c, nh + ns, 2m): real and imaginary parts

    def __call__(self, k: Array) -> Array:
        k = np.asarray(k, dtype=float)
        c, _, nn = self.flat.shape
        out = np.empty((c, k.shape[0], nn), dtype=complex)
        vals = self.lines(k) if self.lines is not None else None
        if vals is not None:  # (N, c, m): the lower triangles of every component
            for a in range(c):
                _mirror(np.ascontiguousarray(vals[:, a]), out[a], *self.lower, self.n)
            out = out.reshape(c, k.shape[0], self.n, self.n)
            return out[0] if self.single else out
        for s in range(0, k.shape[0], self.chunk):
            ks = k[s : s + self.chunk]
            if self.weights is None:
                phase = np.exp(1j * (ks @ self.rcart))
                for a in range(c):
                    np.matmul(phase, self.flat[a], out=out[a, s : s + self.chunk])
                continue
            cs = self.phases(ks)
            if self.lower is None:
                for a in range(c):
                    np.matmul(cs, self.weights[a], out=out[a, s : s + self.chunk].view(float))
                continue
            for a in range(c):
                vals = np.matmul(cs, self.weights[a]).view(complex)
                _mirror(vals, out[a, s : s + self.chunk], *self.lower, self.n)
        out = out.reshape(c, k.shape[0], self.n, self.n)
        return out[0] if self.single else out


class _LineSums:
    """Σ_R e^{ik·R} B_R for k-points on lines of fixed θ_i = k·a_i (i < dim), in two stages.

    Stage 1, once per line g: G_g(r) = Σ_{R: R_dim = r} e^{i Σ_{i<dim} R_i θ_i} B_R for each distinct last
    coordinate r.  Stage 2, per k-point: Σ_r e^{i r θ_dim} G_g(r).  Cost ≈ (lines × nR + N × n_r) n² instead
    of N × nR × n²; used only when a block holds at most N/4 lines and n_r ≤ nR/8, else the caller sums
    directly.  Points join a line when their θ_i agree to 1e-11 rad and are then evaluated at the line's θ
    (the spread inside a line is checked to be below 1e-13: round-off of k, not a different k).
    """

    def __init__(self, lattice: Array, perp: Array, last: Array, bounds: Array, blocks: Array, c: int,
                 shared: _Phases) -> None:
        self.lattice, self.perp, self.last, self.bounds, self.blocks, self.c = lattice, perp, last, bounds, blocks, c
        self.shared = shared  # H, ∂H and A^W over the same R share the grouping and phases of the last k

    @classmethod
    def build(cls, rcart: Array, blocks: Array, lattice: Array, shared: _Phases) -> _LineSums | None:
        """``blocks`` (c, nR, m) complex; None when the R are not lattice vectors or there is nothing to gain."""
        dim = rcart.shape[1]
        lattice = np.asarray(lattice, dtype=float)
        if dim < 2 or lattice.shape != (dim, dim):
            return None
        red = rcart @ np.linalg.inv(lattice)
        rint = np.rint(red)
        if not np.allclose(red, rint, atol=1e-6):
            return None
        last, j = np.unique(rint[:, -1], return_inverse=True)
        j = j.reshape(-1)
        if 8 * len(last) > len(rcart):  # stage 2 (complex, n_r terms) must beat the folded real sum (nR/2) well
            return None
        order = np.argsort(j, kind="stable")
        bounds = np.searchsorted(j[order], np.arange(len(last) + 1))
        c, nr, m = blocks.shape
        stacked = np.ascontiguousarray(blocks[:, order].transpose(1, 0, 2).reshape(nr, c * m))
        return cls(lattice, np.ascontiguousarray(rint[order, :-1]), last, bounds, stacked, c, shared)

    def __call__(self, k: Array) -> Array | None:
        memo = self.shared.lines_memo
        if (memo is not None and memo[0].shape == k.shape and np.array_equal(memo[0], k)
                and np.array_equal(memo[1], self.perp) and np.array_equal(memo[2], self.last)):
            geometry = memo[3]
        else:
            geometry = self._group(k)
            self.shared.lines_memo = (k.copy(), self.perp, self.last, geometry)
        if geometry is None:
            return None
        phase, e_last, order, starts = geometry
        groups = len(starts) - 1
        stage1 = np.empty((groups, len(self.last), self.blocks.shape[1]), dtype=complex)
        for j in range(len(self.last)):
            a, b = self.bounds[j], self.bounds[j + 1]
            np.matmul(phase[:, a:b], self.blocks[a:b], out=stage1[:, j])
        vals = np.empty((k.shape[0], self.blocks.shape[1]), dtype=complex)
        for g in range(groups):
            idx = order[starts[g] : starts[g + 1]]
            vals[idx] = e_last[idx] @ stage1[g]
        return vals.reshape(k.shape[0], self.c, -1)

    def _group(self, k: Array) -> tuple[Array, Array, Array, Array] | None:
        """Lines of the k-points, their phases e^{i R_⊥·θ_⊥} (lines, nR) and e^{i r θ_dim} (N, n_r)."""
        n_k = k.shape[0]
        theta = k @ self.lattice.T  # θ_i = k·a_i
        perp = theta[:, :-1]
        key = np.ascontiguousarray(np.round(perp, 11) + 0.0)  # + 0.0: −0.0 → 0.0, so equal values share bytes
        key = key.view(np.dtype((np.void, key.itemsize * key.shape[1]))).reshape(-1)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        groups = len(first)
        if 4 * groups > n_k:
            return None
        rep = perp[first]
        if np.max(np.abs(perp - rep[inv]), initial=0.0) > 1e-13 * (1.0 + np.max(np.abs(perp), initial=0.0)):
            return None
        phase = np.exp(1j * (rep @ self.perp.T))  # (lines, nR)
        e_last = np.exp(1j * np.outer(theta[:, -1], self.last))  # (N, n_r)
        order = np.argsort(inv, kind="stable")
        starts = np.concatenate([[0], np.cumsum(np.bincount(inv, minlength=groups))])
        return phase, e_last, order, starts


class _Phases:
    """[cos(k·R), sin(k·R')] for the folded R set, remembering the last k (H, ∂H and A^W share it)."""

    def __init__(self, rcos: Array, rsin: Array) -> None:
        self.rcos = np.ascontiguousarray(rcos.T)
        self.rsin = np.ascontiguousarray(rsin.T)
        self.memo: tuple[Array, Array] | None = None  # (k, phases): one attribute, so threads see a pair
        self.lines_memo: tuple[Array, Array, Array, Any] | None = None  # (k, R⊥, R_dim values, lines): _LineSums

    def matches(self, rcos: Array, rsin: Array) -> bool:
        return np.array_equal(self.rcos, rcos.T) and np.array_equal(self.rsin, rsin.T)

    def __call__(self, k: Array) -> Array:
        memo = self.memo
        if memo is not None and memo[0].shape == k.shape and np.array_equal(memo[0], k):
            return memo[1]
        cs = np.concatenate([np.cos(k @ self.rcos), np.sin(k @ self.rsin)], axis=1)
        self.memo = (k.copy(), cs)
        return cs


def _mirror_numpy(vals: Array, out: Array, rows: Array, cols: Array, n: int) -> None:
    """out[:, i·n + j] = vals[:, t] and out[:, j·n + i] = conj(vals[:, t]) for (i, j) = (rows[t], cols[t]);
    the diagonal (i = j) keeps the real part only (a Hermitian sum; the imaginary part is round-off)."""
    out[:, cols * n + rows] = vals.conj()
    out[:, rows * n + cols] = vals
    diag = rows == cols
    out[:, rows[diag] * (n + 1)] = vals[:, diag].real


try:
    from numba import njit

    @njit(cache=True)
    def _mirror(vals, out, rows, cols, n):  # pragma: no cover - compiled; same as _mirror_numpy
        for k in range(vals.shape[0]):
            for t in range(rows.shape[0]):
                v = vals[k, t]
                if rows[t] == cols[t]:
                    v = complex(v.real, 0.0)
                out[k, rows[t] * n + cols[t]] = v
                out[k, cols[t] * n + rows[t]] = np.conj(v)
except ImportError:  # pragma: no cover - numba is a dependency
    _mirror = _mirror_numpy


def _partners(rcart: Array) -> Array | None:
    """Index of −R for every R (R = 0 its own), or None when the set is not closed under R → −R."""
    index = {tuple(r): i for i, r in enumerate(np.asarray(rcart, dtype=float))}
    if len(index) != len(rcart):
        return None
    partner = np.empty(len(rcart), dtype=np.int64)
    for i, r in enumerate(np.asarray(rcart, dtype=float)):
        j = index.get(tuple(-r))
        if j is None:
            return None
        partner[i] = j
    return partner


def _hermiticity_error(rvec: Array, blocks: Array, samples: int = 4) -> float:
    rng = np.random.default_rng(12345)
    kf = rng.random((samples, 3))
    h = np.einsum("kr,rij->kij", np.exp(2j * np.pi * kf @ rvec.T), blocks)
    return float(np.max(np.abs(h - h.conj().transpose(0, 2, 1)))) if h.size else 0.0


def _check_hermitian(wh: WannierHamiltonian) -> None:
    """ValueError naming the file and the worst R / −R pair if H(k) is not Hermitian."""
    hw = wh.ham / wh.deg[:, None, None]
    err = _hermiticity_error(wh.rvec, hw)
    tol = 1e-6 * wh.nrpts + 1e-9 * float(np.sum(np.abs(hw)))
    if err <= tol:
        return
    rall, hall, _ = _hermitize(wh.rvec, hw[:, None], symmetrize=False)
    index = {tuple(r): i for i, r in enumerate(rall.tolist())}
    bad = [
        (float(np.max(np.abs(hall[i, 0] - hall[index[tuple((-r).tolist())], 0].conj().T))), tuple(r))
        for i, r in enumerate(rall)
    ]
    worst, r = max(bad)
    raise ValueError(
        f"{wh.source}: H(k) is not Hermitian (max |H - H†| = {err:.3g} eV at random k); "
        f"worst pair: H(R)/deg - [H(-R)/deg]† = {worst:.3g} eV at R = {r}"
    )


def _hermitize(rvec: Array, blocks: Array, symmetrize: bool = True) -> tuple[Array, Array, float]:
    """Extend to the R ∪ −R set and (optionally) make Σ_R e^{ik·R} B_R Hermitian.

    Returns (R, B, max anti-Hermitian part) with B[R] ← (B[R] + B[−R]†)/2.
    """
    rall, inv = np.unique(np.concatenate([rvec, -rvec]), axis=0, return_inverse=True)
    inv = inv.reshape(-1)[: len(rvec)]
    b = np.zeros((len(rall),) + blocks.shape[1:], dtype=complex)
    b[inv] = blocks
    index = {tuple(r): i for i, r in enumerate(rall.tolist())}
    partner = np.array([index[tuple((-r).tolist())] for r in rall], dtype=int)
    dagger = b[partner].conj().swapaxes(-1, -2)
    anti = float(np.max(np.abs(b - dagger)) / 2) if b.size else 0.0
    return rall, ((b + dagger) / 2 if symmetrize else b), anti


# ---------------------------------------------------------------------------------------------- spin
def spinor_spin(num_wann: int, order: str) -> Array:
    """Spin operators 1_orb ⊗ σ/2 (units of ħ) for ``"interleaved"`` (↑↓ per orbital) or ``"block"``."""
    if order not in ("interleaved", "block"):
        raise ValueError(f"spinor_order must be 'interleaved' or 'block', got {order!r}")
    if num_wann % 2:
        raise ValueError(f"spinor_order={order!r} needs an even number of Wannier functions, got {num_wann}")
    eye = np.eye(num_wann // 2)
    if order == "interleaved":
        return np.stack([np.kron(eye, s) for s in SPIN_HALF])
    return np.stack([np.kron(s, eye) for s in SPIN_HALF])


def _spin_operator(n: int, order: str | None, spin: Array | None, source: str) -> Array | None:
    if order is not None and spin is not None:
        raise ValueError("give either spinor_order or spin, not both")
    if spin is not None:
        s = np.asarray(spin, dtype=complex)
        if s.shape != (3, n, n):
            raise ValueError(f"{source}: spin must have shape (3, {n}, {n}), got {s.shape}")
        return s
    if order is None:
        return None
    try:
        return spinor_spin(n, order)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None


# ---------------------------------------------------------------------------------------------- reading
class _Lines:
    """Non-blank lines of a text file with their line numbers, for parsing with clear errors."""

    def __init__(self, path: PathLike) -> None:
        self.path = str(path)
        try:
            text = Path(path).read_text()
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text file") from None
        raw = text.splitlines()
        self.header = raw[0].strip() if raw else ""
        self.items = [(i + 1, s) for i, s in enumerate(raw) if i > 0 and s.strip()]
        self.i = 0

    def error(self, msg: str, lineno: int | None = None) -> ValueError:
        where = f"{self.path}, line {lineno}" if lineno else self.path
        return ValueError(f"{where}: {msg}")

    def lineno(self, index: int | None = None) -> int:
        """Line number of item ``index`` (default: the next one; the last line at end of file)."""
        index = self.i if index is None else index
        if not self.items:
            return 1
        return self.items[min(index, len(self.items) - 1)][0]

    def take(self, count: int, what: str) -> list[tuple[int, str]]:
        if self.i + count > len(self.items):
            raise self.error(f"unexpected end of file (after line {self.lineno(len(self.items))}) "
                             f"while reading {what}")
        out = self.items[self.i : self.i + count]
        self.i += count
        return out

    def table(self, nlines: int, ncols: int, what: str) -> Array:
        """Next ``nlines`` lines of exactly ``ncols`` numbers each, as a float array."""
        items = self.take(nlines, what)
        rows = [s.split() for _, s in items]
        for (lineno, s), row in zip(items, rows, strict=True):
            if len(row) != ncols:
                raise self.error(f"expected {ncols} numbers ({what}), got {s.strip()!r}", lineno)
        try:
            return np.array(rows, dtype=float).reshape(nlines, ncols)
        except ValueError:
            for (lineno, s), row in zip(items, rows, strict=True):
                try:
                    [float(x) for x in row]
                except ValueError:
                    raise self.error(f"non-numeric entry ({what}): {s.strip()!r}", lineno) from None
            raise

    def ints(self, count: int, what: str) -> Array:
        """The next ``count`` integers, possibly spread over several lines."""
        vals: list[int] = []
        while len(vals) < count:
            ((lineno, s),) = self.take(1, what)
            try:
                vals += [int(x) for x in s.split()]
            except ValueError:
                raise self.error(f"expected integers ({what}), got {s.strip()!r}", lineno) from None
            if len(vals) > count:
                raise self.error(f"too many integers ({what}): expected {count}", lineno)
        return np.array(vals, dtype=int)

    def int_columns(self, block: Array, cols: slice, lineno: int, what: str) -> Array:
        vals = block[:, cols]
        if not np.all(vals == np.round(vals)):
            raise self.error(f"non-integer {what}", lineno)
        return vals.astype(int)

    def finish(self) -> None:
        if self.i < len(self.items):
            lineno, s = self.items[self.i]
            raise self.error(f"unexpected extra data {s.strip()[:40]!r} (wrong num_wann or nrpts?)", lineno)

    def counts(self) -> tuple[int, int, Array]:
        """num_wann, nrpts and the degeneracies."""
        n = int(self.ints(1, "num_wann")[0])
        nr = int(self.ints(1, "nrpts")[0])
        if n < 1 or nr < 1:
            raise self.error(f"num_wann and nrpts must be positive, got {n}, {nr}")
        deg = self.ints(nr, "degeneracies")
        if np.any(deg < 1):
            raise self.error("degeneracies must be positive integers")
        return n, nr, deg


def _scatter(lines: _Lines, block: Array, n: int, first: int, what: str) -> Array:
    """Place the values of one R block (columns m, n, values...) into (n, n, ncomplex)."""
    mn = lines.int_columns(block, slice(0, 2), first, f"orbital index ({what})") - 1
    if np.any(mn < 0) or np.any(mn >= n):
        raise lines.error(f"orbital index out of range 1..{n} ({what})", first)
    flat = mn[:, 0] * n + mn[:, 1]
    if np.any(np.bincount(flat, minlength=n * n) != 1):
        raise lines.error(f"each (m, n) must appear exactly once per R ({what})", first)
    vals = block[:, 2::2] + 1j * block[:, 3::2]
    out = np.zeros((n * n, vals.shape[1]), dtype=complex)
    out[flat] = vals
    return out.reshape(n, n, -1)


def read_hr(path: PathLike, lattice: Array | None = None) -> WannierHamiltonian:
    """Read ``seedname_hr.dat``; the lattice (3×3 rows, Å) comes from ``lattice`` or ``seedname.win``."""
    path = Path(path)
    if lattice is None:
        win = path.with_name(_seedname(path) + ".win")
        if not win.exists():
            raise ValueError(
                f"{path}: an _hr.dat file has no lattice vectors; pass lattice= (3x3 rows, Å) "
                f"or put {win.name} (with a unit_cell_cart block) beside it"
            )
        lattice = read_win_lattice(win)
    lattice = np.asarray(lattice, dtype=float)
    if lattice.shape != (3, 3):
        raise ValueError(f"{path}: lattice must be a (3, 3) array of row vectors in Å, got {lattice.shape}")
    lines = _Lines(path)
    n, nr, deg = lines.counts()
    start, nn = lines.i, n * n
    data = lines.table(nr * nn, 7, "R1 R2 R3 m n ReH ImH")
    lines.finish()
    rall = lines.int_columns(data, slice(0, 3), lines.lineno(start), "R vector").reshape(nr, nn, 3)
    changed = np.argwhere(np.any(rall != rall[:, :1], axis=2))
    if len(changed):
        r, j = changed[0]
        raise lines.error(f"R vector changes inside the block of R number {r + 1} (wrong num_wann?)",
                          lines.lineno(start + r * nn + j))
    ham = np.empty((nr, n, n), dtype=complex)
    for r in range(nr):
        block = data[r * nn : (r + 1) * nn, 3:]
        ham[r] = _scatter(lines, block, n, lines.lineno(start + r * nn), "H")[..., 0]
    wh = WannierHamiltonian(lattice, rall[:, 0], deg, ham, None, lines.header, str(path))
    _check_hermitian(wh)
    return wh


def read_tb(path: PathLike) -> WannierHamiltonian:
    """Read ``seedname_tb.dat`` (lattice, H_R and, if present, the position blocks r_R)."""
    lines = _Lines(path)
    lattice = lines.table(3, 3, "lattice vector (Å)")
    n, nr, deg = lines.counts()
    rvec = np.empty((nr, 3), dtype=int)
    ham = np.empty((nr, n, n), dtype=complex)
    for r in range(nr):
        lineno = lines.lineno()
        rvec[r] = lines.int_columns(lines.table(1, 3, "R vector"), slice(0, 3), lineno, "R vector")[0]
        ham[r] = _scatter(lines, lines.table(n * n, 4, "m n ReH ImH"), n, lineno, "H")[..., 0]
    pos = None
    if lines.i < len(lines.items):  # position blocks, in any R order
        pos = np.empty((nr, 3, n, n), dtype=complex)
        index = {tuple(v): i for i, v in enumerate(rvec.tolist())}
        seen: set[tuple[int, ...]] = set()
        for _ in range(nr):
            lineno = lines.lineno()
            rv = tuple(lines.int_columns(lines.table(1, 3, "R vector"), slice(0, 3), lineno, "R")[0].tolist())
            block = lines.table(n * n, 8, "m n Rex Imx Rey Imy Rez Imz")
            if rv not in index or rv in seen:
                raise lines.error(f"position block R = {rv} is not an H block or repeats", lineno)
            seen.add(rv)
            pos[index[rv]] = _scatter(lines, block, n, lineno, "r").transpose(2, 0, 1)
    lines.finish()
    wh = WannierHamiltonian(lattice, rvec, deg, ham, pos, lines.header, str(path))
    _check_hermitian(wh)
    return wh


def read_win_lattice(path: PathLike) -> Array:
    """Lattice vectors (3×3 rows, Å) from the ``unit_cell_cart`` block of ``seedname.win``."""
    rows: list[tuple[int, str]] = []
    inside = False
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        s = raw.split("!")[0].split("#")[0].strip()
        key = " ".join(s.lower().split())
        if key == "begin unit_cell_cart":
            inside = True
        elif key == "end unit_cell_cart":
            break
        elif inside and s:
            rows.append((lineno, s))
    else:
        raise ValueError(f"{path}: no complete 'begin unit_cell_cart ... end unit_cell_cart' block")
    scale = 1.0
    if rows and rows[0][1].lower() in ("bohr", "ang", "angstrom"):
        scale = BOHR_ANGSTROM if rows[0][1].lower() == "bohr" else 1.0
        rows = rows[1:]
    if len(rows) != 3:
        raise ValueError(f"{path}: unit_cell_cart must hold 3 lattice vectors, found {len(rows)} lines")
    out = []
    for lineno, s in rows:
        try:
            vec = [float(x) for x in s.split()]
        except ValueError:
            raise ValueError(f"{path}, line {lineno}: non-numeric lattice vector {s!r}") from None
        if len(vec) != 3:
            raise ValueError(f"{path}, line {lineno}: a lattice vector needs 3 numbers, got {s!r}")
        out.append(vec)
    return np.array(out) * scale


def read_wsvec(path: PathLike) -> dict[tuple[int, int, int, int, int], Array]:
    """``seedname_wsvec.dat``: {(R1, R2, R3, m, n): (N_T, 3) integer shifts T} (m, n from 1)."""
    lines = _Lines(path)
    table: dict[tuple[int, int, int, int, int], Array] = {}
    while lines.i < len(lines.items):
        lineno = lines.items[lines.i][0]
        key = lines.ints(5, "R1 R2 R3 m n")
        count = int(lines.ints(1, "number of shifts")[0])
        if count < 1:
            raise lines.error("number of shifts must be positive", lineno)
        table[tuple(int(x) for x in key)] = lines.ints(3 * count, "shift T").reshape(count, 3)
    return table


# ---------------------------------------------------------------------------------------------- writing
def _fmt_complex(z: Array) -> Array:
    return np.stack([z.real, z.imag], axis=-1)


def _deg_lines(deg: Array) -> str:
    return "".join(
        "".join(f"{d:5d}" for d in deg[i : i + 15]) + "\n" for i in range(0, len(deg), 15)
    )


def _mn_columns(n: int) -> tuple[Array, Array]:
    """Row index m (fastest) and column index n, 1-based, in Wannier90 order."""
    return np.tile(np.arange(1, n + 1), n), np.repeat(np.arange(1, n + 1), n)


def write_hr(path: PathLike, wh: WannierHamiltonian, header: str | None = None) -> None:
    """Write ``wh`` as ``seedname_hr.dat`` (full double precision; readable by Wannier90 tools)."""
    n, nr = wh.num_wann, wh.nrpts
    m, k = _mn_columns(n)
    with open(path, "w") as f:
        f.write((header or wh.header or "written by properspin").strip() + "\n")
        f.write(f"{n:12d}\n{nr:12d}\n" + _deg_lines(wh.deg))
        for r in range(nr):
            vals = _fmt_complex(wh.ham[r].T.reshape(-1))  # m fastest
            cols = np.column_stack([np.tile(wh.rvec[r], (n * n, 1)), m, k, vals])
            np.savetxt(f, cols, fmt=["%5d"] * 5 + ["%25.16e"] * 2, delimiter="")


def write_tb(path: PathLike, wh: WannierHamiltonian, header: str | None = None) -> None:
    """Write ``wh`` as ``seedname_tb.dat`` (lattice, H_R, then positions r_R; needs ``wh.pos``)."""
    if wh.pos is None:
        raise ValueError("write_tb needs position matrix elements (wh.pos is None); use write_hr")
    n, nr = wh.num_wann, wh.nrpts
    m, k = _mn_columns(n)
    with open(path, "w") as f:
        f.write((header or wh.header or "written by properspin").strip() + "\n")
        np.savetxt(f, wh.lattice, fmt="%25.16e", delimiter="")
        f.write(f"{n:12d}\n{nr:12d}\n" + _deg_lines(wh.deg))
        for r in range(nr):
            f.write("\n" + "".join(f"{x:5d}" for x in wh.rvec[r]) + "\n")
            vals = _fmt_complex(wh.ham[r].T.reshape(-1))
            np.savetxt(f, np.column_stack([m, k, vals]), fmt=["%5d"] * 2 + ["%25.16e"] * 2, delimiter="")
        for r in range(nr):
            f.write("\n" + "".join(f"{x:5d}" for x in wh.rvec[r]) + "\n")
            vals = _fmt_complex(wh.pos[r].transpose(0, 2, 1).reshape(3, -1).T).reshape(n * n, 6)
            np.savetxt(f, np.column_stack([m, k, vals]), fmt=["%5d"] * 2 + ["%25.16e"] * 6, delimiter="")


# ---------------------------------------------------------------------------------------------- entry
def _seedname(path: Path) -> str:
    for suffix in ("_hr.dat", "_tb.dat"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def _kind(path: Path) -> str:
    if path.name.endswith("_tb.dat"):
        return "tb"
    if path.name.endswith("_hr.dat"):
        return "hr"
    with open(path) as f:
        f.readline()
        second = f.readline().split()
    if len(second) == 3:
        return "tb"
    if len(second) == 1:
        return "hr"
    raise ValueError(f"{path}: neither a Wannier90 _hr.dat nor a _tb.dat file (line 2: {' '.join(second)!r})")


def read_wannier(path: PathLike, lattice: Array | None = None) -> WannierHamiltonian:
    """Read an ``_hr.dat`` or ``_tb.dat`` file (detected by name, else by content)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such Wannier90 file: {path}")
    if _kind(path) == "hr":
        return read_hr(path, lattice)
    wh = read_tb(path)
    if lattice is not None and not np.allclose(np.asarray(lattice, dtype=float), wh.lattice, atol=1e-6):
        raise ValueError(f"{path}: lattice= differs from the lattice vectors stored in the _tb.dat file")
    return wh


def random_wannier_hamiltonian(
    num_wann: int, lattice: Array, rmax: int = 1, decay: float = 1.0, position_scale: float = 0.1, seed: int = 0
) -> WannierHamiltonian:
    """A synthetic Hermitian Wannier Hamiltonian, for tests and benchmarks: random complex H_R and r_R on every
    R ∈ {−rmax..rmax}³ (``(2 rmax + 1)³`` vectors, deg 1), scaled by e^{−decay·|R|} (|R| in lattice units), with
    H_{−R} = H_R† and r_{−R} = r_R† so that H(k) and A^W(k) are Hermitian; the R = 0 position block is
    Hermitian with its diagonal as Wannier centres."""
    import itertools

    rng = np.random.default_rng(seed)
    n = int(num_wann)
    rvec = np.array(list(itertools.product(range(-rmax, rmax + 1), repeat=3)))
    index = {tuple(r): i for i, r in enumerate(rvec.tolist())}

    def cplx(*shape: int) -> Array:
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)

    ham = np.zeros((len(rvec), n, n), complex)
    pos = np.zeros((len(rvec), 3, n, n), complex)
    for i, r in enumerate(rvec.tolist()):
        j = index[tuple(-x for x in r)]
        scale = np.exp(-decay * float(np.linalg.norm(r)))
        if i < j:
            ham[i], pos[i] = scale * cplx(n, n), position_scale * scale * cplx(3, n, n)
            ham[j], pos[j] = ham[i].conj().T, pos[i].conj().transpose(0, 2, 1)
        elif i == j:
            h, p = cplx(n, n), position_scale * cplx(3, n, n)
            ham[i], pos[i] = h + h.conj().T, p + p.conj().transpose(0, 2, 1)
    return WannierHamiltonian(np.asarray(lattice, dtype=float), rvec, np.ones(len(rvec), int), ham, pos,
                              f"random Wannier model ({n} bands, {len(rvec)} R vectors, seed {seed})")


def wannier90(
    path: PathLike,
    lattice: Array | None = None,
    spinor_order: str | None = None,
    spin: Array | None = None,
    use_position: bool = True,
    wsvec: PathLike | bool | None = None,
    dim: int = 3,
) -> Model:
    """A :class:`Model` from a Wannier90 ``seedname_hr.dat`` or ``seedname_tb.dat``.

    lattice
        (3, 3) rows in Å; needed for ``_hr.dat`` unless ``seedname.win`` lies beside it.
    spinor_order
        ``"interleaved"`` (↑↓ per orbital: Quantum ESPRESSO, recent VASP) or ``"block"`` (all ↑ then
        all ↓: older VASP) gives spin = 1_orb ⊗ σ/2; ``spin`` a user (3, n, n) array instead; neither:
        a charge-only model (``spin`` None).
    use_position
        With a ``_tb.dat``: ``position(k)`` = A^W(k) from the stored <0m|r|Rn>; False (or ``_hr.dat``):
        None, the tight-binding approximation.
    wsvec
        ``seedname_wsvec.dat`` path (True: the one beside ``path``) for ``use_ws_distance`` replicas.
    dim
        2 (or 1) keeps only in-plane k for a layer model whose R vectors all lie in the plane.
    """
    path = Path(path)
    wh = read_wannier(path, lattice)
    if wsvec is True:
        wsvec = path.with_name(_seedname(path) + "_wsvec.dat")
    if wsvec is not None and wsvec is not False:
        wh = wh.with_wsvec(wsvec)
    return wh.to_model(
        spinor_order=spinor_order,
        spin=spin,
        use_position=use_position,
        dim=dim,
        name=f"wannier90:{_seedname(path)}",
        parameters={"file": str(path), "wsvec": None if wsvec in (None, False) else str(wsvec)},
    )
