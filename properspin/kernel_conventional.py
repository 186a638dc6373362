"""Compiled stages of the fused kernel: the conventional (Kubo) spin current ``Q^{l,i,j}_m`` and the torque density.

* :func:`_conventional`: ``A^{li} = ½{S^l, V^i}`` (``conventional_spin_curvature``), from ``S^l V^i`` (never
  forming A), with half-size products when ``s^l = 1_orb ⊗ σ^l/2`` (:func:`_spin_velocity_pairs`);
* :func:`_qiao_current`: the Qiao et al. spin current of a Wannier90 run (``QiaoSpinCurrent``);
* :func:`_conventional_sum`: ``Q^{l,i,j}_m = Σ_r 2 Im(A^{li}_rm V^j_mr) g_mr``, one visit per pair;
* :func:`_torque_sum`: ``Q^{l,j}_m`` of ``Tr(t^l ρ_E)``, ``t = i[H, s]`` (``geometry.torque_response``), from
  ``U† s U`` and the upper triangle of V;
* :func:`_appendix_c`: the four terms of App. C (``geometry.appendix_c_terms``) from the conventional sum with the
  spin restricted to the band-diagonal, the degenerate blocks or the excluded pairs (:func:`_restricted_spin_velocity`)
  and Σ of Eq. (2).

Formulas and conventions: :mod:`properspin.kernel_stages`.
"""

from __future__ import annotations

import numpy as np

from .kernel_base import _excluded, _gemm, _jit_inline, njit

