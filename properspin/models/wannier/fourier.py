"""Fourier sums of a Wannier model: ``Σ_R e^{ik·R} X_R`` for H, ∂H and the position matrix A^W.

Evaluation is one matrix product (N, nR) × (nR, n²) per component, in chunks of k so the phase matrix stays
small; Hermitian sums are computed on the lower triangle and mirrored; on a grid, long-range models are summed
along lines of b₃ in two stages (:class:`_LineSums`).  The [cos, sin] phases are shared by H, ∂H and A^W.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...model import CYCLIC_PAIRS

Array = np.ndarray

_CHUNK_ELEMENTS = 2**21  # complex entries of one phase-matrix chunk (32 MiB)


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
    from ..._numba import jit_enabled, njit

    if not jit_enabled():
        raise ImportError("NUMBA_DISABLE_JIT: the numpy mirror is faster than an interpreted loop")

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
