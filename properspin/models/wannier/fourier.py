"""Fourier sums of a Wannier model: ``Σ_R e^{ik·R} X_R`` for H, ∂H, the position matrix A^W and its derivatives.

:class:`WannierSums` is the one evaluator of a Wannier model: built once from the R vectors and the named blocks
(``"h"``, ``"dh"``, ``"pos"``, ``"dpos"``, ``"curl"``), its :meth:`~WannierSums.evaluate` returns every requested
sum at a batch of k-points from one phase computation.  The :class:`~properspin.Model` of a Wannier Hamiltonian
holds views of it (:class:`~properspin.model.EvaluatorView`): each view alone evaluates its own sum, and
:func:`properspin.model.evaluate_together` (the fused kernel's input) evaluates several views of the same
evaluator in one call.  Nothing is remembered between calls.

Evaluation is one real matrix product ``[cos, sin] @ W`` per component over the R set folded by R → −R, in
chunks of k so the phase matrix stays small; Hermitian sums are computed on the lower triangle and mirrored;
on a grid, long-range models are summed along lines of b₃ in two stages (:class:`_Lines`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...model import EvaluatorView

Array = np.ndarray

_CHUNK_ELEMENTS = 2**21  # complex entries of one phase-matrix chunk (32 MiB)


class _PositionGradient(EvaluatorView):
    """∂_a A^W_b = Σ_R i R_a e^{ik·R} r_R,b as (dim, dim, N, n, n); ``curl`` is the view of ∂_a A_b − ∂_b A_a
    (one sum per cyclic c instead of the full gradient)."""

    @property
    def curl(self) -> EvaluatorView | None:
        return EvaluatorView(self.evaluator, "curl") if "curl" in self.evaluator.sums else None


@dataclass
class _Sum:
    """One named sum of a :class:`WannierSums`: blocks (nR, c, n, n) and how they are multiplied."""

    prefix: tuple[int, ...]  # the output is (*prefix, N, n, n); c = prod(prefix)
    flat: Array  # (c, nR, n²) complex: the blocks as given
    weights: Array | None  # (c, nh + ns, 2m) real view of the folded [cos | sin] weights (None: complex path)
    lower: tuple[Array, Array] | None  # rows/cols of the lower triangle when the sum is Hermitian
    line_blocks: Array | None  # blocks ordered for the line sums (:class:`_Lines`), lower triangles only


class WannierSums:
    """k ↦ ``Σ_R e^{ik·R} B_R`` for several named block sets over the same R vectors, with shared phases.

    ``rcart`` (nR, dim) Cartesian R (Å); ``blocks[name]`` (nR, *prefix, n, n); ``lattice`` (dim, dim) rows a_i (Å)
    enables the line sums on grids.  When the R set is closed under R → −R the pairs are folded,
    e^{ik·R} B_R + e^{−ik·R} B_{−R} = cos(k·R)(B_R + B_{−R}) + sin(k·R) i(B_R − B_{−R}), so one real product
    ``[cos, sin] @ W`` over half the R vectors gives each component (half the arithmetic of the complex product,
    same sum to round-off).  When moreover a sum is Hermitian (B_{−R} = B_R† to round-off: H, ∂H, the symmetrised
    A^W), only its lower triangle is summed and mirrored, which halves the product again and makes the result
    exactly Hermitian.  Otherwise the complex phases e^{ik·R} are used.
    """

    def __init__(self, rcart: Array, blocks: Mapping[str, Array], lattice: Array | None = None) -> None:
        rcart = np.asarray(rcart, dtype=float)
        nr = rcart.shape[0]
        self.rcart = rcart
        self.chunk = max(1, _CHUNK_ELEMENTS // max(nr, 1))
        partner = _partners(rcart)
        self.folded = partner is not None
        if self.folded:
            keep = np.array([r for r in range(nr) if r <= partner[r]], dtype=np.int64)
            self._keep, self._pk = keep, partner[keep]
            self._odd = keep[keep != self._pk]  # pairs with R ≠ 0 carry a sine term
            self._podd = partner[self._odd]
            self.rcos = np.ascontiguousarray(rcart[keep].T)
            self.rsin = np.ascontiguousarray(rcart[self._odd].T)
        self.lines = _Lines.build(rcart, lattice) if self.folded and lattice is not None else None
        self.sums = {name: self._sum(np.asarray(b)) for name, b in blocks.items()}
        self.nbands = {b.shape[-1] for b in blocks.values()}.pop() if blocks else 0

    def _sum(self, blocks: Array) -> _Sum:
        nr, n = blocks.shape[0], blocks.shape[-1]
        prefix = tuple(blocks.shape[1:-2])
        c = int(np.prod(prefix, dtype=int))
        flat = np.ascontiguousarray(blocks.reshape(nr, c, n * n).transpose(1, 0, 2)).astype(complex)  # (c, nR, n²)
        if not self.folded:
            return _Sum(prefix, flat, None, None, None)
        keep, pk, odd, podd = self._keep, self._pk, self._odd, self._podd
        cos_b = np.where((keep == pk)[None, :, None], flat[:, keep], flat[:, keep] + flat[:, pk])
        w = np.concatenate([cos_b, 1j * (flat[:, odd] - flat[:, podd])], axis=1)  # (c, nh + ns, n²)
        wm = w.reshape(c, -1, n, n)
        lower = line_blocks = None
        if np.max(np.abs(wm - wm.conj().swapaxes(-1, -2)), initial=0.0) <= 1e-12 * np.max(np.abs(wm), initial=0.0):
            rows, cols = np.tril_indices(n)
            lower = (rows.astype(np.int64), cols.astype(np.int64))
            w = w[:, :, rows * n + cols]
            if self.lines is not None:
                line_blocks = self.lines.stack(flat[:, :, rows * n + cols])
        return _Sum(prefix, flat, np.ascontiguousarray(w).view(float), lower, line_blocks)

    def function(self, name: str) -> EvaluatorView:
        """The k-function of one sum (a view for :class:`~properspin.Model`)."""
        if name not in self.sums:
            raise KeyError(f"no sum {name!r}; have {', '.join(self.sums)}")
        return EvaluatorView(self, name)

    def evaluate(self, k: Array, what: Sequence[str], out: Mapping[str, Array] | None = None) -> dict[str, Array]:
        """The sums named in ``what`` at k-points ``k`` (N, dim), each (*prefix, N, n, n), from one phase computation
        (or one grouping into lines) for all of them.

        ``out[name]`` (optional, any subset of ``what``): a C-contiguous complex array of that shape to write the sum
        into and return, so that a caller evaluating block after block (the kernel driver) reuses warm memory
        instead of fresh pages for every block."""
        k = np.asarray(k, dtype=float)
        n, nk = self.nbands, k.shape[0]
        sums = {name: self.sums[name] for name in what}
        res = {name: _destination(out, name, (*s.prefix, nk, n, n)) for name, s in sums.items()}
        flat = {name: r.reshape(sums[name].flat.shape[0], nk, n * n) for name, r in res.items()}
        todo = dict(sums)
        if self.lines is not None and any(s.line_blocks is not None for s in sums.values()):
            grouping = self.lines.group(k)
            if grouping is not None:
                for name, s in sums.items():
                    if s.line_blocks is not None:
                        vals = self.lines.sum(grouping, s.line_blocks, s.flat.shape[0])  # (N, c, m)
                        for a in range(s.flat.shape[0]):
                            _mirror(np.ascontiguousarray(vals[:, a]), flat[name][a], n)
                        del todo[name]
        scratch = None
        for start in range(0, nk, self.chunk):
            if not todo:
                break
            ks = k[start : start + self.chunk]
            if not self.folded:
                phase = np.exp(1j * (ks @ self.rcart.T))
                for name, s in todo.items():
                    for a in range(s.flat.shape[0]):
                        np.matmul(phase, s.flat[a], out=flat[name][a, start : start + self.chunk])
                continue
            cs = np.concatenate([np.cos(ks @ self.rcos), np.sin(ks @ self.rsin)], axis=1)  # one phase computation
            if scratch is None or scratch.shape[0] != len(ks):
                scratch = np.empty((len(ks), n * (n + 1)))  # one lower triangle (real view), reused by every sum
            for name, s in todo.items():
                for a in range(s.flat.shape[0]):
                    dest = flat[name][a, start : start + self.chunk]
                    if s.lower is None:
                        np.matmul(cs, s.weights[a], out=dest.view(float))
                    else:
                        _mirror(np.matmul(cs, s.weights[a], out=scratch).view(complex), dest, n)
        return res


def _destination(out: Mapping[str, Array] | None, name: str, shape: tuple[int, ...]) -> Array:
    """``out[name]`` checked to be a C-contiguous complex array of ``shape``, or a new one."""
    if out is None or name not in out:
        return np.empty(shape, dtype=complex)
    dest = out[name]
    if dest.shape != shape or dest.dtype != np.complex128 or not dest.flags.c_contiguous:
        raise ValueError(f"out[{name!r}] must be a C-contiguous complex128 array of shape {shape}, got "
                         f"{dest.dtype} {dest.shape} (contiguous: {dest.flags.c_contiguous})")
    return dest


class _Lines:
    """Σ_R e^{ik·R} B_R for k-points on lines of fixed θ_i = k·a_i (i < dim), in two stages.

    Stage 1, once per line g: G_g(r) = Σ_{R: R_dim = r} e^{i Σ_{i<dim} R_i θ_i} B_R for each distinct last
    coordinate r.  Stage 2, per k-point: Σ_r e^{i r θ_dim} G_g(r).  Cost ≈ (lines × nR + N × n_r) n² instead
    of N × nR × n²; used only when a block holds at most N/4 lines and n_r ≤ nR/8, else the caller sums
    directly.  Points join a line when their θ_i agree to 1e-11 rad and are then evaluated at the line's θ
    (the spread inside a line is checked to be below 1e-13: round-off of k, not a different k).  The grouping
    of a batch of k (:meth:`group`) is computed once per evaluation and used by every sum.
    """

    def __init__(self, lattice: Array, perp: Array, last: Array, bounds: Array, order: Array) -> None:
        self.lattice, self.perp, self.last, self.bounds, self.order = lattice, perp, last, bounds, order

    @classmethod
    def build(cls, rcart: Array, lattice: Array) -> _Lines | None:
        """None when the R are not lattice vectors or there is nothing to gain."""
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
        return cls(lattice, np.ascontiguousarray(rint[order, :-1]), last, bounds, order)

    def stack(self, blocks: Array) -> Array:
        """``blocks`` (c, nR, m) → (nR, c·m) in the order of the R grouped by their last coordinate."""
        c, nr, m = blocks.shape
        return np.ascontiguousarray(blocks[:, self.order].transpose(1, 0, 2).reshape(nr, c * m))

    def group(self, k: Array) -> tuple[Array, Array, Array, Array] | None:
        """Lines of the k-points, their phases e^{i R_⊥·θ_⊥} (lines, nR) and e^{i r θ_dim} (N, n_r); None when the
        k-points do not lie on few enough lines."""
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

    def sum(self, grouping: tuple[Array, Array, Array, Array], blocks: Array, c: int) -> Array:
        """Both stages for one sum (``blocks`` from :meth:`stack`): (N, c, m)."""
        phase, e_last, order, starts = grouping
        groups = len(starts) - 1
        stage1 = np.empty((groups, len(self.last), blocks.shape[1]), dtype=complex)
        for j in range(len(self.last)):
            a, b = self.bounds[j], self.bounds[j + 1]
            np.matmul(phase[:, a:b], blocks[a:b], out=stage1[:, j])
        vals = np.empty((e_last.shape[0], blocks.shape[1]), dtype=complex)
        for g in range(groups):
            idx = order[starts[g] : starts[g + 1]]
            vals[idx] = e_last[idx] @ stage1[g]
        return vals.reshape(e_last.shape[0], c, -1)


def _mirror_numpy(vals: Array, out: Array, n: int) -> None:
    """out[:, i·n + j] = vals[:, t] and out[:, j·n + i] = conj(vals[:, t]) for the t-th entry (i, j), i ≥ j, of the
    lower triangle in row order (``numpy.tril_indices``: t = i(i + 1)/2 + j); the diagonal (i = j) keeps the real part
    only (a Hermitian sum; the imaginary part is round-off)."""
    rows, cols = np.tril_indices(n)
    out[:, cols * n + rows] = vals.conj()
    out[:, rows * n + cols] = vals
    diag = rows == cols
    out[:, rows[diag] * (n + 1)] = vals[:, diag].real


def _mirror(vals: Array, out: Array, n: int) -> None:
    """:func:`_mirror_numpy`, compiled on first use (numba is imported then, not with properspin)."""
    _compiled_mirror()(vals, out, n)


@functools.cache
def _compiled_mirror() -> Callable[..., None]:
    try:
        from ..._numba import jit_enabled, njit

        if not jit_enabled():
            raise ImportError("NUMBA_DISABLE_JIT: the numpy mirror is faster than an interpreted loop")
    except ImportError:  # pragma: no cover - numba is a dependency
        return _mirror_numpy

    @njit(cache=True)
    def mirror(vals, out, n):  # pragma: no cover - compiled; same as _mirror_numpy
        for k in range(vals.shape[0]):  # row i of the triangle is contiguous: t = i(i + 1)/2 + j, no index arrays
            for i in range(n):
                base = i * (i + 1) // 2
                for j in range(i):
                    v = vals[k, base + j]
                    out[k, i * n + j] = v
                    out[k, j * n + i] = np.conj(v)
                out[k, i * (n + 1)] = vals[k, base + i].real

    return mirror


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
