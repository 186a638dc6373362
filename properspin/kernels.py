"""Compiled chunk kernels: eigenvectors → band-basis velocity and spin → per-state response → Fermi sums.

The numpy path (:func:`properspin.chunk_numpy.numpy_chunk`) builds the whole :class:`~properspin.geometry.BandGeometry`
of a chunk, the per-band response ``(*components, N, n)`` and a ``(N·n, ncomp)`` value array before
:meth:`~properspin.sweep.Sweep.accumulate` bins it.  :func:`kernel_chunk` keeps the batched
eigen-decomposition (:func:`properspin.eigen.eigh`, ``numpy.linalg.eigh`` with a faster path for small
complex matrices) and does everything after it in one compiled loop over k with ``n × n`` scratch
matrices only, in blocks of k small enough that H, U and ∂H stay in cache.  The compiled loop and its
stages are in :mod:`properspin.kernel_stages` (formulas there); this module prepares their input, calls
them block by block and returns the :class:`~properspin.chunk_numpy.ChunkResult`.

Which response runs here is the response's business: ``Response.kernel_mode`` (a :class:`KernelMode`) and
``Response.fused_mode`` (``None`` when a parameter the kernel does not take differs from its default).
What a mode runs, accumulates and reads is its row of :data:`~properspin.kernel_modes.KERNEL_NEEDS`, read here
and nowhere else; a response that disagrees with its mode's row (components, spin), or a mode without one, is
refused with :class:`~properspin.kernel_modes.KernelNeedsError` naming the mode.  Inputs the kernel declines (a
position matrix that is not Hermitian, non-finite values that the numpy path reproduces, numba missing) make
:func:`kernel_chunk` return ``None`` and the caller uses the numpy path; non-finite kernel values where the
numpy path is finite are an error, not a fall-back.
"""


from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import conventions
from ._numba import first_compile
from .chunk_numpy import ChunkResult, numpy_chunk
from .eigen import eigh
from .geometry import levi_civita_contract
from .kernel_base import (
    _BAD_POSITION,
    _BAD_VALUES,
    _Block,
    _hermitian_ok,
    _Setup,
    _Spin,
    _workspace,
    njit,
)
from .kernel_modes import VALUE_CODES, KernelMode, KernelNeeds, KernelNeedsError, needs
from .kernel_stages import _kernel_any, _kernel_n4
from .model import EvaluatorView, Model, evaluate_together
from .sweep import Sweep, sweep_spec

if TYPE_CHECKING:
    from .models.wannier.run import QiaoSpinCurrent
    from .responses import Response

__all__ = ["KernelMode", "available", "kernel_chunk", "supports"]

_BLOCK_BYTES = 1 << 22  # k-points per kernel call: about this many bytes of H, U, ∂H, A
_BLOCK_MIN = 64


# ------------------------------------------------------------------------------------------ Python API
def available() -> bool:
    """True when numba is importable (otherwise :func:`kernel_chunk` always returns ``None``)."""
    return njit is not None


def supports(response: Response, model: Model) -> bool:
    """Whether :func:`kernel_chunk` handles this response (with its parameters) on this model, before looking at k."""
    if njit is None or response.fused_mode is None or model.dim not in (2, 3):
        return False
    row = _checked_needs(response, model.dim)
    return "spin" not in row.operators or model.has_spin  # constant spin, or S(k) of Model.spin_k (else numpy's error)


def _checked_needs(response: Response, dim: int) -> KernelNeeds:
    """The :data:`~properspin.kernel_modes.KERNEL_NEEDS` row of ``response.fused_mode``, checked against the
    response: same component dimensions and width, and the spin declared when the mode reads it."""
    mode = int(response.fused_mode)
    row = needs(mode)
    name = KernelMode(mode).name
    parts = 2 if response.params.get("occupation_split", False) else 1
    ncomp = int(np.prod([len(v) for v in response.coords(dim).values()]))
    problem = None
    if tuple(d for d in response.dims if d != "part") != row.dims:
        problem = f"its components are {response.dims}, the mode accumulates {row.dims}"
    elif row.widths(dim, parts)["expanded"] != ncomp:
        problem = f"it has {ncomp} components in {dim}D, the mode gives {row.widths(dim, parts)['expanded']}"
    elif "spin" in row.operators and not response.needs_spin:
        problem = f"the mode reads the model's spin but the response's kind {response.kind!r} does not need one"
    if problem is not None:
        raise KernelNeedsError(f"response {response.name!r} names kernel mode {name} but {problem}: fix its "
                               "kernel_mode or the mode's row in properspin.kernel_modes.KERNEL_NEEDS")
    return row


