"""The compiled kernel of :func:`properspin.kernels.kernel_chunk`: one loop over k, one stage per step.

Each stage is the compiled counterpart of a numpy function:

* :func:`_gaps`: ``g_mn = 1/(Δ_mn² + η²)``, 0 for excluded pairs (``BandGeometry.inverse_gap_squared``);
* :func:`_rotate_stacked`, :func:`_velocity_plain`, :func:`_velocity_position`: the band-basis velocity
  ``V^a = U† ∂_a H U + i(ε_m − ε_n) Ā^a_mn`` (``geometry_from_eigenvectors``);
* :func:`_spin_diagonal`: ``s^l_nn`` from the sparse orbital ``s^l`` (``BandGeometry.spin_diagonal``), or
  :func:`_spin_dense` from a k-dependent spin ``S(k)`` (``Model.spin_k``: a Wannier90 run's ``.spn``);
* :func:`_omega_sigma`: ``Ω^c_m`` and ``Σ^{c,l}_m`` of Eq. (2) (``berry_curvature``, ``proper_spin_curvature``);
* :func:`_blocks`, :func:`_block_pairs`, :func:`_plain_pairs`, :func:`_sigma_from_pairs`: degenerate blocks, the
  block-trace form of Eq. (2), its occupied–empty / occupied–occupied parts and the dephasing weight
  (``block_trace_curvature``, ``spin_pair_terms``, ``occupation_parts``; conventions §3);
* :func:`_wannier_curv`: ``(U† F^W_c U)_mm``, Wang et al. Eq. 27 (``geometry._wannier_curvature``);
* :func:`_conventional`: ``Q^{l,i,j}_m`` with ``A^{li} = ½{S^l, V^i}`` (``conventional_spin_curvature``), or
  :func:`_qiao_current` with the Qiao et al. spin current of a Wannier90 run (``QiaoSpinCurrent``);
* :func:`_degenerate`: gauge-dependent near-degenerate pairs (``degenerate_contributions``);
* :func:`_state_values`: per-state values × w_k, torque dipole and charge (the response formulas);
* :func:`_deposit`: into every sweep's partial sums (``Sweep.accumulate``).

Details, with ``Δ_mn = ε_m − ε_n``, each pair m < n visited once (``Im(V^a_nm V^b_mn) = −Im(V^a_mn V^b_nm)``;
(a, b, c) cyclic, only c = z in 2D; the degeneracy rule, cyclic pairs and tolerances are those of
:mod:`properspin.conventions`):

* velocity: without a position term only the part each response needs is formed (the strict upper triangle
  for Ω and Σ).  With one, a single rotation ``M = U† (∂_a H + i A^W_a) U = D + iĀ`` gives both Hermitian
  parts: ``D_mn = (M_mn + conj(M_nm))/2``, ``Ā_mn = (M_mn − conj(M_nm))/2i``;
* Berry curvature ``Ω^c_m = −2 Σ_n Im(V^a_mn V^b_nm) g_mn`` (η = 0), plus for a Wannier model the curvature
  of the Wannier connection ``(U† F^W_c U)_mm``, ``F^W_c = ∂_a A_b − ∂_b A_a − i[A_a, A_b]``;
* proper spin Berry curvature, Eq. (2): ``Σ^{c,l}_m = −2 Σ_n s^l_nn Im(V^a_mn V^b_nm) g_mn`` (η = 0);
* block trace (conventions §3), at k-points with a degenerate block (consecutive bands whose gap is excluded,
  ``conventions.new_block``; ``degenerate="block_trace"``): pair terms ``G^{c,l}_mn = −2 Im[R^a_mn (s_bd R^b)_nm]``
  between different blocks, ``R^a_mn = i V^a_mn/(ε_n − ε_m)``, ``s_bd`` the spin projected on the blocks
  (``s^l_mj`` inside a block from the sparse s or from S(k) U), each band an equal share of its block's sum;
  elsewhere ``G_mn = −2 s_nn Im(V^a_mn V^b_nm) g_mn``.  With ``occupation_split`` or ``dephasing`` η the pairs
  m < j are deposited as occupied–empty ``E_m += G_mj, E_j −= G_mj`` and occupied–occupied
  ``O_j += w (G_mj + G_jm)``, ``w = Δ²/(Δ² + η²)`` (1 without dephasing), in one or two parts;
* conventional (Kubo) term ``Q^{l,i,j}_m = Σ_n 2 Im(A^{li}_nm V^j_mn) g_mn``.  ``A`` is never formed: with
  ``P = S^l V^i = (s^l U)† (∂_i H U)`` (or ``(s^l U)† (U V^i)`` with a position term), ``A_nm = (P_nm +
  conj(P_mn))/2``, and the pair (n, m) contributes minus the (m, n) term.  When ``s^l = 1_orb ⊗ σ^l/2``
  exactly (``kernels._spinor_pairs``: up/down rows paired), ``S^l V^i = U† s^l Y^i`` comes from the half-size
  products ``U_↑† [Y_↑ | Y_↓]`` and ``U_↓† Y_↑`` (``U_↓† Y_↓ = V − U_↑† Y_↑``) instead of three full ones;
* Qiao spin current (PRB 98, 214402, Eqs. 23–39): ``B^{l,a} = U† W``, ``W = S U (D_a E + diag ∂_a ε) − SH U D_a
  − i(SR_{la} U E − SHR_{la} U)`` with ``D_a[r, m] = D̄_rm/(ε_m − ε_r)`` (0 below ``QiaoSpinCurrent.d_tol``), E =
  diag(ε), from three BLAS products per k (all 24 operators × U; [S U | SH U] × [D E + diag ∂ε; −D]; U† × W), and
  ``A = (B + B†)/2`` into the conventional sum; BLAS for any n in this mode; ``eigval_max`` zeroes ``g_mr`` of
  pairs with a band above it;
* torque dipole = ``ε_ijc Σ^{c,l}`` − conventional, charge = ``−ε_ijc Ω^c``;
* each state ``(ε_mk, w_k Q_mk)`` goes straight into the partial sums of every sweep by the rule of
  :class:`~properspin.sweep.Binning`;
* the degeneracy diagnostics for the responses that use ``s_nn`` (``Response.uses_diagonal_spin``).

Proper spin and charge accumulate the compact ``Σ^{c,l}`` / ``Ω^c`` and are expanded with ``ε_ijc`` once
per chunk.  Products of ``n ≥ 10`` matrices go to BLAS (``zgemm``), one call per stage for all three
directions (operands stacked: small products cost as much in call overhead as in arithmetic); smaller ones
are written out and skip zeros, and 4 bands get their own compiled copy with constant loop bounds.

The stages are inlined (``inline="always"``) into two compiled kernels, one with constant loop bounds for
4 bands and one for any band count.  They take grouped arguments (:class:`_Block`, :class:`_Spin`,
:class:`~properspin.sweep.SweepSpec`, :class:`_Setup`, :class:`_Work`) and the kernels are compiled without
numba's reference counting (``_nrt=False``: nothing is allocated in compiled code, BLAS is called directly),
which would otherwise cost an atomic increment and decrement per array each stage binds, per k.

numba caches the compiled kernels next to this file; the cache follows edits of this file and (through
:data:`_FINGERPRINT`) of :mod:`properspin.conventions`, whose rules are compiled in.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import NamedTuple

import numpy as np

from . import conventions
from ._numba import jit_enabled
from ._numba import njit as _cached_njit
from .kernel_modes import KernelMode  # defined apart: responses name it without numba

# numba missing or NUMBA_DISABLE_JIT=1: the numpy path (interpreted kernels would take hours)
njit = _cached_njit if jit_enabled() else None


_CHARGE, _PROPER, _CONVENTIONAL, _TORQUE_DIPOLE = (int(m) for m in KernelMode)

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

    mode: int  # KernelMode
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


def _workspace(n: int, dim: int, nh: int, nq: int, parts: int = 1, qiao: bool = False) -> _Work:
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
        np.zeros((n, 3 * nc * parts)), np.zeros((n, 3 * dim * dim)), np.empty((n, nq)),
        np.zeros(6, np.int32), np.array([1.0, 0.0], c), np.array([ord("N")], np.uint8),
        np.empty((3 * n, n), c), su, su.reshape((3 * n, n)), np.zeros(n, np.int64), np.zeros(n, np.int64),
        np.zeros((3, n, n), c), np.zeros((dim, n, n), c), np.zeros((dim, 3, n, n), c), np.zeros((n, n, 3 * nc)),
        np.zeros((qo * qn, qn), c), np.zeros((qo * qn, qn), c), np.zeros((3 * qn, 2 * qn), c),
        np.zeros((2 * qn, qd * qn), c), np.zeros((qn, 3 * qd * qn), c), np.zeros((qn, 3 * qd * qn), c),
        np.zeros((3 * qn, qd * qn), c),
    )

# ------------------------------------------------------------------------------------------ compiled code
def _fingerprint() -> str:
    """sha256 of the source compiled into the kernels from other modules (conventions.py, the KernelMode
    numbers): numba's cache follows only the file that defines a compiled function, so this goes into the
    kernels' cache key."""
    try:
        text = inspect.getsource(conventions)
    except (OSError, TypeError):  # pragma: no cover - no source files (frozen install)
        text = repr(sorted(vars(conventions).items(), key=lambda kv: kv[0]))
    text += repr([(m.name, int(m)) for m in KernelMode])  # the mode numbers (kernel_modes.py) compiled in
    return hashlib.sha256(text.encode()).hexdigest()


