"""Compiled stages of the fused kernel: spin and the curvatures of Eq. (2).

* :func:`_spin_diagonal` (``s^l_nn`` from the sparse orbital ``s^l``) or :func:`_spin_dense` (from a k-dependent
  ``S(k)``, ``Model.spin_k``); :func:`_spin_rows`: ``(s^l U)†`` for the conventional term;
* :func:`_omega_sigma`: ``Ω^c_m`` and ``Σ^{c,l}_m`` of Eq. (2) (``berry_curvature``, ``proper_spin_curvature``);
* :func:`_blocks`, :func:`_block_pairs`, :func:`_plain_pairs`, :func:`_sigma_from_pairs`: degenerate blocks, the
  block-trace form of Eq. (2), its occupation parts and the dephasing weight (conventions §3);
* :func:`_wannier_curv`: ``(U† F^W_c U)_mm``, Wang et al. Eq. 27 (``geometry._wannier_curvature``).

Formulas and conventions: :mod:`properspin.kernel_stages`.
"""

from __future__ import annotations

import numpy as np

from .kernel_base import _gemm, _jit_inline, _new_block, _product, njit

if njit is not None:
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
    def _omega_sigma(omega, work, cyclic, n):
        """``work.qs[m, c] = Ω^c_m`` (``omega``: charge) or ``work.qs[m, 3c + l] = Σ^{c,l}_m`` (Eq. 2)."""
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
                    if omega:
                        q0 += gg
                        qs[j, c] -= gg
                    else:
                        q0 += gg * sd[0, j]
                        q1 += gg * sd[1, j]
                        q2 += gg * sd[2, j]
                        qs[j, 3 * c] -= gg * sd[0, m]
                        qs[j, 3 * c + 1] -= gg * sd[1, m]
                        qs[j, 3 * c + 2] -= gg * sd[2, m]
                if omega:
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
            _block_mean(qs, work.bstart, work.bend, off + nq, n)

    @_jit_inline
    def _block_mean(q, bstart, bend, ncol, n):
        """Each band's columns [0, ncol) of ``q`` replaced by the mean over its degenerate block [bstart, bend)
        (``geometry.block_share``)."""
        for m in range(n):
            s0 = bstart[m]
            s1 = bend[m]
            if m != s0 or s1 - s0 < 2:
                continue
            for c in range(ncol):
                x = 0.0
                for j in range(s0, s1):
                    x += q[j, c]
                x /= s1 - s0
                for j in range(s0, s1):
                    q[j, c] = x

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