def kernel_chunk(
    response: Response,
    model: Model,
    k: np.ndarray,
    w: np.ndarray,
    sweeps: Sequence[Sweep],
    degeneracy_tol: float,
) -> ChunkResult | None:
    """Partial Fermi sums of ``response`` over k-points ``k`` with weights ``w``, one per sweep.

    Same numbers (to round-off) as :func:`properspin.chunk_numpy.numpy_chunk`: the partial arrays have the row
    layout of ``sweep.empty(ncomp)`` and the component layout of :mod:`properspin.responses` (spin, current,
    field flattened in C order; charge: current, field).  The kernel path is ``response.fused_mode``; of the
    response's parameters it takes those in ``response.kernel_params`` (``broadening``: η of the conventional
    term).  Returns ``None`` when the response or model is not supported, so the caller falls back.
    """
    if not supports(response, model):
        return None
    mode = int(response.fused_mode)
    row = _checked_needs(response, model.dim)
    params = response.params
    dim, n = model.dim, model.nbands
    has_pos = model.position is not None
    qiao = _qiao_source(model) if row.conventional and params.get("method") == "qiao" else None
    if row.conventional and params.get("method", "simple") != "simple" and qiao is None:
        return None  # a spin current the kernel does not build (e.g. a rotated model's): numpy path
    dense = (model.spin_k is not None and "spin" in row.operators) or qiao is not None  # S(k): evaluated with H
    k = np.asarray(k, dtype=float)
    w = np.ascontiguousarray(w, dtype=float)
    spin = _spin_data(model.spin, n)
    spec = sweep_spec(sweeps)
    split = bool(params.get("occupation_split", False))
    widths = row.widths(dim, 2 if split else 1)
    setup = _Setup(mode, row.compact == "omega", row.sigma, row.conventional, row.torque, VALUE_CODES[row.values],
                   has_pos, response.uses_diagonal_spin and model.has_spin,
                   float(degeneracy_tol), float(params.get("broadening", 0.0)) ** 2, float(conventions.SPLIT_TOL),
                   np.array(conventions.CYCLIC_PAIRS[dim], dtype=np.int64),
                   params.get("degenerate", "exclude") == "block_trace", split,
                   float(params.get("dephasing", 0.0)) ** 2, dense, qiao is not None,
                   float(qiao.d_tol) if qiao is not None else 0.0, float(params.get("eigval_max", np.inf)))
    partial = np.zeros((int(spec.rows.sum()), widths["vals"]))
    work = _workspace(n, dim, spin.pairs.shape[1], widths, qiao is not None)
    degflags = np.zeros((n, n), dtype=np.bool_)
    out = np.zeros(2, dtype=np.int64)  # status, degenerate k-points (accumulated)
    kernel = _kernel_n4 if n == 4 else _kernel_any  # two compiled variants, each built on first use
    what = f"the k-point kernel for {'4 bands' if n == 4 else 'any band count'}"

    block = _block_size(n, dim, has_pos, dense, qiao is not None)
    buffers: dict[str, np.ndarray] = {}  # the Fourier sums of one block, overwritten by the next (warm pages)
    for start in range(0, len(k), block):
        kb = k[start : start + block]
        blk = _inputs(model, kb, w[start : start + block], "wannier_curv" in row.stages and has_pos, dense, qiao,
                      buffers)
        with first_compile(kernel, what):  # compiled (or loaded from the cache) once, by one process at a time
            kernel(blk, spin, spec, setup, work, partial, degflags, out)
        del blk  # free this block's arrays before the next is evaluated: the allocator reuses warm memory
        if out[0] == _BAD_VALUES:
            model.dh(kb)  # raises "gradient(k) contains NaN or inf" when that is the cause
            _numpy_also_nonfinite(response, model, kb, w[start : start + block], sweeps, degeneracy_tol)
            return None  # the numpy path reproduces the non-finite sums
        if out[0] == _BAD_POSITION:
            return None  # non-Hermitian position matrix: numpy path
    partials = [_expand(row, dim, p, split) for p in np.split(partial, np.cumsum(spec.rows[:-1]))]
    bands = {(int(a), int(b)) for a, b in zip(*np.nonzero(degflags), strict=True)}
    return ChunkResult(partials, int(out[1]), bands)


