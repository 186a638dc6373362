"""Batched eigen-decomposition of small Hermitian matrices, the floor of every response.

Two compiled paths, both used by the kernel and by the numpy formulas (:func:`properspin.geometry.band_geometry`),
so that both see the same eigenvalues; anything else goes to ``numpy.linalg.eigh``.

*Up to* ``_QL_MAX`` *bands* (12; ``benchmarks/bench_small_eigh.py`` prints the crossover) no LAPACK routine is
called, since their per-call overhead dominates at this size: a compiled Householder reduction to a real
tridiagonal T = D† Q† H Q D (D a diagonal phase that makes the subdiagonal real), the implicit QL iteration with
Wilkinson shift on T rotating a real Z, and U = Q D Z, all on H scaled by a power of two (huge and tiny matrices
neither overflow nor underflow).  The eigenvalues agree with ``numpy.linalg.eigh`` to a few ulps of max|H| but are
*not* bit-identical to it; ``H U = U E`` to ~1e-15 max|H| and U is unitary to ~1e-15.  For the 4-band model it
takes 0.35–0.4 of the LAPACK path's time.  Non-finite input and 0 < max|H| < ``_QL_TINY`` go to numpy.

*From 13 to* ``_SMALL_MAX`` *bands*: ``numpy.linalg.eigh`` calls LAPACK ``zheevd``; for n ≤ 25 that is ``zhetrd``
(to a real tridiagonal T = Q† H Q), then ``zsteqr``, which runs the implicit QL/QR iteration on T while rotating a
*complex* n × n matrix.  This path does the same reduction, forms Q (``zungtr``), runs the iteration on a *real* Z
(``dsteqr``: the rotations are real, so half the work) and finishes with U = Q Z as two real products.  Same
tridiagonal, same iteration: the eigenvalues are those of ``numpy.linalg.eigh`` to the last bit for n ≤ 25 and the
eigenvectors agree up to phases (within degenerate subspaces, up to a unitary).  It is about 30 % faster for
13 ≤ n ≤ 24 (18 × 18: 25 µs instead of 33 µs on the development machine); from ``_SMALL_MAX`` bands on, and for
real matrices, numpy's divide and conquer is used.  The LAPACK routines are scipy's
(``scipy.linalg.cython_lapack``), registered with LLVM under fixed names so that the compiled function can be
cached on disk.

Any failure (no numba or scipy, ``NUMBA_DISABLE_JIT=1``, a QL iteration that does not converge) falls back to
``numpy.linalg.eigh``.
"""

from __future__ import annotations

import math

import numpy as np

_SMALL_MAX = 32  # bands: above this numpy's zheevd (divide and conquer) is faster
_QL_MAX = 12  # bands: up to this the compiled Householder + QL is faster than the LAPACK path (bench_small_eigh.py)
_QL_TINY = 1e-290  # max|H| below this (but not 0): numpy (the power-of-two scaling would leave the normal range)


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


