"""The compiled small-n Hermitian eigensolver of :mod:`properspin.eigen` (n ≤ ``eigen._QL_MAX``), no LAPACK call.

Per matrix: ``load`` (H scaled by 2^-e, e the exponent of max|H|, so that nothing overflows or underflows),
``tridiagonal`` (Householder reflections P = 1 − β v v†, Q = P_0 P_1 …, then a diagonal phase D that makes the
subdiagonal real: T = D† Q† H Q D), ``ql`` (the implicit QL iteration with Wilkinson shift of the EISPACK/LAPACK
``tql2``/``steqr`` family on T, rotating a real Z), then ascending order and U = Q D Z.  ``small_ql`` is ``None``
without numba or under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import jit_enabled

QL_TINY = 1e-290  # max|H| below this (but not 0): numpy (the power-of-two scaling would leave the normal range)
_NOT_SCALABLE = 9999  # returned by load() for non-finite or too tiny input

small_ql = None
if jit_enabled():
    from ._numba import njit

    inline = njit(cache=True, error_model="numpy", inline="always")

    @inline
    def load(h, k, a, q, z):  # pragma: no cover - compiled
        """a = H[k] × 2^-e (lower triangle, Hermitian completed), q = z = 1; returns e, or ``_NOT_SCALABLE``
        when H[k] is not finite or too tiny to scale."""
        n = a.shape[0]
        big = 0.0
        finite = True
        for i in range(n):
            for j in range(i + 1):
                x = h[k, i, j]
                finite &= (x.real - x.real == 0.0) & (x.imag - x.imag == 0.0)  # False for NaN and inf
                big = max(big, abs(x.real), abs(x.imag))
        if not finite or 0.0 < big < QL_TINY:
            return _NOT_SCALABLE
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
        """Eigenvalues (ascending) into ``energies`` (N, n), eigenvectors into ``vectors`` (N, n, n) of the stack
        ``h``; ``status[0] = 1`` (and stop) at the first matrix it cannot scale or whose iteration fails."""
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
            if expo == _NOT_SCALABLE:
                status[0] = 1
                return
            tridiagonal(a, q, d, e, v, w)
            if not ql(d, e, z):
                status[0] = 1
                return
            for i in range(n):  # ascending order (insertion sort), U = (Q D) Z
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