# ------------------------------------------------------------------------------------------ Python helpers
def _block_size(n: int, dim: int, has_pos: bool, dense: bool, qiao: bool) -> int:
    """k-points per kernel call: blocks small enough that H, U, ∂H (and A, S(k), the Qiao operators) stay in cache
    between the model and the kernel."""
    return max(_BLOCK_MIN, _BLOCK_BYTES // (16 * n * n * (2 + dim * (1 + has_pos) + 3 * dense + 21 * qiao)))


def _numpy_also_nonfinite(response: Response, model: Model, k: np.ndarray, w: np.ndarray, sweeps: Sequence[Sweep],
                          degeneracy_tol: float) -> None:
    """After non-finite kernel values on a block: :class:`KernelNeedsError` unless the numpy path is non-finite
    there too (then the fall-back reproduces it); finite numpy values mean a kernel defect (a need left out of the
    mode's row, a work array of the wrong width), never silently replaced by the numpy numbers."""
    ref = numpy_chunk(model, response, k, w, sweeps, degeneracy_tol)
    if all(np.isfinite(p).all() for p in ref.partials):
        name = KernelMode(int(response.fused_mode)).name
        raise KernelNeedsError(f"kernel mode {name} ({response.name!r}) gave non-finite values at k-points where the "
                               "numpy path is finite: a kernel defect (check the mode's row in "
                               "properspin.kernel_modes.KERNEL_NEEDS and its work-array widths)")


def _qiao_source(model: Model) -> QiaoSpinCurrent | None:
    """The model's Qiao spin current when the kernel can build it (a Wannier90 run's own), else None."""
    from .models.wannier.run import QiaoSpinCurrent

    src = model.spin_current
    return src if isinstance(src, QiaoSpinCurrent) else None


def _inputs(model: Model, k: np.ndarray, w: np.ndarray, need_curl: bool, dense: bool = False,
            qiao: QiaoSpinCurrent | None = None, buffers: dict[str, np.ndarray] | None = None) -> _Block:
    """H(k) diagonalised, ∂H, A^W, (``need_curl``) its curl, (``dense``) the spin S(k) of ``Model.spin_k`` and
    (``qiao``) the Wannier-gauge S, SH, SR, SHR of the Qiao spin current at the k-points of one block, validated.

    Functions of the model that are views of one evaluator (a Wannier model's Fourier sums) are evaluated
    together (:func:`~properspin.model.evaluate_together`: one phase computation), into ``buffers`` (the previous
    block's arrays of the same shape, then remembered for the next block): fresh pages for every block cost the
    Fe_tb.dat charge call a third of its time in page faults (benchmarks/RESULTS.md §17c).
    """
    dim, n = model.dim, model.nbands
    curl_view = getattr(model.position_gradient, "curl", None) if need_curl else None
    views = {"h": model.hamiltonian, "dh": model.gradient, "pos": model.position, "curl": curl_view,
             "spin": model.spin_k if dense else None}
    if qiao is not None:  # the operators QiaoSpinCurrent sums, S from the same sums
        views.update({name: qiao.sums.function(name) for name in ("sh", "sr", "shr")}, spin=qiao.sums.function("s"))
    reuse = None if buffers is None else {key: b for key, b in buffers.items() if b.shape[-3] == len(k)}
    raw = evaluate_together(k, views, reuse)
    if buffers is not None:
        buffers.update({key: v for key, v in raw.items() if isinstance(views[key], EvaluatorView)})
    h = _hamiltonian(model, k, raw["h"])
    energies, u = eigh(h)  # on H as the model returns it (real: numpy; complex: eigen.eigh), like the numpy path
    dh = raw.get("dh")
    if dh is None or dh.shape != (dim,) + h.shape:
        dh = model.dh(k)  # finite differences (validated), or the shape error
    apos = raw.get("pos")
    if apos is None:
        apos = np.zeros((dim, 1, n, n), dtype=complex)
    elif apos.shape != (dim,) + h.shape:
        apos = model.berry_connection_orbital(k)  # raises the shape error
    if not need_curl:
        curl = np.zeros((len(conventions.CYCLIC_PAIRS[dim]), 1, n, n), dtype=complex)
    elif "curl" in raw:
        curl = raw["curl"]
    else:  # ∂_a A_b − ∂_b A_a for the Wannier curvature F^W (Wang et al. Eq. 27)
        curl = model.berry_connection_orbital_curl(k)
    if not dense:
        spin = np.zeros((3, 1, n, n), dtype=complex)
    else:
        spin = raw.get("spin")
        if spin is None or spin.shape != (3,) + h.shape:
            spin = model.spin_at(k)  # validated (or the shape error)
    c = np.complex128
    q = {name: np.ascontiguousarray(raw[name], dtype=c) if qiao is not None else np.zeros((m, 1, n, n), dtype=c)
         for name, m in (("sh", 3), ("sr", 9), ("shr", 9))}
    return _Block(np.ascontiguousarray(energies, dtype=float), np.ascontiguousarray(u, dtype=c),
                  np.ascontiguousarray(dh, dtype=c), np.ascontiguousarray(apos, dtype=c),
                  np.ascontiguousarray(curl, dtype=c), w, np.ascontiguousarray(spin, dtype=c), q["sh"], q["sr"],
                  q["shr"])


def _hamiltonian(model: Model, k: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``h = model.hamiltonian(k)`` with the checks of :meth:`Model.h` done in compiled code.

    On any failure :meth:`Model.h` is called, which raises its usual error.
    """
    n = model.nbands
    if h.shape != (k.shape[0], n, n) or h.dtype.kind not in "fc":
        return model.h(k)
    if not _hermitian_ok(np.ascontiguousarray(h, dtype=complex), conventions.HERMITIAN_RTOL):
        return model.h(k)
    return h


def _spin_data(spin: np.ndarray | None, n: int) -> _Spin:
    if spin is None:
        return _Spin(np.zeros((3, n + 1), dtype=np.int64), np.zeros((3, 1), dtype=np.int64),
                     np.zeros((3, 1), dtype=complex), np.zeros((2, 0), dtype=np.int64))
    return _Spin(*_sparse_rows(spin), _spinor_pairs(spin))


def _sparse_rows(spin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-compressed nonzeros of the three spin matrices: ``s^l[i, col[l, t]] = val[l, t]`` for
    ``ptr[l, i] ≤ t < ptr[l, i + 1]``."""
    n = spin.shape[-1]
    nnz = max(1, int(max(np.count_nonzero(s) for s in spin)))
    ptr = np.zeros((3, n + 1), dtype=np.int64)
    col = np.zeros((3, nnz), dtype=np.int64)
    val = np.zeros((3, nnz), dtype=complex)
    for l, s in enumerate(spin):
        rows, cols = np.nonzero(s)
        ptr[l, 1:] = np.cumsum(np.bincount(rows, minlength=n))
        col[l, : len(cols)] = cols
        val[l, : len(cols)] = s[rows, cols]
    return ptr, col, val


def _spinor_pairs(spin: np.ndarray) -> np.ndarray:
    """Rows (up, down) of the orbital pairs when ``s^l = 1_orb ⊗ σ^l/2`` exactly (any row order), else (2, 0).

    Then ``U† s^l Y`` needs only the four half-size products ``U_σ† Y_σ'`` (σ = up/down rows).
    """
    none = np.zeros((2, 0), dtype=np.int64)
    spin = np.asarray(spin)
    n = spin.shape[-1]
    if n % 2 or spin.shape != (3, n, n):
        return none
    up = np.flatnonzero(np.diag(spin[2]) == 0.5)
    if len(up) != n // 2:
        return none
    dn = np.argmax(np.abs(spin[0][up]), axis=1)
    e = np.zeros((n, n), dtype=complex)
    e[up, dn] = 1.0
    sz = np.zeros((n, n), dtype=complex)
    sz[up, up] = 0.5
    sz[dn, dn] = -0.5
    expected = (0.5 * (e + e.T), 0.5j * (e.T - e), sz)
    if not all(np.array_equal(spin[l], expected[l]) for l in range(3)):
        return none
    return np.array([up, dn], dtype=np.int64)


def _expand(row: KernelNeeds, dim: int, part: np.ndarray, split: bool = False) -> np.ndarray:
    """Compact partial sums → the component layout of :mod:`properspin.responses` by the row's ``expand``
    (``ε_ijc`` contraction; the occupation parts of proper spin lead)."""
    if part.shape[1] != row.widths(dim, 2 if split else 1)["vals"]:
        raise KernelNeedsError(f"compact partial sums of width {part.shape[1]}, the mode's row says "
                               f"{row.widths(dim, 2 if split else 1)['vals']}")
    if row.expand == "none":
        return part
    rows, nc = part.shape[0], len(conventions.CYCLIC_PAIRS[dim])
    if row.expand == "-epsilon":  # charge: −ε_ijc Ω^c
        q = part.T.reshape(nc, 1, rows, 1)
        return -levi_civita_contract(q, dim)[0, :, :, :, 0].transpose(2, 0, 1).reshape(rows, dim * dim)
    parts = 2 if split else 1
    out = []
    for p in range(parts):  # proper: ε_ijc Σ^{c,l}, per part
        q = part[:, p * 3 * nc : (p + 1) * 3 * nc].reshape(rows, nc, 3).transpose(1, 2, 0)[..., None]
        out.append(levi_civita_contract(q, dim)[..., 0].transpose(3, 0, 1, 2).reshape(rows, 3 * dim * dim))
    return np.concatenate(out, axis=1)