def _build_ql():  # noqa: ANN202 - returns a compiled function or None
    """The compiled Householder + implicit QL solver for n ≤ ``_QL_MAX`` (see the module docstring)."""
    from ._numba import jit_enabled, njit

    if not jit_enabled():
        return None
    inline = njit(cache=True, error_model="numpy", inline="always")

    @inline
    def load(h, k, a, q, z):  # pragma: no cover - compiled
        """a = H[k] × 2^-e (lower triangle, Hermitian completed), q = z = 1; returns e, or a sentinel 9999 when
        H[k] is not finite or too tiny to scale."""
        n = a.shape[0]
        big = 0.0
        finite = True
        for i in range(n):
            for j in range(i + 1):
                x = h[k, i, j]
                finite &= (x.real - x.real == 0.0) & (x.imag - x.imag == 0.0)  # False for NaN and inf
                big = max(big, abs(x.real), abs(x.imag))
        if not finite or 0.0 < big < _QL_TINY:
            return 9999
        expo = math.frexp(big)[1] if big > 0.0 else 0
        scale = math.ldexp(1.0, -expo)
        for i in range(n):
            for j in range(i):
                x = h[k, i, j] * scale
                a[i, j] = x
                a[j, i] = np.conj(x)
            a[i, i] = h[k, i, i].real * scale
            for j in range(n):
                q[i, j] = 0.0
                z[i, j] = 0.0
            q[i, i] = 1.0
            z[i, i] = 1.0
        return expo

    @inline
    def reflect(a, q, j, v, w):  # pragma: no cover - compiled
        """Householder step j: zero a[j+2:, j] by P = 1 − β v v† (a ← P a P, q ← q P)."""
        n = a.shape[0]
        tail = 0.0
        for i in range(j + 2, n):
            x = a[i, j]
            tail += x.real * x.real + x.imag * x.imag
        if tail == 0.0:
            return
        x0 = a[j + 1, j]
        r0 = np.sqrt(x0.real * x0.real + x0.imag * x0.imag)
        norm = np.sqrt(tail + r0 * r0)
        alpha = -(x0 / r0 if r0 > 0.0 else 1.0 + 0.0j) * norm
        v[j + 1] = x0 - alpha
        for i in range(j + 2, n):
            v[i] = a[i, j]
        beta = 1.0 / (norm * (norm + r0))
        kk = 0.0 + 0.0j
        for i in range(j + 1, n):  # w = β B v − (β/2)(v† β B v) v, then B ← B − v w† − w v†
            s = 0.0 + 0.0j
            for t in range(j + 1, n):
                s += a[i, t] * v[t]
            w[i] = beta * s
            kk += np.conj(v[i]) * w[i]
        kk *= 0.5 * beta
        for i in range(j + 1, n):
            w[i] -= kk * v[i]
        for i in range(j + 1, n):
            for t in range(j + 1, n):
                a[i, t] -= v[i] * np.conj(w[t]) + w[i] * np.conj(v[t])
        a[j + 1, j] = alpha
        a[j, j + 1] = np.conj(alpha)
        for i in range(j + 2, n):
            a[i, j] = 0.0
            a[j, i] = 0.0
        for i in range(n):
            s = 0.0 + 0.0j
            for t in range(j + 1, n):
                s += q[i, t] * v[t]
            s *= beta
            for t in range(j + 1, n):
                q[i, t] -= s * np.conj(v[t])

    @inline
    def tridiagonal(a, q, d, e, v, w):  # pragma: no cover - compiled
        """T = D† Q† H Q D real tridiagonal (diagonal d, subdiagonal e[:-1], e[-1] = 0); q ← Q D."""
        n = a.shape[0]
        for j in range(n - 2):
            reflect(a, q, j, v, w)
        ph = 1.0 + 0.0j
        for i in range(n):
            d[i] = a[i, i].real
            if i > 0:
                s = a[i, i - 1]
                r = np.sqrt(s.real * s.real + s.imag * s.imag)
                e[i - 1] = r
                if r > 0.0:
                    ph = ph * (s / r)
                for t in range(n):
                    q[t, i] *= ph
        e[n - 1] = 0.0

    @inline
    def ql_sweep(d, e, z, l, m):  # pragma: no cover - compiled
        """One implicit QL step with Wilkinson shift on T[l:m+1, l:m+1] (rotations applied to z's columns);
        False when a rotation underflowed (the block split: iterate again)."""
        n = d.shape[0]
        g = (d[l + 1] - d[l]) / (2.0 * e[l])
        r = np.sqrt(g * g + 1.0) if abs(g) < 1e150 else abs(g)
        g = d[m] - d[l] + e[l] / (g + (r if g >= 0.0 else -r))
        s = c = 1.0
        p = 0.0
        for i in range(m - 1, l - 1, -1):
            f = s * e[i]
            b = c * e[i]
            r = np.sqrt(f * f + g * g)
            if r < 1e-150 or r > 1e150:
                r = np.hypot(f, g)
            e[i + 1] = r
            if r == 0.0:
                d[i + 1] -= p
                e[m] = 0.0
                return False
            s = f / r
            c = g / r
            g = d[i + 1] - p
            r = (d[i] - g) * s + 2.0 * c * b
            p = s * r
            d[i + 1] = g + p
            g = c * r - b
            for t in range(n):
                f = z[t, i + 1]
                z[t, i + 1] = s * z[t, i] + c * f
                z[t, i] = c * z[t, i] - s * f
        d[l] -= p
        e[l] = g
        e[m] = 0.0
        return True

    @inline
    def ql(d, e, z):  # pragma: no cover - compiled
        """Eigenvalues of T into d (unordered), its eigenvectors into z's columns; False without convergence."""
        n = d.shape[0]
        for l in range(n):
            for _ in range(60):
                m = l
                while m < n - 1 and abs(e[m]) > 2.220446049250313e-16 * (abs(d[m]) + abs(d[m + 1])):
                    m += 1
                if m == l:
                    break
                ql_sweep(d, e, z, l, m)
            else:
                return False
        return True

    @njit(cache=True, error_model="numpy")
    def small_ql(h, energies, vectors, status):  # pragma: no cover - compiled
        nk, n, _ = h.shape
        a = np.empty((n, n), np.complex128)
        q = np.empty((n, n), np.complex128)
        v = np.empty(n, np.complex128)
        w = np.empty(n, np.complex128)
        d = np.empty(n)
        e = np.empty(n)
        z = np.empty((n, n))
        order = np.empty(n, np.int64)
        for k in range(nk):
            expo = load(h, k, a, q, z)
            if expo == 9999:
                status[0] = 1
                return
            tridiagonal(a, q, d, e, v, w)
            if not ql(d, e, z):
                status[0] = 1
                return
            for i in range(n):  # ascending order (insertion sort), U = Q Z
                order[i] = i
                j = i
                while j > 0 and d[order[j - 1]] > d[order[j]]:
                    order[j - 1], order[j] = order[j], order[j - 1]
                    j -= 1
            unscale = math.ldexp(1.0, expo - 1)
            for j in range(n):
                o = order[j]
                energies[k, j] = (2.0 * d[o]) * unscale
                for i in range(n):
                    sr = si = 0.0
                    for t in range(n):
                        sr += q[i, t].real * z[t, o]
                        si += q[i, t].imag * z[t, o]
                    vectors[k, i, j] = complex(sr, si)

    return small_ql


_small = _build()
_ql = _build_ql()
