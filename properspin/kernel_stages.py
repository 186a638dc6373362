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
* :func:`_torque_sum`: ``Q^{l,j}_m`` of the torque density ``Tr(t^l ρ_E)``, ``t = i[H, s]`` (``torque_response``);
* :func:`_appendix_c`: (C6), (C7), (C11), (C24) (``appendix_c_terms``) from the conventional sum with the spin
  restricted to the diagonal, the degenerate blocks or the excluded pairs, and Σ of Eq. (2);
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
* torque density ``Q^{l,j}_m = Σ_r 2 Im(t^l_rm V^j_mr) g_mr = Σ_r 2 Re(s^l_rm V^j_mr)/(ε_r − ε_m)`` (in the band
  basis ``t_rm = i(ε_r − ε_m) s_rm``), with ``s = (s U)† U`` from the conventional term's rows;
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

What runs for a response is its mode's row of :data:`properspin.kernel_modes.KERNEL_NEEDS` (flags of
:class:`_Setup`, widths of :class:`_Work`).  The stages live in :mod:`properspin.kernel_velocity`,
:mod:`properspin.kernel_curvature` and :mod:`properspin.kernel_conventional` (grouped arguments and BLAS in
:mod:`properspin.kernel_base`); this module holds the loop over k, the per-state values and the Fermi deposit.

