"""Batched eigen-decomposition of small Hermitian matrices, the floor of every response.

Two compiled paths, both used by the kernel and by the numpy formulas (:func:`properspin.geometry.band_geometry`),
so that both see the same eigenvalues; anything else goes to ``numpy.linalg.eigh``.

*Up to* ``_QL_MAX`` *bands* (14; ``benchmarks/bench_small_eigh.py`` prints the crossover) no LAPACK routine is
called, since their per-call overhead dominates at this size: a compiled Householder reduction to a real
tridiagonal T = D† Q† H Q D (D a diagonal phase that makes the subdiagonal real), the implicit QL iteration with
Wilkinson shift on T rotating a real Z, and U = Q D Z, all on H scaled by a power of two (huge and tiny matrices
neither overflow nor underflow).  The eigenvalues agree with ``numpy.linalg.eigh`` to a few ulps of max|H| but are
*not* bit-identical to it; ``H U = U E`` to ~1e-15 max|H| and U is unitary to ~1e-15.  For the 4-band model it
takes 0.35–0.4 of the LAPACK path's time.  Non-finite input and 0 < max|H| < ``eigen_ql.QL_TINY`` go to numpy.

*From 15 to* ``_SMALL_MAX`` *bands*: ``numpy.linalg.eigh`` calls LAPACK ``zheevd``; for n ≤ 25 that is ``zhetrd``
(to a real tridiagonal T = Q† H Q), then ``zsteqr``, which runs the implicit QL/QR iteration on T while rotating a
*complex* n × n matrix.  This path does the same reduction, forms Q (``zungtr``), runs the iteration on a *real* Z
(``dsteqr``: the rotations are real, so half the work) and finishes with U = Q Z as two real products.  Same
tridiagonal, same iteration: the eigenvalues are those of ``numpy.linalg.eigh`` to the last bit for n ≤ 25 and the
eigenvectors agree up to phases (within degenerate subspaces, up to a unitary).  It is about 30 % faster for
15 ≤ n ≤ 24 (18 × 18: 25 µs instead of 33 µs on the development machine); from ``_SMALL_MAX`` bands on, and for
real matrices, numpy's divide and conquer is used.  The LAPACK routines are scipy's
(``scipy.linalg.cython_lapack``), registered with LLVM under fixed names so that the compiled function can be
cached on disk.

Any failure (no numba or scipy, ``NUMBA_DISABLE_JIT=1``, a QL iteration that does not converge) falls back to
``numpy.linalg.eigh``.
"""

from __future__ import annotations

import numpy as np

from .eigen_ql import small_ql

_SMALL_MAX = 32  # bands: above this numpy's zheevd (divide and conquer) is faster
_QL_MAX = 14  # bands: up to this the compiled Householder + QL was faster than the LAPACK path in every round of
# two runs of benchmarks/bench_small_eigh.py (at 18: 0.87–1.07 of it, mixed; RESULTS.md §17b)


def eigh(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of a stack of Hermitian matrices (N, n, n), like
    ``numpy.linalg.eigh(h)`` (lower triangle used; diagonal's imaginary part ignored).  For complex n ≤ ``_QL_MAX``
    the eigenvalues agree with numpy's to a few ulps of max|H|, not bit for bit (module docstring)."""
    n = h.shape[-1]
    solver = _ql if n <= _QL_MAX else _small if n <= _SMALL_MAX else None
    if solver is None or h.ndim != 3 or h.dtype != np.complex128 or len(h) == 0:
        return np.linalg.eigh(h)
    energies = np.empty(h.shape[:2])
    vectors = np.empty_like(h)
    status = np.zeros(1, dtype=np.int64)
    solver(np.ascontiguousarray(h), energies, vectors, status)
    if status[0]:
        return np.linalg.eigh(h)  # not finite, too tiny, or no QL convergence for some k: let zheevd try
    return energies, vectors


def available() -> bool:
    """Whether the compiled small-matrix paths are in use (numba and scipy's LAPACK present)."""
    return _small is not None and _ql is not None


def _build():  # noqa: ANN202 - returns a compiled function or None
    from ._numba import jit_enabled, njit

    if not jit_enabled():  # NUMBA_DISABLE_JIT: the LAPACK calls below would not run as Python
        return None
    try:
        import llvmlite.binding as llvm
        from numba import types
        from numba.extending import get_cython_function_address
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    try:
        for name in ("zhetrd", "zungtr", "dsteqr"):
            llvm.add_symbol(f"properspin_{name}", get_cython_function_address("scipy.linalg.cython_lapack", name))
    except (ImportError, ValueError, AttributeError):  # pragma: no cover - scipy without cython_lapack
        return None
    vp = types.voidptr
    zhetrd = types.ExternalFunction("properspin_zhetrd", types.void(*[vp] * 10))
    zungtr = types.ExternalFunction("properspin_zungtr", types.void(*[vp] * 8))
    dsteqr = types.ExternalFunction("properspin_dsteqr", types.void(*[vp] * 8))

    @njit(cache=True)
    def small(h, energies, vectors, status):  # pragma: no cover - compiled
        nk, n, _ = h.shape
        a = np.empty((n, n), dtype=np.complex128)  # Fortran (column-major) view: a[j, i] = A(i, j)
        d = np.empty(n)
        e = np.empty(max(n - 1, 1))
        tau = np.empty(max(n - 1, 1), dtype=np.complex128)
        lwork = 64 * n
        work = np.empty(lwork, dtype=np.complex128)
        rwork = np.empty(max(2 * n - 2, 1))
        z = np.empty((n, n))  # z[j, t] = Z(t, j)
        uplo = np.array([ord("L")], dtype=np.uint8)
        compz = np.array([ord("I")], dtype=np.uint8)
        nn = np.array([n], dtype=np.int32)
        lw = np.array([lwork], dtype=np.int32)
        info = np.zeros(1, dtype=np.int32)
        qr = np.empty((n, n))
        qi = np.empty((n, n))
        zt = np.empty((n, n))
        ur = np.empty((n, n))
        ui = np.empty((n, n))
        for k in range(nk):
            for i in range(n):
                for j in range(i + 1):
                    a[j, i] = h[k, i, j]  # lower triangle of H
            zhetrd(uplo.ctypes, nn.ctypes, a.ctypes, nn.ctypes, d.ctypes, e.ctypes, tau.ctypes, work.ctypes,
                   lw.ctypes, info.ctypes)
            zungtr(uplo.ctypes, nn.ctypes, a.ctypes, nn.ctypes, tau.ctypes, work.ctypes, lw.ctypes, info.ctypes)
            dsteqr(compz.ctypes, nn.ctypes, d.ctypes, e.ctypes, z.ctypes, nn.ctypes, rwork.ctypes, info.ctypes)
            if info[0] != 0:
                status[0] = 1
                return
            for i in range(n):
                for t in range(n):
                    q = a[t, i]
                    qr[i, t] = q.real
                    qi[i, t] = q.imag
            for t in range(n):
                for j in range(n):
                    zt[t, j] = z[j, t]
            np.dot(qr, zt, ur)  # U = Q Z, Z real
            np.dot(qi, zt, ui)
            for i in range(n):
                energies[k, i] = d[i]
                for j in range(n):
                    vectors[k, i, j] = complex(ur[i, j], ui[i, j])

    return small


_small = _build()
_ql = small_ql
