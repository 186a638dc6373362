"""Compiled stages of the fused kernel: gaps and the band-basis velocity (``geometry_from_eigenvectors``).

* :func:`_gaps`: ``g_mn = 1/(Δ_mn² + η²)``, 0 for excluded pairs (``BandGeometry.inverse_gap_squared``);
* :func:`_rotate_stacked`, :func:`_velocity_plain`, :func:`_velocity_position`: ``V^a = U† ∂_a H U + i(ε_m − ε_n)
  Ā^a_mn``.  Without a position term only the part each response needs is formed (the strict upper triangle
  for Ω and Σ).  With one, a single rotation ``M = U† (∂_a H + i A^W_a) U = D + iĀ`` gives both Hermitian parts:
  ``D_mn = (M_mn + conj(M_nm))/2``, ``Ā_mn = (M_mn − conj(M_nm))/2i``.

Formulas and conventions: :mod:`properspin.kernel_stages`.
"""

from __future__ import annotations

import numpy as np

from .kernel_base import _POSITION_RTOL, _adjoint_times, _excluded, _gemm, _jit_inline, _product, njit

if njit is not None:
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

