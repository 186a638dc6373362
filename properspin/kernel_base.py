"""Grouped arguments, scratch space and compiled building blocks of the fused kernel (:mod:`properspin.kernel_stages`).

* :class:`_Block`, :class:`_Spin`, :class:`_Setup`, :class:`_Work`: the grouped arguments every stage takes
  (:func:`_workspace` allocates the scratch once per kernel call, sized by the mode's row of
  :data:`properspin.kernel_modes.KERNEL_NEEDS`);
* the numba decorators of the stages (``_jit_inline``: inlined into the kernels; ``_jit_kernel``: compiled
  without reference counting) and the rules of :mod:`properspin.conventions`, compiled;
* :func:`_gemm` (BLAS ``zgemm`` on row-major operands), :func:`_product`, :func:`_adjoint_times` (written-out
  small products) and :func:`_hermitian_ok` (the check of :meth:`Model.h`).

The stages themselves are in :mod:`properspin.kernel_velocity` (V^a), :mod:`properspin.kernel_curvature`
(s_nn, Ω, Σ of Eq. (2), block trace, Wannier curvature) and :mod:`properspin.kernel_conventional` (Q^{l,i,j},
Qiao); the loop over k that calls them, the per-state values and the Fermi deposit in
:mod:`properspin.kernel_stages`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import conventions
from ._numba import jit_enabled
from ._numba import njit as _cached_njit

# numba missing or NUMBA_DISABLE_JIT=1: the numpy path (interpreted kernels would take hours)
njit = _cached_njit if jit_enabled() else None


_BLAS_MIN = 10  # matrix size from which products call BLAS
_POSITION_RTOL = 1e-12  # relative anti-Hermitian part of A^W(k) above which the kernel declines

# status codes returned by the compiled kernel
_OK, _BAD_VALUES, _BAD_POSITION = 0, 1, 2


# ------------------------------------------------------------------------------------- grouped arguments
class _Block(NamedTuple):
    """The k-dependent input of one kernel call (``nk`` k-points)."""

    energies: np.ndarray  # (nk, n) eigenvalues
    u: np.ndarray  # (nk, n, n) eigenvectors (columns)
    dh: np.ndarray  # (dim, nk, n, n) ∂_a H
    apos: np.ndarray  # (dim, nk, n, n) A^W_a, or (dim, 1, n, n) zeros without a position term
    curl: np.ndarray  # (nc, nk, n, n) ∂_a A_b − ∂_b A_a (charge with positions), else (nc, 1, n, n) zeros
    w: np.ndarray  # (nk,) weights
    spin: np.ndarray  # (3, nk, n, n) S(k) of a model with Model.spin_k, else (3, 1, n, n) zeros
    sh: np.ndarray  # (3, nk, n, n) SH(k) of the Qiao spin current (Wannier gauge), else (3, 1, n, n) zeros
    sr: np.ndarray  # (9, nk, n, n) SR_{l,a}(k) at 3l + a (Qiao), else (9, 1, n, n) zeros
    shr: np.ndarray  # (9, nk, n, n) SHR_{l,a}(k) at 3l + a (Qiao), else (9, 1, n, n) zeros


class _Spin(NamedTuple):
    """The orbital spin operators ``s^l``, row-compressed (:func:`_sparse_rows`), and their spinor pairs."""

    ptr: np.ndarray  # (3, n + 1): row i of s^l is col/val[l, ptr[l, i] : ptr[l, i + 1]]
    col: np.ndarray
    val: np.ndarray
    pairs: np.ndarray  # (2, n/2) up/down rows when s^l = 1 ⊗ σ^l/2 exactly, else (2, 0)


class _Setup(NamedTuple):
    """What to compute and the rules it follows."""

    mode: int  # KernelMode (for the record: what runs is decided by the flags below, from its KERNEL_NEEDS row)
    omega: bool  # Ω^c into qs (compact "omega")
    sigma: bool  # Σ^{c,l} into qs (stage "sigma")
    conv: bool  # Q^{l,i,j} into qc (stage "conventional")
    torque: bool  # Q^{l,j} of the torque density into qc (stage "torque")
    values: int  # kernel_modes.VALUE_CODES: vals from qs (0), qc (1), ε_ijc Σ^{c,l} − Q (2) or App. C (3)
    has_pos: bool  # Wannier position term present
    check_degeneracy: bool  # count gauge-dependent degenerate pairs (responses using s_nn)
    tol: float  # degeneracy_tol: pairs with |Δ| < tol are excluded (conventions.excluded)
    eta2: float  # η² of the conventional term
    split_tol: float  # conventions.SPLIT_TOL
    cyclic: np.ndarray  # (nc, 2) the cyclic pairs (a, b) → c of conventions.CYCLIC_PAIRS
    block_trace: bool  # Σ in block-trace form where degenerate blocks exist (degenerate="block_trace")
    split: bool  # occupied–empty and occupied–occupied parts of Σ (occupation_split)
    deph2: float  # η² of the dephasing weight Δ²/(Δ² + η²) of occupied–occupied pairs (0: none)
    dense_spin: bool  # the spin is the k-dependent S(k) of _Block.spin (Model.spin_k)
    qiao: bool  # conventional term with the Qiao et al. spin current from _Block.spin/sh/sr/shr
    qiao_tol: float  # D_nm = 0 where |ε_m − ε_n| < qiao_tol (QiaoSpinCurrent.d_tol)
    emax: float  # eigval_max: pairs with a band above it are dropped from the conventional term (inf: none)


class _Work(NamedTuple):
    """Scratch matrices, allocated once per kernel call (:func:`_workspace`)."""

    ud: np.ndarray  # U† (BLAS)
    x: np.ndarray  # ∂_a H + i A^a (loops)
    pa: np.ndarray  # M = U† (∂_a H + i A^a) U
    y: np.ndarray  # products (loops)
    v: np.ndarray  # (dim, n, n) V^a
    yc: np.ndarray  # (dim, n, n) ∂_i H U (or U V^i): the conventional term
    wsh: np.ndarray  # (3, n, n) (s^l U)†
    wsh_rows: np.ndarray  # the same as (3n, n)
    svs: np.ndarray  # (dim, 3n, n) S^l V^i, rows l·n + r
    lup: np.ndarray  # (n, n/2) U_up† (BLAS)
    ldn: np.ndarray  # (n, n/2) U_dn† (BLAS)
    ycols: np.ndarray  # (n/2, 2n·dim) [Y^i_up | Y^i_dn] for i = 0, 1, 2
    yup: np.ndarray  # (n/2, n·dim) [Y^i_up]
    gq: np.ndarray  # (n, 2n·dim) [U_up† Y^i_up | U_up† Y^i_dn] per i
    gd: np.ndarray  # (n, n·dim) [U_dn† Y^i_up] per i; U_dn† Y_dn = V − U_up† Y_up
    xv: np.ndarray  # (dim·n, n) C_a = ∂_a H (+ i A^a) stacked by rows
    yv: np.ndarray  # (dim·n, n) C_a U stacked by rows
    yh: np.ndarray  # (n, dim·n) C_a U side by side
    ph: np.ndarray  # (n, dim·n) U† C_a U side by side
    vh: np.ndarray  # (n, dim·n) V^a side by side (with positions)
    ych: np.ndarray  # (n, dim·n) U V^a side by side
    svh: np.ndarray  # (3n, dim·n) (s^l U)† U V^i, general spin
    cv: np.ndarray  # (3n, n) curl of A^W stacked
    cvu: np.ndarray  # (3n, n) and times U
    abar: np.ndarray  # (dim, n, n) Ā^a = U† A^a U, for F^W
    sd: np.ndarray  # (3, n) s^l_nn
    g: np.ndarray  # (n, n) 1/(Δ² + η²) (upper triangle), 0 when excluded: conventional term
    g0: np.ndarray  # (n, n) 1/Δ² (upper triangle), 0 when excluded: Ω and Σ
    qs: np.ndarray  # (n, 3·nc) Ω^c (charge) or Σ^{c,l} at 3c + l (two such parts with occupation_split)
    qc: np.ndarray  # (n, 3·dim²) conventional (l, i, j)
    vals: np.ndarray  # (n, ncomp) the states' values at one k
    blas_int: np.ndarray  # (6,) int32: M, N, K, lda, ldb, ldc of a zgemm call (_gemm)
    blas_scalar: np.ndarray  # (2,) complex: alpha = 1, beta = 0
    blas_trans: np.ndarray  # (1,) uint8: "N"
    sstack: np.ndarray  # (3n, n) S^l(k) stacked by rows (BLAS)
    su: np.ndarray  # (3, n, n) S^l(k) U
    su_rows: np.ndarray  # the same as (3n, n)
    bstart: np.ndarray  # (n,) int: first band of band m's degenerate block
    bend: np.ndarray  # (n,) int: one past its last band
    sbd: np.ndarray  # (3, n, n) the spin inside the blocks (block-diagonal part of U† s U)
    r: np.ndarray  # (dim, n, n) R^a between different blocks
    pm: np.ndarray  # (dim, 3, n, n) (s_bd R^b) per b and l
    gp: np.ndarray  # (n, n, 3·nc) pair terms G^{c,l}_mj
    qx: np.ndarray  # (no·n, n) the Qiao Wannier-gauge operators stacked by rows, no = 6 + 6·dim (else 1 × 1)
    qy: np.ndarray  # (no·n, n) the same times U
    qsl: np.ndarray  # (3n, 2n) [S^l U | SH^l U] stacked by l
    qg: np.ndarray  # (2n, dim·n) [D_a E + diag(∂_a ε) ; −D_a] side by side
    qw: np.ndarray  # (n, 3·dim·n) W_{l,a} side by side (B = U† W)
    qb: np.ndarray  # (n, 3·dim·n) B_{l,a} side by side
    qz: np.ndarray  # (3n, dim·n) [S^l U | SH^l U] [D_a E + diag(∂_a ε) ; −D_a]
    sb: np.ndarray  # (3n, n) U† s^l U stacked by rows: the torque stage
    qa: np.ndarray  # (n, 3·dim²) App. C stage: the conventional term with the whole spin (0 columns otherwise)
    q6: np.ndarray  # (n, 3·dim²) App. C stage: (C6), the term with the band- or block-diagonal spin


def _workspace(n: int, dim: int, nh: int, widths: dict[str, int], qiao: bool = False) -> _Work:
    """The scratch of one kernel call; ``widths``: columns of ``qs``, ``qc``, ``vals`` (``KernelNeeds.widths``)."""
    c = np.complex128
    nc = len(conventions.CYCLIC_PAIRS[dim])
    wsh = np.zeros((3, n, n), c)
    su = np.zeros((3, n, n), c)
    qn, qd = (n, dim) if qiao else (0, 0)  # Qiao scratch only when used (else 1 × 1 or empty)
    qo = 6 + 6 * qd
    return _Work(
        np.empty((n, n), c), np.empty((n, n), c), np.empty((n, n), c), np.empty((n, n), c),
        np.zeros((dim, n, n), c), np.zeros((dim, n, n), c), wsh, wsh.reshape((3 * n, n)),
        np.empty((dim, 3 * n, n), c), np.empty((n, nh), c), np.empty((n, nh), c),
        np.empty((nh, 2 * n * dim), c), np.empty((nh, n * dim), c), np.empty((n, 2 * n * dim), c),
        np.empty((n, n * dim), c), np.empty((dim * n, n), c), np.empty((dim * n, n), c),
        np.empty((n, dim * n), c), np.empty((n, dim * n), c), np.empty((n, dim * n), c),
        np.empty((n, dim * n), c), np.empty((3 * n, dim * n), c), np.empty((3 * n, n), c),
        np.empty((3 * n, n), c), np.zeros((dim, n, n), c), np.zeros((3, n)), np.zeros((n, n)), np.zeros((n, n)),
        np.zeros((n, widths["qs"])), np.zeros((n, widths["qc"])), np.empty((n, widths["vals"])),
        np.zeros(6, np.int32), np.array([1.0, 0.0], c), np.array([ord("N")], np.uint8),
        np.empty((3 * n, n), c), su, su.reshape((3 * n, n)), np.zeros(n, np.int64), np.zeros(n, np.int64),
        np.zeros((3, n, n), c), np.zeros((dim, n, n), c), np.zeros((dim, 3, n, n), c), np.zeros((n, n, 3 * nc)),
        np.zeros((qo * qn, qn), c), np.zeros((qo * qn, qn), c), np.zeros((3 * qn, 2 * qn), c),
        np.zeros((2 * qn, qd * qn), c), np.zeros((qn, 3 * qd * qn), c), np.zeros((qn, 3 * qd * qn), c),
        np.zeros((3 * qn, qd * qn), c), np.zeros((3 * n, n), c), np.zeros((n, widths.get("qa", 0))),
        np.zeros((n, widths.get("qa", 0))),
    )


def _external_zgemm():  # noqa: ANN202 - returns a numba ExternalFunction
    """scipy's BLAS ``zgemm`` (the one numba's ``np.dot`` calls), under a fixed name so that the compiled kernels
    can be cached; callable without numba's reference counting."""
    import llvmlite.binding as llvm
    from numba import types
    from numba.extending import get_cython_function_address

    llvm.add_symbol("properspin_zgemm", get_cython_function_address("scipy.linalg.cython_blas", "zgemm"))
    return types.ExternalFunction("properspin_zgemm", types.void(*[types.voidptr] * 13))