_FINGERPRINT = _fingerprint()


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

    def _build_kernels(fingerprint):  # noqa: ANN001, ANN202 - returns compiled functions
        """The two compiled kernels; ``fingerprint`` (a closure variable) is part of numba's cache key."""

        @_jit_kernel
        def kernel_n4(blk, spin, spec, setup, work, partial, degflags, out):
            """:func:`_kloop` compiled for exactly 4 bands (constant loop bounds: about twice as fast)."""
            if len(fingerprint) > 0:
                _kloop(blk, spin, spec, setup, work, partial, degflags, out, 4)

        @_jit_kernel
        def kernel_any(blk, spin, spec, setup, work, partial, degflags, out):
            """:func:`_kloop` for any band count."""
            if len(fingerprint) > 0:
                _kloop(blk, spin, spec, setup, work, partial, degflags, out, blk.energies.shape[1])

        return kernel_n4, kernel_any

    _kernel_n4, _kernel_any = _build_kernels(_FINGERPRINT)

    @_jit_inline
    def _kloop(blk, spin, spec, setup, work, partial, degflags, out, n):
        """The fused loop over k, one stage per step (see the module docstring).

        Adds each state into ``partial`` (compact components, see :func:`_ncompact`), sets ``out[0]`` to the
        status, adds the number of k-points with gauge-dependent degenerate pairs to ``out[1]`` and flags those
        pairs in ``degflags[m, n]`` (m < n).  Ω and Σ use only the upper triangle (m < n) of the gaps and of V.
        Stages take the grouped arguments and bind the arrays they use once, outside their loops: every array
        variable costs a reference count in compiled code.
        """
        mode = setup.mode
        need_conv = mode == _CONVENTIONAL or mode == _TORQUE_DIPOLE
        need_sd = mode == _PROPER or mode == _TORQUE_DIPOLE or setup.check_degeneracy
        spin_mode = mode == _PROPER or mode == _TORQUE_DIPOLE
        pair_terms = spin_mode and (setup.split or setup.deph2 > 0.0)  # occupation parts / dephasing
        qiao = need_conv and setup.qiao  # the Qiao spin current replaces ½{s, V} (BLAS for any n)
        blas = n >= _BLAS_MIN or qiao
        pairs = need_conv and not qiao and 2 * spin.pairs.shape[1] == n  # s^l = 1 ⊗ σ^l/2: half-size products
        has_curl = mode == _CHARGE and setup.has_pos
        energies, u, w = blk.energies, blk.u, blk.w
        ndeg = 0
        for k in range(energies.shape[0]):
            _gaps(energies, k, work, need_conv, setup.tol, setup.eta2, setup.emax, n)
            if blas:
                _rotate_stacked(k, blk, setup.has_pos, work, n)
            if not setup.has_pos:
                _velocity_plain(k, blk, work, need_conv, blas, n)
            elif not _velocity_position(k, blk, work, need_conv, has_curl, blas, n):
                out[0] = _BAD_POSITION  # A^W(k) not Hermitian: the numpy path takes over
                return
            if setup.dense_spin and (need_sd or (need_conv and not qiao)):
                _spin_dense(k, blk, work, need_conv and not qiao, blas, n)
            elif need_sd:
                _spin_diagonal(u, k, spin, work.sd, n)
            if need_conv and not setup.dense_spin and not qiao:
                _spin_rows(u, k, spin, work, pairs, blas, n)
            blocks = spin_mode and setup.block_trace and _blocks(energies, k, setup.tol, work, n)
            if blocks:  # block-trace form of Eq. (2) at this k-point
                _block_pairs(energies, k, u, spin, work, setup.cyclic, setup.dense_spin, n)
                _sigma_from_pairs(energies, k, work, setup.split, setup.deph2, True, n)
            elif pair_terms:
                _plain_pairs(work, setup.cyclic, n)
                _sigma_from_pairs(energies, k, work, setup.split, setup.deph2, False, n)
            elif mode != _CONVENTIONAL:
                _omega_sigma(mode, work, setup.cyclic, n)
            if has_curl:
                _wannier_curv(k, blk, work, setup.cyclic, blas, n)
            if qiao:
                _qiao_current(k, blk, setup.qiao_tol, work, n)
                _conventional_sum(work, blk.dh.shape[0], n)
            elif need_conv:
                _conventional(k, blk, spin, work, pairs, blas, n)
            if setup.check_degeneracy and _degenerate(energies, u, k, spin, setup, work, degflags, n):
                ndeg += 1
            if not _state_values(w[k], mode, work, setup.cyclic, n):
                out[0] = _BAD_VALUES  # NaN/inf in ∂H, A or the gaps: let the numpy path say what it says
                return
            _deposit(spec, energies, k, work.vals, partial, n)
        out[0] = _OK
        out[1] += ndeg

    # ---- gaps
    @_jit_inline
    def _gaps(energies, k, work, need_conv, tol, eta2, emax, n):
        """``g0_mj = 1/Δ²`` (Ω, Σ) and ``g_mj = 1/(Δ² + η²)`` (conventional term) for m < j; 0 when excluded, and
        ``g_mj = 0`` when band m or j lies above ``emax`` (eigval_max)."""
        g0, g = work.g0, work.g
        for m in range(n):
            for j in range(m + 1, n):
                d = energies[k, m] - energies[k, j]
                if _excluded(d, tol):
                    g0[m, j] = 0.0
                    g[m, j] = 0.0
                else:
                    g0[m, j] = 1.0 / (d * d)
                    if need_conv:
                        high = energies[k, m] > emax or energies[k, j] > emax
                        g[m, j] = 0.0 if high else 1.0 / (d * d + eta2)

    # ---- velocity V^a = U† ∂_a H U + i(ε_m − ε_n) Ā^a with Ā^a = U† A^a U
    @_jit_inline
    def _rotate_stacked(k, blk, has_pos, work, n):
        """BLAS: ``U† C_a U`` for all directions in two products, ``C_a = ∂_a H (+ i A^a)`` → ``work.ph``."""
        dh, apos = blk.dh, blk.apos
        uk = blk.u[k]
        ud, xv, yv, yh = work.ud, work.xv, work.yv, work.yh
        for i in range(n):
            for j in range(n):
                ud[i, j] = np.conj(uk[j, i])
        for a in range(dh.shape[0]):
            for i in range(n):
                for j in range(n):
                    d = dh[a, k, i, j]
                    if has_pos:
                        p = apos[a, k, i, j]
                        d = complex(d.real - p.imag, d.imag + p.real)
                    xv[a * n + i, j] = d
        _gemm(xv, uk, yv, work)
        for a in range(dh.shape[0]):
            for i in range(n):
                for j in range(n):
                    yh[i, a * n + j] = yv[a * n + i, j]
        _gemm(ud, yh, work.ph, work)

    @_jit_inline
    def _velocity_plain(k, blk, work, need_conv, blas, n):
        """``work.v[a]`` = V^a = U† ∂_a H U (no position term): the strict upper triangle for Ω and Σ, or (conventional
        term) the upper triangle with the diagonal, mirrored, keeping Y^a = ∂_a H U in ``work.yc[a]`` (loops) or
        ``work.ych`` (BLAS)."""
        v, u, dh, ph, yc = work.v, blk.u, blk.dh, work.ph, work.yc
        for a in range(dh.shape[0]):
            if blas:
                for m in range(n):
                    for c in range(n):
                        v[a, m, c] = ph[m, a * n + c]
            elif need_conv:
                _rotate_full(a, k, u, dh, yc[a], v, n)
            else:
                _rotate_upper(a, k, u, dh, work.y, v, n)
        if blas and need_conv:  # Y^a = ∂_a H U side by side
            ych, yh = work.ych, work.yh
            for i in range(n):
                for j in range(yh.shape[1]):
                    ych[i, j] = yh[i, j]

    @_jit_inline
    def _rotate_full(a, k, u, dh, ya, v, n):
        """``ya`` = Y = ∂_a H U (skipping zeros of ∂_a H: the hot loop for small n), V^a = U† Y: upper triangle with
        the diagonal, mirrored."""
        for i in range(n):
            for j in range(n):
                ya[i, j] = 0.0
            for t in range(n):
                z = dh[a, k, i, t]
                if z.real == 0.0 and z.imag == 0.0:
                    continue
                for j in range(n):
                    ya[i, j] += z * u[k, t, j]
        for m in range(n):
            for c in range(m, n):
                v[a, m, c] = 0.0
        for i in range(n):
            for m in range(n):
                z = np.conj(u[k, i, m])
                for c in range(m, n):
                    v[a, m, c] += z * ya[i, c]
        for m in range(n):
            for c in range(m + 1, n):
                v[a, c, m] = np.conj(v[a, m, c])

    @_jit_inline
    def _rotate_upper(a, k, u, dh, ya, v, n):
        """As :func:`_rotate_full` for the strict upper triangle of V^a only (Ω, Σ): Y without column 0."""
        for i in range(n):
            for j in range(1, n):
                ya[i, j] = 0.0
            for t in range(n):
                z = dh[a, k, i, t]
                if z.real == 0.0 and z.imag == 0.0:
                    continue
                for j in range(1, n):
                    ya[i, j] += z * u[k, t, j]
        for m in range(n):
            for c in range(m + 1, n):
                v[a, m, c] = 0.0
        for i in range(n):
            for m in range(n):
                z = np.conj(u[k, i, m])
                for c in range(m + 1, n):
                    v[a, m, c] += z * ya[i, c]

    @_jit_inline
    def _velocity_position(k, blk, work, need_conv, has_curl, blas, n):
        """V^a from one rotation of C = ∂_a H + i A^a: M = U† C U = D + iĀ (D = U† ∂_a H U; D, Ā Hermitian),
        ``D_mc = (M_mc + conj(M_cm))/2``, ``Ā_mc = (M_mc − conj(M_cm))/2i``, ``V = D + i(ε_m − ε_c) Ā``; Ā kept
        for F^W (``has_curl``), U V^a for the conventional term.  False when A^W_a(k) is not Hermitian."""
        uk, dh, apos, ek = blk.u[k], blk.dh, blk.apos, blk.energies[k]
        pa, v, vh, abar, x, y, yc, ph = work.pa, work.v, work.vh, work.abar, work.x, work.y, work.yc, work.ph
        for a in range(dh.shape[0]):
            if not _position_hermitian(apos, a, k, n):
                return False
            if blas:
                for m in range(n):
                    for c in range(n):
                        pa[m, c] = ph[m, a * n + c]
            else:
                for i in range(n):
                    for j in range(n):
                        d = dh[a, k, i, j]
                        p = apos[a, k, i, j]
                        x[i, j] = complex(d.real - p.imag, d.imag + p.real)
                _product(x, uk, y, n)
                _adjoint_times(uk, y, pa, n)
            for m in range(n):
                for c in range(m, n):
                    p = pa[m, c]
                    q = pa[c, m]  # M_mc + conj(M_cm) = 2 D_mc, M_mc − conj(M_cm) = 2i Ā_mc
                    f = 0.5 * (ek[m] - ek[c])
                    vr = 0.5 * (p.real + q.real) + f * (p.real - q.real)
                    vi = 0.5 * (p.imag - q.imag) + f * (p.imag + q.imag)
                    v[a, m, c] = complex(vr, vi)
                    v[a, c, m] = complex(vr, -vi)
                    if blas and need_conv:
                        vh[m, a * n + c] = complex(vr, vi)
                        vh[c, a * n + m] = complex(vr, -vi)
                    if has_curl:
                        ab = complex(0.5 * (p.imag + q.imag), -0.5 * (p.real - q.real))
                        abar[a, m, c] = ab
                        abar[a, c, m] = np.conj(ab)
            if need_conv and not blas:  # U V^a, so that S^l V^a = (s^l U)† (U V^a)
                _product(uk, v[a], yc[a], n)
        if blas and need_conv:  # U V^a side by side, one product
            _gemm(uk, vh, work.ych, work)
        return True

    @_jit_inline
    def _position_hermitian(apos, a, k, n):
        """A^W_a(k) Hermitian to ``_POSITION_RTOL`` of each entry, or else of its largest entry."""
        rtol2 = _POSITION_RTOL * _POSITION_RTOL
        ok = True
        for i in range(n):
            for j in range(i, n):
                z = apos[a, k, i, j]
                zt = apos[a, k, j, i]
                dr = z.real - zt.real
                di = z.imag + zt.imag
                ok &= dr * dr + di * di <= rtol2 * (z.real * z.real + z.imag * z.imag + 1e-300)
        if ok:
            return True
        big2 = 0.0
        anti2 = 0.0
        for i in range(n):
            for j in range(i, n):
                z = apos[a, k, i, j]
                zz = z - np.conj(apos[a, k, j, i])
                big2 = max(big2, z.real * z.real + z.imag * z.imag)
                anti2 = max(anti2, zz.real * zz.real + zz.imag * zz.imag)
        return anti2 <= rtol2 * big2

    # ---- spin: s_nn (Eq. 2) from the sparse s; (s U)† for the conventional term
    @_jit_inline
    def _spin_diagonal(u, k, spin, sd, n):
        """``sd[l, m] = s^l_mm = Σ_ij Re(s^l_ij conj(U_im) U_jm)``, each i ≤ j once (s Hermitian)."""
        ptr, col, val = spin.ptr, spin.col, spin.val
        for l in range(3):
            for m in range(n):
                sd[l, m] = 0.0
            for i in range(n):
                for t in range(ptr[l, i], ptr[l, i + 1]):
                    j = col[l, t]
                    if j < i:
                        continue
                    sr = val[l, t].real
                    si = val[l, t].imag
                    if j > i:
                        sr *= 2.0
                        si *= 2.0
                    for m in range(n):
                        a_ = u[k, i, m]
                        b_ = u[k, j, m]
                        pr = a_.real * b_.real + a_.imag * b_.imag  # conj(U_im) U_jm
                        pi = a_.real * b_.imag - a_.imag * b_.real
                        sd[l, m] += sr * pr - si * pi

    @_jit_inline
    def _spin_rows(u, k, spin, work, pairs, blas, n):
        """For S^l V^i: ``U_up†``, ``U_dn†`` (spinor pairs, BLAS) or ``work.wsh[l] = (s^l U)†`` (general spin)."""
        if pairs:
            if blas:
                sp, lup, ldn = spin.pairs, work.lup, work.ldn
                for o in range(sp.shape[1]):
                    for r in range(n):
                        lup[r, o] = np.conj(u[k, sp[0, o], r])
                        ldn[r, o] = np.conj(u[k, sp[1, o], r])
            return
        ptr, col, val, wsh = spin.ptr, spin.col, spin.val, work.wsh
        for l in range(3):
            for i in range(n):
                for j in range(n):
                    wsh[l, j, i] = 0.0
                for t in range(ptr[l, i], ptr[l, i + 1]):
                    sc = np.conj(val[l, t])
                    j0 = col[l, t]
                    for j in range(n):
                        wsh[l, j, i] += sc * np.conj(u[k, j0, j])

    # ---- Ω and Σ (Eq. 2), one visit per pair m < j
    @_jit_inline
    def _omega_sigma(mode, work, cyclic, n):
        """``work.qs[m, c] = Ω^c_m`` (charge) or ``work.qs[m, 3c + l] = Σ^{c,l}_m`` (Eq. 2)."""
        qs, v, g0, sd = work.qs, work.v, work.g0, work.sd
        qs[:, :] = 0.0
        for c in range(cyclic.shape[0]):
            a = cyclic[c, 0]
            b = cyclic[c, 1]
            for m in range(n):
                q0 = 0.0
                q1 = 0.0
                q2 = 0.0
                for j in range(m + 1, n):
                    p = v[a, m, j]
                    r = v[b, m, j]
                    gg = -2.0 * (p.imag * r.real - p.real * r.imag) * g0[m, j]  # −2 Im(V^a_mj V^b_jm)/Δ²
                    if mode == _CHARGE:
                        q0 += gg
                        qs[j, c] -= gg
                    else:
                        q0 += gg * sd[0, j]
                        q1 += gg * sd[1, j]
                        q2 += gg * sd[2, j]
                        qs[j, 3 * c] -= gg * sd[0, m]
                        qs[j, 3 * c + 1] -= gg * sd[1, m]
                        qs[j, 3 * c + 2] -= gg * sd[2, m]
                if mode == _CHARGE:
                    qs[m, c] += q0
                else:
                    qs[m, 3 * c] += q0
                    qs[m, 3 * c + 1] += q1
                    qs[m, 3 * c + 2] += q2

    # ---- k-dependent spin S(k) (Model.spin_k): S U, s_nn and, for the conventional term, (S U)†
    @_jit_inline
    def _spin_dense(k, blk, work, need_conv, blas, n):
        """``work.su[l] = S^l(k) U``, ``work.sd[l, m] = Re (U† S^l U)_mm`` and (``need_conv``) ``work.wsh[l] =
        (S^l U)†``."""
        uk, sk = blk.u[k], blk.spin
        su, sd = work.su, work.sd
        if blas:
            st = work.sstack
            for l in range(3):
                for i in range(n):
                    for j in range(n):
                        st[l * n + i, j] = sk[l, k, i, j]
            _gemm(st, uk, work.su_rows, work)
        else:
            for l in range(3):
                for i in range(n):
                    for j in range(n):
                        su[l, i, j] = 0.0
                    for t in range(n):
                        z = sk[l, k, i, t]
                        if z.real == 0.0 and z.imag == 0.0:
                            continue
                        for j in range(n):
                            su[l, i, j] += z * uk[t, j]
        for l in range(3):
            for m in range(n):
                x = 0.0
                for i in range(n):
                    x += (np.conj(uk[i, m]) * su[l, i, m]).real
                sd[l, m] = x
        if need_conv:
            wsh = work.wsh
            for l in range(3):
                for i in range(n):
                    for j in range(n):
                        wsh[l, j, i] = np.conj(su[l, i, j])

    @_jit_inline
    def _spin_element(u, k, spin, work, dense, l, m, j, n):
        """``s^l_mj = (U† s^l U)_mj`` from the sparse orbital s^l, or (``dense``) from ``work.su = S^l(k) U``."""
        z = 0j
        if dense:
            su = work.su
            for i in range(n):
                z += np.conj(u[k, i, m]) * su[l, i, j]
            return z
        ptr, col, val = spin.ptr, spin.col, spin.val
        for i in range(n):
            ci = np.conj(u[k, i, m])
            for t in range(ptr[l, i], ptr[l, i + 1]):
                z += ci * val[l, t] * u[k, col[l, t], j]
        return z

    # ---- degenerate blocks and the block-trace form of Eq. (2) (conventions §3)
    @_jit_inline
    def _blocks(energies, k, tol, work, n):
        """``work.bstart[m]``, ``work.bend[m]``: the bands [start, end) of band m's degenerate block (consecutive
        bands whose gap is excluded, ``conventions.new_block``); True if some block has two or more bands."""
        bstart, bend = work.bstart, work.bend
        start = 0
        found = False
        for m in range(1, n + 1):
            if m == n or _new_block(energies[k, m] - energies[k, m - 1], tol):
                for j in range(start, m):
                    bstart[j] = start
                    bend[j] = m
                if m - start > 1:
                    found = True
                start = m
        return found

    @_jit_inline
    def _block_pairs(energies, k, u, spin, work, cyclic, dense, n):
        """``work.gp[m, j, 3c + l] = G^{c,l}_mj = −2 Im[R^a_mj (s_bd R^b)_jm]`` for bands of different blocks, 0
        inside a block (``geometry.spin_pair_terms``), with ``R^a_mj = i V^a_mj/(ε_j − ε_m)`` from the strict
        upper triangle of V and ``s_bd`` the spin inside the blocks."""
        v, r, sbd, pm, gp, sd = work.v, work.r, work.sbd, work.pm, work.gp, work.sd
        bstart, bend = work.bstart, work.bend
        dim = v.shape[0]
        for a in range(dim):
            for m in range(n):
                r[a, m, m] = 0.0
                for j in range(m + 1, n):
                    if bstart[j] == bstart[m]:
                        r[a, m, j] = 0.0
                        r[a, j, m] = 0.0
                    else:
                        x = v[a, m, j] / (energies[k, j] - energies[k, m])
                        r[a, m, j] = complex(-x.imag, x.real)  # i V/(ε_j − ε_m)
                        r[a, j, m] = complex(-x.imag, -x.real)
        for l in range(3):
            for m in range(n):
                sbd[l, m, m] = sd[l, m]
                for j in range(m + 1, bend[m]):
                    z = _spin_element(u, k, spin, work, dense, l, m, j, n)
                    sbd[l, m, j] = z
                    sbd[l, j, m] = np.conj(z)
        for b in range(dim):
            for l in range(3):
                for j in range(n):
                    for m in range(n):
                        z = 0j
                        for jp in range(bstart[j], bend[j]):
                            z += sbd[l, j, jp] * r[b, jp, m]
                        pm[b, l, j, m] = z
        for c in range(cyclic.shape[0]):
            a = cyclic[c, 0]
            b = cyclic[c, 1]
            for m in range(n):
                for j in range(n):
                    same = bstart[j] == bstart[m]
                    for l in range(3):
                        gp[m, j, 3 * c + l] = 0.0 if same else -2.0 * (r[a, m, j] * pm[b, l, j, m]).imag

    @_jit_inline
    def _plain_pairs(work, cyclic, n):
        """``work.gp`` for Eq. (2) (no degenerate block at this k): ``G^{c,l}_mj = −2 s^l_jj Im(V^a_mj V^b_jm)/Δ²``
        and ``G_jm = −G_mj s_mm/s_jj`` for m < j, excluded pairs 0."""
        v, g0, sd, gp = work.v, work.g0, work.sd, work.gp
        for c in range(cyclic.shape[0]):
            a = cyclic[c, 0]
            b = cyclic[c, 1]
            for m in range(n):
                for l in range(3):
                    gp[m, m, 3 * c + l] = 0.0
                for j in range(m + 1, n):
                    p = v[a, m, j]
                    q = v[b, m, j]
                    gg = -2.0 * (p.imag * q.real - p.real * q.imag) * g0[m, j]  # −2 Im(V^a_mj V^b_jm)/Δ²
                    for l in range(3):
                        gp[m, j, 3 * c + l] = gg * sd[l, j]
                        gp[j, m, 3 * c + l] = -gg * sd[l, m]

    @_jit_inline
    def _sigma_from_pairs(energies, k, work, split, deph2, share, n):
        """``work.qs`` from the pair terms: ``Σ_m = Σ_j G_mj``, or the occupied–empty (columns [0, 3nc)) and
        occupied–occupied (next 3nc with ``split``, else added to the first) deposits of each pair m < j
        (``geometry.occupation_parts``); ``share``: each band gets the mean of its block (``block_share``)."""
        qs, gp = work.qs, work.gp
        nq = gp.shape[2]
        off = nq if split else 0
        plain = not split and deph2 == 0.0
        qs[:, :] = 0.0
        for m in range(n):
            for j in range(m + 1, n):
                if plain:
                    for c in range(nq):
                        qs[m, c] += gp[m, j, c]
                        qs[j, c] += gp[j, m, c]
                    continue
                wgt = 1.0
                if deph2 > 0.0:
                    d = energies[k, j] - energies[k, m]
                    wgt = d * d / (d * d + deph2)
                for c in range(nq):
                    x = gp[m, j, c]
                    qs[m, c] += x
                    qs[j, c] -= x
                    qs[j, off + c] += wgt * (x + gp[j, m, c])
        if share:
            bstart, bend = work.bstart, work.bend
            ncol = off + nq
            for m in range(n):
                s0 = bstart[m]
                s1 = bend[m]
                if m != s0 or s1 - s0 < 2:
                    continue
                for c in range(ncol):
                    x = 0.0
                    for j in range(s0, s1):
                        x += qs[j, c]
                    x /= s1 - s0
                    for j in range(s0, s1):
                        qs[j, c] = x

    # ---- Wannier curvature (U† F^W_c U)_mm, F^W_c = ∂_a A_b − ∂_b A_a − i[A_a, A_b] (charge only)
    @_jit_inline
    def _wannier_curv(k, blk, work, cyclic, blas, n):
        """Adds ``(U† F^W_c U)_mm`` to ``work.qs[m, c]``; the commutator from Ā (``work.abar``)."""
        uk, curl = blk.u[k], blk.curl
        cv, cvu, y, abar, qs = work.cv, work.cvu, work.y, work.abar, work.qs
        nc = cyclic.shape[0]
        if blas:  # (∂_a A_b − ∂_b A_a) U for the three c in one product
            for c in range(nc):
                for i in range(n):
                    for j in range(n):
                        cv[c * n + i, j] = curl[c, k, i, j]
            _gemm(cv[: nc * n], uk, cvu[: nc * n], work)
        for c in range(nc):
            a = cyclic[c, 0]
            b = cyclic[c, 1]
            if not blas:
                _product(curl[c, k], uk, y, n)
            for m in range(n):
                fw = 0.0
                for i in range(n):
                    if blas:
                        fw += (np.conj(uk[i, m]) * cvu[c * n + i, m]).real
                    else:
                        fw += (np.conj(uk[i, m]) * y[i, m]).real
                comm = 0.0  # −i[Ā_a, Ā_b]_mm = 2 Im Σ_p Ā_a,mp Ā_b,pm
                for p in range(n):
                    comm += (abar[a, m, p] * abar[b, p, m]).imag
                qs[m, c] += fw + 2.0 * comm

    # ---- conventional term Q^{l,i,j}_m = Σ_r 2 Im(A^{li}_rm V^j_mr) g_mr, A = ½{S^l, V^i}
    @_jit_inline
    def _conventional(k, blk, spin, work, pairs, blas, n):
        """``work.qc[m, (l·dim + i)·dim + j] = Q^{l,i,j}_m`` from S^l V^i (never forming A)."""
        dim = blk.dh.shape[0]
        if blas and pairs:  # the four U_σ† Y^i_σ' blocks for every i in one product
            ych, ycols, yup, sp = work.ych, work.ycols, work.yup, spin.pairs
            for o in range(sp.shape[1]):
                iu = sp[0, o]
                idn = sp[1, o]
                for i in range(dim):
                    for m in range(n):
                        ycols[o, 2 * n * i + m] = ych[iu, i * n + m]
                        ycols[o, 2 * n * i + n + m] = ych[idn, i * n + m]
                        yup[o, i * n + m] = ych[iu, i * n + m]
            _gemm(work.lup, ycols, work.gq, work)
            _gemm(work.ldn, yup, work.gd, work)
        elif blas:  # S^l V^i = (s^l U)† Y^i for every l and i in one product
            _gemm(work.wsh_rows, work.ych, work.svh, work)
        if pairs:
            _spin_velocity_pairs(k, blk.u, spin.pairs, work, blas, dim, n)
        else:
            _spin_velocity(work, blas, dim, n)
        _conventional_sum(work, dim, n)

    @_jit_inline
    def _qiao_current(k, blk, tol, work, n):
        """``work.svs[a]`` rows l·n + r = B^{l,a} of the Qiao spin current (``QiaoSpinCurrent``; A = (B + B†)/2
        in :func:`_conventional_sum`), from one rotation of the Wannier-gauge operators:
        ``B = U† [S U (D E + diag ∂ε) − SH U D − i(SR U E − SHR U)]``, ``D_a[r, m] = D̄_rm/(ε_m − ε_r)`` (0 for
        |ε_m − ε_r| < ``tol``), ``D̄ = U† ∂_a H U`` the Hermitian part of ``work.ph``, E = diag(ε)."""
        dim = blk.dh.shape[0]
        uk, ek = blk.u[k], blk.energies[k]
        qx, qy, qsl, qg, qw, qb, qz, ph, svs = work.qx, work.qy, work.qsl, work.qg, work.qw, work.qb, work.qz, \
            work.ph, work.svs
        _qiao_stack(k, blk, qx, dim, n)
        _gemm(qx, uk, qy, work)  # every operator times U in one product
        for a in range(dim):
            for r in range(n):
                for m in range(n):
                    p = ph[r, a * n + m]
                    q = ph[m, a * n + r]
                    dbar = 0.5 * complex(p.real + q.real, p.imag - q.imag)
                    gap = ek[m] - ek[r]
                    d = 0j if abs(gap) < tol else dbar / gap
                    gv = d * ek[m]
                    if r == m:
                        gv += dbar.real  # ∂_a ε_m
                    qg[r, a * n + m] = gv
                    qg[n + r, a * n + m] = -d
        for l in range(3):
            for i in range(n):
                for j in range(n):
                    qsl[l * n + i, j] = qy[l * n + i, j]
                    qsl[l * n + i, n + j] = qy[(3 + l) * n + i, j]
        _gemm(qsl, qg, qz, work)
        for l in range(3):
            for a in range(dim):
                o1 = (6 + l * dim + a) * n
                o2 = o1 + 3 * dim * n
                col = (l * dim + a) * n
                for i in range(n):
                    for m in range(n):
                        t = qy[o1 + i, m] * ek[m] - qy[o2 + i, m]  # −i t = (t.imag, −t.real)
                        z = qz[l * n + i, a * n + m]
                        qw[i, col + m] = complex(z.real + t.imag, z.imag - t.real)
        _gemm(work.ud, qw, qb, work)
        for a in range(dim):
            for l in range(3):
                col = (l * dim + a) * n
                for r in range(n):
                    for m in range(n):
                        svs[a, l * n + r, m] = qb[r, col + m]

    @_jit_inline
    def _qiao_stack(k, blk, qx, dim, n):
        """``qx`` rows: S^l (block l), SH^l (3 + l), SR_{l,a} (6 + l·dim + a), SHR_{l,a} (6 + 3dim + l·dim + a)."""
        sk, sh, sr, shr = blk.spin, blk.sh, blk.sr, blk.shr
        for l in range(3):
            for i in range(n):
                for j in range(n):
                    qx[l * n + i, j] = sk[l, k, i, j]
                    qx[(3 + l) * n + i, j] = sh[l, k, i, j]
            for a in range(dim):
                o1 = (6 + l * dim + a) * n
                o2 = o1 + 3 * dim * n
                for i in range(n):
                    for j in range(n):
                        qx[o1 + i, j] = sr[3 * l + a, k, i, j]
                        qx[o2 + i, j] = shr[3 * l + a, k, i, j]

    @_jit_inline
    def _spin_velocity_pairs(k, u, sp, work, blas, dim, n):
        """``work.svs[i]`` = S^l V^i (rows l·n + r) for s^l = σ^l/2 on the spinor pairs, from the four U_σ† Y_σ'."""
        svs, gq, gd, v, yc = work.svs, work.gq, work.gd, work.v, work.yc
        for i in range(dim):
            g0i = 2 * n * i
            for r in range(n):
                for m in range(n):
                    if m == r:  # the diagonal of S^l V^i is not used
                        continue
                    if blas:
                        uu = gq[r, g0i + m]
                        ud_ = gq[r, g0i + n + m]
                        du = gd[r, i * n + m]
                        dd = v[i, r, m] - uu  # U_up† Y_up + U_dn† Y_dn = U† Y = V
                    else:
                        uu = 0j
                        ud_ = 0j
                        du = 0j
                        dd = 0j
                        for o in range(sp.shape[1]):
                            cu = np.conj(u[k, sp[0, o], r])
                            cd = np.conj(u[k, sp[1, o], r])
                            yu = yc[i, sp[0, o], m]
                            yd = yc[i, sp[1, o], m]
                            uu += cu * yu
                            ud_ += cu * yd
                            du += cd * yu
                            dd += cd * yd
                    svs[i, r, m] = 0.5 * (ud_ + du)
                    svs[i, n + r, m] = complex(0.5 * (ud_.imag - du.imag), 0.5 * (du.real - ud_.real))
                    svs[i, 2 * n + r, m] = 0.5 * (uu - dd)

    @_jit_inline
    def _spin_velocity(work, blas, dim, n):
        """``work.svs[i]`` = S^l V^i = (s^l U)† Y^i for the three l at once (rows l·n + r), general spin."""
        svs, svh, wsh_rows, yc = work.svs, work.svh, work.wsh_rows, work.yc
        for i in range(dim):
            if blas:
                for r in range(3 * n):
                    for m in range(n):
                        svs[i, r, m] = svh[r, i * n + m]
                continue
            for r in range(3 * n):
                for m in range(n):
                    svs[i, r, m] = 0.0
                for p in range(n):
                    z = wsh_rows[r, p]
                    for m in range(n):
                        svs[i, r, m] += z * yc[i, p, m]

    @_jit_inline
    def _conventional_sum(work, dim, n):
        """One visit per pair m < r: 2 Im(A_rm V^j_mr) g_mr with 2A_rm = p + conj(q), p = sv_rm, q = sv_mr."""
        qc, svs, v, g = work.qc, work.svs, work.v, work.g
        qc[:, :] = 0.0
        for m in range(n):
            for r in range(m + 1, n):
                gr = g[m, r]
                if gr == 0.0:
                    continue
                z0 = v[0, m, r]
                z1 = v[1, m, r]
                z2 = v[dim - 1, m, r]
                for i in range(dim):
                    for l in range(3):
                        p = svs[i, l * n + r, m]
                        q = svs[i, l * n + m, r]
                        ar = (p.real + q.real) * gr
                        ai = (p.imag - q.imag) * gr
                        base = (l * dim + i) * dim
                        t = ar * z0.imag + ai * z0.real
                        qc[m, base] += t
                        qc[r, base] -= t
                        t = ar * z1.imag + ai * z1.real
                        qc[m, base + 1] += t
                        qc[r, base + 1] -= t
                        if dim == 3:
                            t = ar * z2.imag + ai * z2.real
                            qc[m, base + 2] += t
                            qc[r, base + 2] -= t

    # ---- degeneracy diagnostics (geometry.degenerate_contributions) for the responses that use s_nn
    @_jit_inline
    def _degenerate(energies, u, k, spin, setup, work, degflags, n):
        """Flags in ``degflags`` the excluded pairs on which s_nn is gauge-dependent; True if there is one."""
        sd = work.sd
        bad = False
        for m in range(n):
            for j in range(m + 1, n):
                if not _excluded(energies[k, m] - energies[k, j], setup.tol):
                    continue
                split = 0.0
                for l in range(3):
                    smj = _spin_element(u, k, spin, work, setup.dense_spin, l, m, j, n)
                    split = max(split, _spin_split(smj, sd[l, m], sd[l, j]))
                if _gauge_dependent(split, setup.split_tol):
                    degflags[m, j] = True
                    bad = True
        return bad

    # ---- per-state values × w_k into every sweep (Sweep.accumulate)
    @_jit_inline
    def _state_values(wk, mode, work, cyclic, n):
        """``work.vals[m]`` = w_k × state m's compact response (torque dipole: ε_ijc Σ^{c,l} − Q); False if one
        is not finite."""
        vals, qs, qc = work.vals, work.qs, work.qc
        nq = vals.shape[1]
        dim = 3 if cyclic.shape[0] == 3 else 2
        finite = True
        for m in range(n):
            if mode == _CHARGE or mode == _PROPER:
                for c in range(nq):
                    vals[m, c] = qs[m, c] * wk
            elif mode == _CONVENTIONAL:
                for c in range(nq):
                    vals[m, c] = qc[m, c] * wk
            else:  # torque dipole: ε_ijc Σ^{c,l} − conventional
                for c in range(nq):
                    vals[m, c] = -qc[m, c]
                for c in range(cyclic.shape[0]):
                    a = cyclic[c, 0]
                    b = cyclic[c, 1]
                    for l in range(3):
                        sig = qs[m, 3 * c + l]
                        iab = (l * dim + a) * dim + b
                        iba = (l * dim + b) * dim + a
                        vals[m, iab] = sig - qc[m, iab]
                        vals[m, iba] = -sig - qc[m, iba]
                for c in range(nq):
                    vals[m, c] *= wk
            for c in range(nq):
                finite &= vals[m, c] - vals[m, c] == 0.0
        return finite

    @_jit_inline
    def _deposit(spec, energies, k, vals, partial, n):
        """Adds the states of k-point k into every sweep's rows (the rule of :class:`~properspin.sweep.Binning`)."""
        kind, first, scale, last, nodes, row = spec.kind, spec.first, spec.scale, spec.last, spec.nodes, spec.row
        fermi, table, foff, toff, nbuckets = spec.fermi, spec.table, spec.foff, spec.toff, spec.nbuckets
        nq = vals.shape[1]
        for m in range(n):
            e = energies[k, m]
            for s in range(kind.shape[0]):
                if e > last[s]:
                    continue
                row0 = row[s]
                if kind[s] == 0:  # T = 0: row = number of Fermi energies below ε
                    r = row0
                    if e > first[s]:
                        r += _bin_t0(fermi, foff[s], nodes[s], table, toff[s], nbuckets[s], scale[s], e)
                    for c in range(nq):
                        partial[r, c] += vals[m, c]
                    continue
                xg = (e - first[s]) / scale[s]  # T > 0: cloud-in-cell on the fold grid, row 0 below it
                if xg < 0.0:
                    for c in range(nq):
                        partial[row0, c] += vals[m, c]
                    continue
                i0 = min(max(int(np.floor(xg)), 0), nodes[s] - 2)
                tt = min(max(xg - i0, 0.0), 1.0)
                r = row0 + i0 + 1
                for c in range(nq):
                    partial[r, c] += (1.0 - tt) * vals[m, c]
                    partial[r + 1, c] += tt * vals[m, c]

    @_jit
    def _bin_t0(fermi_all, f0, nf, tables, t0, nb, scale, e):
        """``searchsorted(fermi, e, 'left')`` for fermi[0] < e ≤ fermi[-1] (``fermi = fermi_all[f0:f0+nf]``).

        The bucket table brackets the answer (checked, else the whole range is searched); for Fermi
        energies spread like the buckets the bracket holds at most one of them, so no search is left.
        """
        b = min(max(int((e - fermi_all[f0]) * scale), 0), nb - 1)
        lo = tables[t0 + b]
        hi = tables[t0 + b + 1]
        if not ((lo == 0 or fermi_all[f0 + lo - 1] < e) and (hi == nf or fermi_all[f0 + hi] >= e)):
            lo = 0
            hi = nf
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if fermi_all[f0 + mid] < e:
                lo = mid + 1
            else:
                hi = mid
        return lo + int((lo < hi) & (fermi_all[f0 + min(lo, nf - 1)] < e))  # branch-free last step

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
    _kernel_n4 = _kernel_any = _hermitian_ok = None