if njit is not None:
    from .kernel_curvature import _block_mean, _spin_element

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


    # ---- torque density Q^{l,j}_m = Σ_r 2 Im(t^l_rm V^j_mr)/Δ², t = i[H, s] (geometry.torque_response)
    @_jit_inline
    def _torque_sum(k, blk, work, blas, n):
        """``work.qc[m, l·dim + j] = Q^{l,j}_m = Σ_r 2 Re(s^l_rm V^j_mr)/(ε_r − ε_m)``: in the band basis
        ``t_rm = i(ε_r − ε_m) s_rm``, so ``Im(t_rm V_mr) g_mr = Re(s_rm V_mr)/(ε_r − ε_m)``; ``s = (s U)† U`` from
        ``work.wsh`` (sparse s or S(k)), excluded pairs dropped (``work.g0`` = 0), one visit per pair m < r."""
        uk, ek = blk.u[k], blk.energies[k]
        qc, sb, v, g0, wsh = work.qc, work.sb, work.v, work.g0, work.wsh_rows
        dim = v.shape[0]
        if blas:
            _gemm(wsh, uk, sb, work)
        else:
            for r in range(3 * n):
                for m in range(n):
                    sb[r, m] = 0.0
                for p in range(n):
                    z = wsh[r, p]
                    for m in range(n):
                        sb[r, m] += z * uk[p, m]
        qc[:, :] = 0.0
        for m in range(n):
            for r in range(m + 1, n):
                gr = g0[m, r]
                if gr == 0.0:
                    continue
                f = 2.0 * (ek[r] - ek[m]) * gr  # 2/(ε_r − ε_m)
                for l in range(3):
                    s = sb[l * n + r, m]
                    for j in range(dim):
                        z = v[j, m, r]
                        t = f * (s.real * z.real - s.imag * z.imag)
                        qc[m, l * dim + j] += t
                        qc[r, l * dim + j] -= t


    # ---- the four terms of App. C (geometry.appendix_c_terms), from the conventional term and Σ of Eq. (2)
    @_jit_inline
    def _appendix_c(energies, k, u, spin, setup, work, n):
        """``work.vals[m, t·3dim² + (l·dim + i)·dim + j]`` = term t of (C6), (C7), (C11), (C24) (not yet × w_k).

        With ``P_B s`` the spin kept on a set B of pairs, ``Q[s']`` the conventional sum with ½{s', V}
        (:func:`_conventional_sum`) and ``Q[s]`` already in ``work.qc``: block trace (B = the degenerate blocks,
        ``work.sbd``): (C6) = Q[P_B s], (C7) = Q[s] − (C6), (C11) = −(C7) (in the band basis 2X = −s off the
        blocks, Eqs. C9–C10); "exclude" (B = the diagonal): (C6) = Q[s_nn], (C7) = Q[s] − (C6), (C11) =
        Q[P_E s] − Q[s] with E the diagonal and the excluded pairs.  (C24) = ε_ijc Σ^{c,l} − (C6) where no block has
        two bands (then (C6) = ½ ε_ijc (s_mm Ω^c + Σ^{c,l}) per band), else ½ ε_ijc (Σ^{c,l} − the share of
        Tr(s_β F^c_β)) (:func:`_block_spin_omega`, ``geometry.appendix_c_terms``)."""
        qa, q6, qc, vals = work.qa, work.q6, work.qc, work.vals
        dim = work.v.shape[0]
        nq = qc.shape[1]
        block = setup.block_trace
        for m in range(n):
            for c in range(nq):
                qa[m, c] = qc[m, c]
        _restricted_spin_velocity(energies, k, u, spin, setup, work, 1 if block else 0, n)
        _conventional_sum(work, dim, n)
        for m in range(n):
            for c in range(nq):
                q6[m, c] = qc[m, c]
        if not block and _excluded_pair(energies, k, setup.tol, n):
            _restricted_spin_velocity(energies, k, u, spin, setup, work, 2, n)
            _conventional_sum(work, dim, n)  # qc = Q[P_E s]; else it is (C6) already
        for m in range(n):
            for c in range(nq):
                vals[m, c] = q6[m, c]
                vals[m, nq + c] = qa[m, c] - q6[m, c]
                vals[m, 2 * nq + c] = qc[m, c] - qa[m, c]
        if block and _block_spin_omega(work, setup.cyclic, n):  # qa[:, 3c + l]: the share of Tr(s_β F^c_β)
            _c24(work, setup.cyclic, 3 * nq, 0.5, qa, n)  # ½ ε_ijc (Σ − s Ω)
        else:  # no block: (C6) = ½ ε_ijc (s_mm Ω^c + Σ^{c,l}) per band, so (C24) = ε_ijc Σ^{c,l} − (C6)
            for m in range(n):
                for c in range(nq):
                    vals[m, 3 * nq + c] = -q6[m, c]
            _c24(work, setup.cyclic, 3 * nq, 1.0, qa[:, :0], n)

    @_jit_inline
    def _c24(work, cyclic, off, f, so, n):
        """Adds ``f ε_ijc (Σ^{c,l} − so[:, 3c + l])`` to ``work.vals[:, off + (l·dim + i)·dim + j]`` (``so`` with no
        columns: Σ alone)."""
        vals, qs = work.vals, work.qs
        dim = work.v.shape[0]
        for m in range(n):
            if so.shape[1] > 0:
                for c in range(work.qc.shape[1]):
                    vals[m, off + c] = 0.0
            for c in range(cyclic.shape[0]):
                a = cyclic[c, 0]
                b = cyclic[c, 1]
                for l in range(3):
                    sig = qs[m, 3 * c + l]
                    if so.shape[1] > 0:
                        sig -= so[m, 3 * c + l]
                    vals[m, off + (l * dim + a) * dim + b] += f * sig
                    vals[m, off + (l * dim + b) * dim + a] -= f * sig

    @_jit_inline
    def _block_spin_omega(work, cyclic, n):
        """At a k-point with degenerate blocks (``work.bstart``/``bend``, ``work.r``, ``work.sbd`` of
        :func:`~properspin.kernel_curvature._block_pairs`): ``work.qa[m, 3c + l]`` = the block mean of
        ``Re Σ_p F^c_mp s^l_pm`` (p in m's block), ``F^c = i(R^a R^b − R^b R^a)`` with R between different blocks
        (``geometry.appendix_c_terms``); False (nothing written) when every block is a single band."""
        bstart, bend, r, sbd, so = work.bstart, work.bend, work.r, work.sbd, work.qa
        found = False
        for m in range(n):
            found |= bend[m] - bstart[m] > 1
        if not found:
            return False
        for m in range(n):
            for c in range(cyclic.shape[0]):
                a = cyclic[c, 0]
                b = cyclic[c, 1]
                for l in range(3):
                    so[m, 3 * c + l] = 0.0
                for p in range(bstart[m], bend[m]):
                    z = 0j
                    for q in range(n):
                        z += r[a, m, q] * r[b, q, p] - r[b, m, q] * r[a, q, p]
                    for l in range(3):  # Re(i z s_pm)
                        so[m, 3 * c + l] -= (z * sbd[l, p, m]).imag
        _block_mean(so, bstart, bend, 3 * cyclic.shape[0], n)
        return True

    @_jit_inline
    def _excluded_pair(energies, k, tol, n):
        """Whether two different bands at k-point k are closer than the degeneracy tolerance (excluded pair)."""
        for m in range(n - 1):
            if _excluded(energies[k, m] - energies[k, m + 1], tol):
                return True
        return False

    @_jit_inline
    def _restricted_spin_velocity(energies, k, u, spin, setup, work, which, n):
        """``work.svs[i, l·n + r, m] = Σ_p s^l_rp V^i_pm`` (r ≠ m) over p = r (``which`` 0), p in r's degenerate
        block (1: ``work.sbd``, ``work.bstart``/``bend``) or p = r and every p excluded with r (2)."""
        v, svs, sd = work.v, work.svs, work.sd
        dim = v.shape[0]
        for l in range(3):
            for r in range(n):
                s = sd[l, r]
                for i in range(dim):
                    for m in range(n):
                        svs[i, l * n + r, m] = s * v[i, r, m]
        if which == 0:
            return
        sbd, bstart, bend = work.sbd, work.bstart, work.bend
        for r in range(n):
            for p in range(n):
                if p == r:
                    continue
                if which == 1 and not bstart[r] <= p < bend[r]:
                    continue
                if which == 2 and not _excluded(energies[k, r] - energies[k, p], setup.tol):
                    continue
                for l in range(3):
                    z = sbd[l, r, p] if which == 1 else _spin_element(u, k, spin, work, setup.dense_spin, l, r, p, n)
                    for i in range(dim):
                        for m in range(n):
                            svs[i, l * n + r, m] += z * v[i, p, m]