numba caches the compiled kernels per user; its cache follows edits of this file only, so :data:`_FINGERPRINT`
(in the kernels' cache key) hashes the other kernel modules and :mod:`properspin.conventions`, whose rules are
compiled in.
"""

from __future__ import annotations

import hashlib
import inspect

import numpy as np

from . import conventions, kernel_base, kernel_conventional, kernel_curvature, kernel_velocity
from .kernel_base import _BAD_POSITION, _BAD_VALUES, _BLAS_MIN, _OK, _jit, _jit_inline, _jit_kernel, njit
from .kernel_modes import VALUE_CODES, KernelMode

_STAGE_MODULES = (kernel_base, kernel_velocity, kernel_curvature, kernel_conventional)


def _fingerprint() -> str:
    """sha256 of the source compiled into the kernels from other modules (the stage modules, conventions.py, the
    KernelMode numbers and value codes): numba's cache follows only the file that defines a compiled function, so
    this goes into the kernels' cache key."""
    try:
        text = "".join(inspect.getsource(m) for m in (conventions, *_STAGE_MODULES))
    except (OSError, TypeError):  # pragma: no cover - no source files (frozen install)
        text = repr(sorted(vars(conventions).items(), key=lambda kv: kv[0]))
    text += repr([(m.name, int(m)) for m in KernelMode]) + repr(sorted(VALUE_CODES.items()))
    return hashlib.sha256(text.encode()).hexdigest()


_FINGERPRINT = _fingerprint()


if njit is not None:
    from .kernel_base import _excluded, _gauge_dependent, _spin_split
    from .kernel_conventional import _appendix_c, _conventional, _conventional_sum, _qiao_current, _torque_sum
    from .kernel_curvature import (
        _block_pairs,
        _blocks,
        _omega_sigma,
        _plain_pairs,
        _sigma_from_pairs,
        _spin_dense,
        _spin_diagonal,
        _spin_element,
        _spin_rows,
        _wannier_curv,
    )
    from .kernel_velocity import _gaps, _rotate_stacked, _velocity_plain, _velocity_position

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

        Adds each state into ``partial`` (compact components: ``KernelNeeds.widths``), sets ``out[0]`` to the
        status, adds the number of k-points with gauge-dependent degenerate pairs to ``out[1]`` and flags those
        pairs in ``degflags[m, n]`` (m < n).  Ω and Σ use only the upper triangle (m < n) of the gaps and of V.
        Stages take the grouped arguments and bind the arrays they use once, outside their loops: every array
        variable costs a reference count in compiled code.
        """
        need_conv = setup.conv
        spin_mode = setup.sigma
        need_sd = spin_mode or setup.check_degeneracy
        pair_terms = spin_mode and (setup.split or setup.deph2 > 0.0)  # occupation parts / dephasing
        qiao = need_conv and setup.qiao  # the Qiao spin current replaces ½{s, V} (BLAS for any n)
        blas = n >= _BLAS_MIN or qiao
        pairs = need_conv and not qiao and 2 * spin.pairs.shape[1] == n  # s^l = 1 ⊗ σ^l/2: half-size products
        has_curl = setup.omega and setup.has_pos
        appendix = setup.values == 3  # kernel_modes.VALUE_CODES["appendix_c"]: the four App. C terms
        energies, u, w = blk.energies, blk.u, blk.w
        ndeg = 0
        for k in range(energies.shape[0]):
            _gaps(energies, k, work, need_conv, setup.tol, setup.eta2, setup.emax, n)
            if blas:
                _rotate_stacked(k, blk, setup.has_pos, work, n)
            if not setup.has_pos:
                _velocity_plain(k, blk, work, need_conv, blas, n)  # the torque reads the upper triangle
            elif not _velocity_position(k, blk, work, need_conv, has_curl, blas, n):
                out[0] = _BAD_POSITION  # A^W(k) not Hermitian: the numpy path takes over
                return
            rows = (need_conv and not qiao) or setup.torque  # (s U)† for S^l V^i or U† s U
            if setup.dense_spin and (need_sd or rows):
                _spin_dense(k, blk, work, rows, blas, n)
            elif need_sd:
                _spin_diagonal(u, k, spin, work.sd, n)
            if rows and not setup.dense_spin:
                _spin_rows(u, k, spin, work, pairs, blas, n)
            blocks = spin_mode and setup.block_trace and _blocks(energies, k, setup.tol, work, n)
            if blocks:  # block-trace form of Eq. (2) at this k-point
                _block_pairs(energies, k, u, spin, work, setup.cyclic, setup.dense_spin, n)
                _sigma_from_pairs(energies, k, work, setup.split, setup.deph2, True, n)
            elif pair_terms:
                _plain_pairs(work, setup.cyclic, n)
                _sigma_from_pairs(energies, k, work, setup.split, setup.deph2, False, n)
            elif setup.omega or spin_mode:
                _omega_sigma(setup.omega, work, setup.cyclic, n)
            if has_curl:
                _wannier_curv(k, blk, work, setup.cyclic, blas, n)
            if qiao:
                _qiao_current(k, blk, setup.qiao_tol, work, n)
                _conventional_sum(work, blk.dh.shape[0], n)
            elif need_conv:
                _conventional(k, blk, spin, work, pairs, blas, n)
                if appendix:
                    _appendix_c(energies, k, u, spin, setup, work, n)
            if setup.torque:
                _torque_sum(k, blk, work, blas, n)
            if setup.check_degeneracy and _degenerate(energies, u, k, spin, setup, work, degflags, n):
                ndeg += 1
            if not _state_values(w[k], setup.values, work, setup.cyclic, n):
                out[0] = _BAD_VALUES  # NaN/inf in ∂H, A or the gaps: let the numpy path say what it says
                return
            _deposit(spec, energies, k, work.vals, partial, n)
        out[0] = _OK
        out[1] += ndeg

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
    def _state_values(wk, values, work, cyclic, n):
        """``work.vals[m]`` = w_k × state m's compact response: Ω or Σ (``values`` 0), Q (1), the torque
        dipole ε_ijc Σ^{c,l} − Q (2) or the App. C terms of :func:`_appendix_c` (3) (``kernel_modes.VALUE_CODES``);
        False if one is not finite."""
        vals, qs, qc = work.vals, work.qs, work.qc
        nq = vals.shape[1]
        dim = 3 if cyclic.shape[0] == 3 else 2
        finite = True
        for m in range(n):
            if values == 0:
                for c in range(nq):
                    vals[m, c] = qs[m, c] * wk
            elif values == 1:
                for c in range(nq):
                    vals[m, c] = qc[m, c] * wk
            elif values == 3:  # the App. C terms, written by _appendix_c
                for c in range(nq):
                    vals[m, c] *= wk
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

else:  # pragma: no cover
    _kernel_n4 = _kernel_any = _bin_t0 = None