if njit is not None:
    _jit = njit(cache=True, fastmath=False, error_model="numpy")
    _jit_inline = njit(cache=True, fastmath=False, error_model="numpy", inline="always")
    # The kernels allocate nothing and keep no reference: compiled without reference counting, which would
    # otherwise cost an atomic increment and decrement per array a stage binds from its grouped arguments, per k.
    _jit_kernel = njit(cache=True, fastmath=False, error_model="numpy", _nrt=False)
    _zgemm = _external_zgemm()
    # the rules of properspin.conventions, compiled (the tolerances themselves travel in _Setup)
    _excluded = _jit_inline(conventions.excluded)
    _new_block = _jit_inline(conventions.new_block)
    _spin_split = _jit_inline(conventions.spin_split)
    _gauge_dependent = _jit_inline(conventions.gauge_dependent)

    @_jit
    def _hermitian_ok(h, rtol):
        """The test of :meth:`Model.h`: finite, and ``max|H − H†| ≤ rtol (1 + max|H|)`` at every k."""
        nk, n, _ = h.shape
        for k in range(nk):
            herm2 = 0.0
            big2 = 0.0
            ok = True
            for i in range(n):
                for j in range(n):
                    x = h[k, i, j]
                    ok &= (x.real - x.real == 0.0) & (x.imag - x.imag == 0.0)  # finite
                    big2 = max(big2, x.real * x.real + x.imag * x.imag)
                    if j > i:
                        d = x - np.conj(h[k, j, i])
                        herm2 = max(herm2, d.real * d.real + d.imag * d.imag)
                    elif j == i:
                        herm2 = max(herm2, 4.0 * x.imag * x.imag)
            tol = rtol * (1.0 + np.sqrt(big2))
            if not ok or herm2 > tol * tol:
                return False
        return True

    @_jit_kernel
    def _product(a, b, out, n):
        """``out = a @ b`` (n × n, n < ``_BLAS_MIN``): a loop that skips zero entries of ``a``."""
        for i in range(n):
            for j in range(n):
                out[i, j] = 0.0
            for t in range(n):
                x = a[i, t]
                if x.real == 0.0 and x.imag == 0.0:
                    continue
                for j in range(n):
                    out[i, j] += x * b[t, j]

    @_jit_inline
    def _gemm(a, b, out, work):
        """``out = a @ b`` by BLAS ``zgemm`` for row-major matrices with contiguous rows: in column-major terms
        ``outᵀ = bᵀ aᵀ``.  The integer and scalar arguments travel in small arrays of the workspace."""
        p = work.blas_int
        p[0] = b.shape[1]  # M, N, K of the column-major product
        p[1] = a.shape[0]
        p[2] = a.shape[1]
        p[3] = b.strides[0] // 16  # leading dimensions: the row strides
        p[4] = a.strides[0] // 16
        p[5] = out.strides[0] // 16
        t, z = work.blas_trans, work.blas_scalar
        _zgemm(t.ctypes, t.ctypes, p[0:].ctypes, p[1:].ctypes, p[2:].ctypes, z[0:].ctypes, b.ctypes, p[3:].ctypes,
               a.ctypes, p[4:].ctypes, z[1:].ctypes, out.ctypes, p[5:].ctypes)

    @_jit_kernel
    def _adjoint_times(a, b, out, n):
        """``out = a† @ b`` (n × n), written out."""
        for m in range(n):
            for c in range(n):
                out[m, c] = 0.0
        for i in range(n):
            for m in range(n):
                z = np.conj(a[i, m])
                for c in range(n):
                    out[m, c] += z * b[i, c]

else:  # pragma: no cover
    _jit = _jit_inline = _jit_kernel = _hermitian_ok = _product = _gemm = _adjoint_times = None
    _excluded = _new_block = _spin_split = _gauge_dependent = None
