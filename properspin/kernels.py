"""Compiled chunk kernels: eigenvectors → band-basis velocity and spin → per-state response → Fermi sums.

The numpy path of :mod:`properspin.engine` builds the whole :class:`~properspin.geometry.BandGeometry`
of a chunk, the per-band response ``(*components, N, n)`` and a ``(N·n, ncomp)`` value array before
:meth:`~properspin.sweep.Sweep.accumulate` bins it.  :func:`kernel_chunk` keeps the batched
eigen-decomposition (:func:`properspin.eigen.eigh`, ``numpy.linalg.eigh`` with a faster path for small
complex matrices) and does everything after it in one compiled loop over k with ``n × n`` scratch
matrices only, in blocks of k small enough that H, U and ∂H stay in cache.  Per k-point:

* band-basis velocity ``V^a = U† ∂_a H U + i(ε_m − ε_n) Ā^a_mn`` (``Ā = U† A^W U``, the Wannier position
  term), as :func:`~properspin.geometry.geometry_from_eigenvectors`.  Without a position term only the
  part each response needs is formed (the strict upper triangle for Ω and Σ).  With one, a single rotation
  ``M = U† (∂_a H + i A^W_a) U = D + iĀ`` gives both Hermitian parts: ``D_mn = (M_mn + conj(M_nm))/2``,
  ``Ā_mn = (M_mn − conj(M_nm))/2i``;
* the band-diagonal spin ``s^l_nn = Σ_ij Re(s^l_ij conj(U_in) U_jn)`` from the sparse orbital ``s^l``;
* with ``Δ_mn = ε_m − ε_n`` and ``g_mn = 1/(Δ_mn² + η²)`` (0 on the diagonal and for ``|Δ_mn| <
  degeneracy_tol``, as :meth:`~properspin.geometry.BandGeometry.inverse_gap_squared`), each pair m < n
  visited once (``Im(V^a_nm V^b_mn) = −Im(V^a_mn V^b_nm)``; (a, b, c) cyclic, only c = z in 2D):

  - Berry curvature ``Ω^c_m = −2 Σ_n Im(V^a_mn V^b_nm) g_mn`` (η = 0), plus for a Wannier model the
    curvature of the Wannier connection ``(U† F^W_c U)_mm``, ``F^W_c = ∂_a A_b − ∂_b A_a − i[A_a, A_b]``
    (Wang et al., PRB 74, 195118, Eq. 27; :func:`~properspin.geometry.berry_curvature`);
  - proper spin Berry curvature, Eq. (2): ``Σ^{c,l}_m = −2 Σ_n s^l_nn Im(V^a_mn V^b_nm) g_mn`` (η = 0);
  - conventional (Kubo) term ``Q^{l,i,j}_m = Σ_n 2 Im(A^{li}_nm V^j_mn) g_mn`` with ``A^{li} = ½{S^l, V^i}``
    (:func:`~properspin.geometry.conventional_spin_curvature`).  ``A`` is never formed: with ``P = S^l V^i
    = (s^l U)† (∂_i H U)`` (or ``(s^l U)† (U V^i)`` with a position term), ``A_nm = (P_nm + conj(P_mn))/2``,
    and the pair (n, m) contributes minus the (m, n) term.  When ``s^l = 1_orb ⊗ σ^l/2`` exactly
    (:func:`_spinor_pairs`: up/down rows paired), ``S^l V^i = U† s^l Y^i`` comes from the half-size
    products ``U_↑† [Y_↑ | Y_↓]`` and ``U_↓† Y_↑`` (``U_↓† Y_↓ = V − U_↑† Y_↑``) instead of three full ones;
  - torque dipole = ``ε_ijc Σ^{c,l}`` − conventional, charge = ``−ε_ijc Ω^c``;

* each state ``(ε_mk, w_k Q_mk)`` goes straight into the partial sums of every
  :class:`~properspin.sweep.Sweep`, with the semantics of :meth:`~properspin.sweep.Sweep.accumulate`
  (T = 0: row ``searchsorted(fermi, ε, 'left')``, states above the highest Fermi energy dropped;
  T > 0: cloud-in-cell on the fold grid, row 0 for states below it, states above it dropped);
* the degeneracy diagnostics of :func:`~properspin.geometry.degenerate_contributions` for the responses
  that use ``s_nn`` (proper spin, torque dipole).

Proper spin and charge accumulate the compact ``Σ^{c,l}`` / ``Ω^c`` and are expanded with ``ε_ijc`` once
per chunk.  Products of ``n ≥ 10`` matrices go to BLAS (``np.dot``), one call per stage for all three
directions (operands stacked: small products cost as much in call overhead as in arithmetic); smaller ones
are written out and skip zeros, and 4 bands get their own compiled copy with constant loop bounds.

Supported: ``proper_spin``, ``conventional_spin``, ``torque_dipole`` and ``charge`` on 2D/3D models, with
or without a Wannier position term.  Anything else (``appendix_c``, ``torque``, a position matrix that
is not Hermitian, non-finite values, numba missing) returns ``None`` and the caller uses the numpy path.
"""


from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .eigen import eigh
from .geometry import levi_civita_contract
from .model import CYCLIC_PAIRS, Model
from .sweep import Sweep

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; keep the numpy path usable without it
    njit = None

#: Response name → kernel mode.
MODES = {"charge": 0, "proper_spin": 1, "conventional_spin": 2, "torque_dipole": 3}

_BLAS_MIN = 10  # matrix size from which products call BLAS
_BLOCK_BYTES = 1 << 22  # k-points per kernel call: about this many bytes of H, U, ∂H, A
_BLOCK_MIN = 64
_HERMITIAN_RTOL = 1e-12  # relative anti-Hermitian part of A^W(k) above which the kernel declines
_SPLIT_TOL = 1e-8  # as geometry.degenerate_contributions

# status codes returned by the compiled kernel
_OK, _BAD_VALUES, _BAD_POSITION = 0, 1, 2


class KernelChunk(NamedTuple):
    """Partial sums of one chunk, in the field order of :class:`properspin.engine.ChunkResult`."""

    partials: list[np.ndarray]
    degenerate_kpoints: int
    degenerate_bands: set[tuple[int, int]]


def available() -> bool:
    """True when numba is importable (otherwise :func:`kernel_chunk` always returns ``None``)."""
    return njit is not None


def supports(response_name: str, model: Model) -> bool:
    """Whether :func:`kernel_chunk` handles this response on this model (before looking at k)."""
    mode = MODES.get(response_name)
    if mode is None or njit is None or model.dim not in (2, 3):
        return False
    if getattr(model, "spin_k", None) is not None and mode != 0:
        return False  # a k-dependent spin S(k) (Wannier90 .spn): the numpy path
    return mode == 0 or model.spin is not None


def kernel_chunk(
    response_name: str,
    model: Model,
    k: np.ndarray,
    w: np.ndarray,
    sweeps: Sequence[Sweep],
    degeneracy_tol: float,
    broadening: float,
) -> KernelChunk | None:
    """Partial Fermi sums of ``response_name`` over k-points ``k`` with weights ``w``, one per sweep.

    Same numbers (to round-off) as :func:`properspin.engine.run_chunk` on the numpy path: the partial
    arrays have the row layout of ``sweep.empty(ncomp)`` and the component layout of
    :mod:`properspin.responses` (spin, current, field flattened in C order; charge: current, field).
    Returns ``None`` when the response or model is not supported, so the caller falls back.
    """
    if not supports(response_name, model):
        return None
    mode = MODES[response_name]
    dim = model.dim
    n = model.nbands
    has_pos = model.position is not None
    k = np.asarray(k, dtype=float)
    w = np.ascontiguousarray(w, dtype=float)
    if model.spin is None:
        s_ptr = np.zeros((3, n + 1), dtype=np.int64)
        s_col = np.zeros((3, 1), dtype=np.int64)
        s_val = np.zeros((3, 1), dtype=complex)
    else:
        s_ptr, s_col, s_val = _sparse_rows(model.spin)
    s_pair = _spinor_pairs(model.spin) if model.spin is not None else np.zeros((2, 0), dtype=np.int64)
    sw_int, sw_flt, fermi_all, tables = _sweep_spec(sweeps)
    partial = np.zeros((int(sw_int[:, 6].sum()), _ncompact(mode, dim)))
    degflags = np.zeros((n, n), dtype=np.bool_)
    out = np.zeros(2, dtype=np.int64)  # status, degenerate k-points (accumulated)
    no_pos = np.zeros((dim, 1, n, n), dtype=complex)
    no_curl = np.zeros((len(CYCLIC_PAIRS[dim]), 1, n, n), dtype=complex)
    kernel = _kernel_n4 if n == 4 else _kernel_any  # two compiled variants, each built on first use

    # Blocks of k small enough that H, U, ∂H (and A) stay in cache between the model and the kernel.
    block = max(_BLOCK_MIN, _BLOCK_BYTES // (16 * n * n * (2 + dim * (1 + has_pos))))
    for start in range(0, len(k), block):
        kb = k[start : start + block]
        h = _hamiltonian(model, kb)
        energies, u = eigh(h)  # on H as the model returns it (real: numpy; complex: eigen.eigh), like the numpy path
        if model.gradient is None:
            dh = model.dh(kb)  # finite differences, validated
        else:
            dh = np.asarray(model.gradient(kb))
            if dh.shape != (dim,) + h.shape:
                dh = model.dh(kb)  # raises the shape error
        apos = model.berry_connection_orbital(kb) if has_pos else no_pos
        curl = no_curl
        if mode == 0 and has_pos:  # ∂_a A_b − ∂_b A_a for the Wannier curvature F^W (Wang et al. Eq. 27)
            curl = model.berry_connection_orbital_curl(kb)
        kernel(mode, np.ascontiguousarray(energies, dtype=float), np.ascontiguousarray(u, dtype=complex),
               np.ascontiguousarray(dh, dtype=complex), np.ascontiguousarray(apos, dtype=complex), has_pos,
               np.ascontiguousarray(curl, dtype=complex), s_ptr, s_col, s_val, s_pair,
               w[start : start + block],
               float(degeneracy_tol), float(broadening) ** 2, sw_int, sw_flt, fermi_all, tables, partial,
               degflags, out)
        if out[0] == _BAD_VALUES:
            model.dh(kb)  # raises "gradient(k) contains NaN or inf" when that is the cause
            return None  # otherwise the numpy path reproduces the non-finite sums
        if out[0] == _BAD_POSITION:
            return None  # non-Hermitian position matrix: numpy path
    partials = [_expand(mode, dim, p) for p in np.split(partial, np.cumsum(sw_int[:-1, 6]))]
    bands = {(int(a), int(b)) for a, b in zip(*np.nonzero(degflags), strict=True)}
    return KernelChunk(partials, int(out[1]), bands)


# ------------------------------------------------------------------------------------------ Python helpers
def _hamiltonian(model: Model, k: np.ndarray) -> np.ndarray:
    """``model.hamiltonian(k)`` with the checks of :meth:`Model.h` done in compiled code.

    On any failure :meth:`Model.h` is called, which raises its usual error.
    """
    h = np.asarray(model.hamiltonian(k))
    n = model.nbands
    if h.shape != (k.shape[0], n, n) or h.dtype.kind not in "fc":
        return model.h(k)
    if not _hermitian_ok(np.ascontiguousarray(h, dtype=complex)):
        return model.h(k)
    return h


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


def _sweep_spec(sweeps: Sequence[Sweep]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten the sweeps for the kernel.

    ``ints[s]`` = (kind 0: T = 0 / 1: fold grid, first row in the flat partial, offset into ``fermi_all``,
    number of Fermi energies or grid nodes, offset into ``tables``, number of buckets, rows);
    ``floats[s]`` = (first energy, buckets per eV (T = 0) or grid step (T > 0), last energy).
    T = 0 bucket tables: ``table[b] = searchsorted(fermi, fermi[0] + b/scale)`` so a state's bin is found
    by a search between two table entries.
    """
    ints = np.zeros((len(sweeps), 7), dtype=np.int64)
    floats = np.zeros((len(sweeps), 3))
    fermis, tables = [], []
    row = foff = toff = 0
    for s, sw in enumerate(sweeps):
        if sw.grid is None:
            f = np.asarray(sw.fermi, dtype=float)
            nb = int(min(2 * len(f), 1 << 20)) if len(f) > 1 else 1
            scale = nb / (f[-1] - f[0]) if len(f) > 1 else 0.0
            edges = f[0] + np.arange(nb) / scale if len(f) > 1 else f[:1]
            table = np.append(np.searchsorted(f, edges, side="left"), len(f)).astype(np.int64)
            ints[s] = (0, row, foff, len(f), toff, nb, sw.nbins)
            floats[s] = (f[0], scale, f[-1])
            fermis.append(f)
            tables.append(table)
            foff += len(f)
            toff += len(table)
        else:
            ints[s] = (1, row, 0, len(sw.grid), 0, 0, sw.nbins)
            floats[s] = (sw.grid[0], sw.step, sw.grid[-1])
        row += sw.nbins
    fermi_all = np.concatenate(fermis) if fermis else np.zeros(1)
    table_all = np.concatenate(tables) if tables else np.zeros(1, dtype=np.int64)
    return ints, floats, fermi_all, table_all


def _ncompact(mode: int, dim: int) -> int:
    """Components the kernel accumulates: Ω^c (charge), Σ^{c,l} (proper) or the full (l, i, j) tensor."""
    nc = 3 if dim == 3 else 1
    return (nc, 3 * nc, 3 * dim * dim, 3 * dim * dim)[mode]


def _expand(mode: int, dim: int, part: np.ndarray) -> np.ndarray:
    """Compact partial sums → the component layout of :mod:`properspin.responses` (``ε_ijc`` contraction)."""
    if mode >= 2:
        return part
    rows, nc = part.shape[0], len(CYCLIC_PAIRS[dim])
    if mode == 0:  # charge: −ε_ijc Ω^c
        q = part.T.reshape(nc, 1, rows, 1)
        return -levi_civita_contract(q, dim)[0, :, :, :, 0].transpose(2, 0, 1).reshape(rows, dim * dim)
    q = part.reshape(rows, nc, 3).transpose(1, 2, 0)[..., None]  # proper: ε_ijc Σ^{c,l}
    return levi_civita_contract(q, dim)[..., 0].transpose(3, 0, 1, 2).reshape(rows, 3 * dim * dim)


# ------------------------------------------------------------------------------------------ compiled code
if njit is not None:
    _jit = njit(cache=True, fastmath=False, error_model="numpy")
    _jit_inline = njit(cache=True, fastmath=False, error_model="numpy", inline="always")

    @_jit
    def _hermitian_ok(h):
        """The test of :meth:`Model.h`: finite, and ``max|H − H†| ≤ 1e-9 (1 + max|H|)`` at every k."""
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
            tol = 1e-9 * (1.0 + np.sqrt(big2))
            if not ok or herm2 > tol * tol:
                return False
        return True

    @_jit
    def _product(a, b, out, n):
        """``out = a @ b`` (n × n): BLAS from ``_BLAS_MIN``, else a loop that skips zero entries of ``a``."""
        if n >= _BLAS_MIN:
            np.dot(a, b, out)
            return
        for i in range(n):
            for j in range(n):
                out[i, j] = 0.0
            for t in range(n):
                x = a[i, t]
                if x.real == 0.0 and x.imag == 0.0:
                    continue
                for j in range(n):
                    out[i, j] += x * b[t, j]

    @_jit
    def _kernel_n4(mode, energies, u, dh, apos, has_pos, curl, s_ptr, s_col, s_val, s_pair, w, tol, eta2,
                   sw_int, sw_flt, fermi_all, tables, partial, degflags, out):
        """:func:`_kloop` compiled for exactly 4 bands (constant loop bounds: about twice as fast)."""
        _kloop(mode, energies, u, dh, apos, has_pos, curl, s_ptr, s_col, s_val, s_pair, w, tol, eta2,
               sw_int, sw_flt, fermi_all, tables, partial, degflags, out, 4)

    @_jit
    def _kernel_any(mode, energies, u, dh, apos, has_pos, curl, s_ptr, s_col, s_val, s_pair, w, tol, eta2,
                    sw_int, sw_flt, fermi_all, tables, partial, degflags, out):
        """:func:`_kloop` for any band count."""
        _kloop(mode, energies, u, dh, apos, has_pos, curl, s_ptr, s_col, s_val, s_pair, w, tol, eta2,
               sw_int, sw_flt, fermi_all, tables, partial, degflags, out, energies.shape[1])

    @_jit_inline
    def _kloop(mode, energies, u, dh, apos, has_pos, curl, s_ptr, s_col, s_val, s_pair, w, tol, eta2,
               sw_int, sw_flt, fermi_all, tables, partial, degflags, out, n):
        """The fused loop over k; see the module docstring for the formulas.

        ``mode``: 0 charge, 1 proper_spin, 2 conventional_spin, 3 torque_dipole.  Adds each state into
        ``partial`` (compact components, see :func:`_ncompact`), sets ``out[0]`` to the status, adds the
        number of k-points with gauge-dependent degenerate pairs to ``out[1]`` and flags those pairs in
        ``degflags[m, n]`` (m < n).  Ω and Σ use only the upper triangle (m < n) of the gaps and of ``V``.
        """
        nk = energies.shape[0]
        dim = dh.shape[0]
        nc = 3 if dim == 3 else 1
        ca = np.array([1, 2, 0]) if dim == 3 else np.array([0])
        cb = np.array([2, 0, 1]) if dim == 3 else np.array([1])
        need_conv = mode == 2 or mode == 3
        blas = n >= _BLAS_MIN

        ud = np.empty((n, n), dtype=np.complex128)
        x = np.empty((n, n), dtype=np.complex128)
        pa = np.empty((n, n), dtype=np.complex128)
        y = np.empty((n, n), dtype=np.complex128)
        v = np.zeros((dim, n, n), dtype=np.complex128)
        yc = np.zeros((dim, n, n), dtype=np.complex128)  # ∂_i H U (or U V^i): the conventional term
        wsh = np.zeros((3, n, n), dtype=np.complex128)  # (s^l U)†
        wsh_rows = wsh.reshape((3 * n, n))
        svs = np.empty((dim, 3 * n, n), dtype=np.complex128)  # S^l V^i, rows l·n + r
        nh = s_pair.shape[1]
        pairs = need_conv and 2 * nh == n  # s^l = 1 ⊗ σ^l/2: half-size products
        lup = np.empty((n, nh), dtype=np.complex128)  # U_up† (BLAS)
        ldn = np.empty((n, nh), dtype=np.complex128)  # U_dn† (BLAS)
        # BLAS path: one product for all directions (stacked operands; small products are call-bound)
        ycols = np.empty((nh, 2 * n * dim), dtype=np.complex128)  # [Y^i_up | Y^i_dn] for i = 0, 1, 2
        yup = np.empty((nh, n * dim), dtype=np.complex128)  # [Y^i_up] for i = 0, 1, 2
        gq = np.empty((n, 2 * n * dim), dtype=np.complex128)  # [U_up† Y^i_up | U_up† Y^i_dn] per i
        gd = np.empty((n, n * dim), dtype=np.complex128)  # [U_dn† Y^i_up] per i; U_dn† Y_dn = V − U_up† Y_up
        xv = np.empty((dim * n, n), dtype=np.complex128)  # C_a = ∂_a H (+ i A^a) stacked by rows
        yv = np.empty((dim * n, n), dtype=np.complex128)  # C_a U stacked by rows
        yh = np.empty((n, dim * n), dtype=np.complex128)  # C_a U side by side
        ph = np.empty((n, dim * n), dtype=np.complex128)  # U† C_a U side by side
        vh = np.empty((n, dim * n), dtype=np.complex128)  # V^a side by side (with positions)
        ych = np.empty((n, dim * n), dtype=np.complex128)  # U V^a side by side
        svh = np.empty((3 * n, dim * n), dtype=np.complex128)  # (s^l U)† U V^i, general spin
        cv = np.empty((3 * n, n), dtype=np.complex128)  # curl of A^W stacked, and times U
        cvu = np.empty((3 * n, n), dtype=np.complex128)
        sd = np.zeros((3, n))
        g = np.zeros((n, n))  # 1/(Δ² + η²) (upper triangle), 0 when excluded: conventional term
        g0 = np.zeros((n, n))  # 1/Δ² (upper triangle), 0 when excluded: Ω and Σ
        qs = np.zeros((n, 3 * nc))  # Ω^c (mode 0) or Σ^{c,l} at 3c + l
        qc = np.zeros((n, 3 * dim * dim))  # conventional (l, i, j)
        nq = partial.shape[1]
        vals = np.empty(nq)
        herm_tol2 = _HERMITIAN_RTOL * _HERMITIAN_RTOL
        has_curl = mode == 0 and has_pos
        abar = np.zeros((dim, n, n), dtype=np.complex128)  # Ā^a = U† A^a U, for F^W
        nsw = sw_int.shape[0]
        ndeg = 0

        for k in range(nk):
            uk = u[k]
            if blas:
                for i in range(n):
                    for j in range(n):
                        ud[i, j] = np.conj(uk[j, i])
            for m in range(n):
                for j in range(m + 1, n):
                    d = energies[k, m] - energies[k, j]
                    if abs(d) < tol:
                        g0[m, j] = 0.0
                        g[m, j] = 0.0
                    else:
                        g0[m, j] = 1.0 / (d * d)
                        if need_conv:
                            g[m, j] = 1.0 / (d * d + eta2)

            # ---- velocity V^a = U† ∂_a H U + i(ε_m − ε_n) Ā^a with Ā^a = U† A^a U
            if blas:  # all directions in two products: [C_a]_a U, then U† [C_a U]_a
                for a in range(dim):
                    for i in range(n):
                        for j in range(n):
                            d = dh[a, k, i, j]
                            if has_pos:
                                p = apos[a, k, i, j]
                                d = complex(d.real - p.imag, d.imag + p.real)
                            xv[a * n + i, j] = d
                np.dot(xv, uk, yv)
                for a in range(dim):
                    for i in range(n):
                        for j in range(n):
                            yh[i, a * n + j] = yv[a * n + i, j]
                np.dot(ud, yh, ph)
            for a in range(dim):
                if has_pos:
                    # one rotation of C = ∂_a H + i A^a gives M = D + iĀ (D = U† ∂_a H U; D, Ā Hermitian):
                    # D_mc = (M_mc + conj(M_cm))/2, Ā_mc = (M_mc − conj(M_cm))/2i
                    ok = True
                    for i in range(n):  # A^W(k) Hermitian at every k (else the numpy path)
                        for j in range(i, n):
                            z = apos[a, k, i, j]
                            zt = apos[a, k, j, i]
                            dr = z.real - zt.real
                            di = z.imag + zt.imag
                            ok &= dr * dr + di * di <= herm_tol2 * (z.real * z.real + z.imag * z.imag + 1e-300)
                    if not ok:  # not Hermitian to round-off: check against the largest entry
                        big2 = 0.0
                        anti2 = 0.0
                        for i in range(n):
                            for j in range(i, n):
                                z = apos[a, k, i, j]
                                zz = z - np.conj(apos[a, k, j, i])
                                big2 = max(big2, z.real * z.real + z.imag * z.imag)
                                anti2 = max(anti2, zz.real * zz.real + zz.imag * zz.imag)
                        if not anti2 <= herm_tol2 * big2:
                            out[0] = _BAD_POSITION
                            return
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
                        for m in range(n):
                            for c in range(n):
                                pa[m, c] = 0.0
                        for i in range(n):
                            for m in range(n):
                                z = np.conj(u[k, i, m])
                                for c in range(n):
                                    pa[m, c] += z * y[i, c]
                    for m in range(n):
                        em = energies[k, m]
                        for c in range(m, n):
                            p = pa[m, c]
                            q = pa[c, m]  # M_mc + conj(M_cm) = 2 D_mc, M_mc − conj(M_cm) = 2i Ā_mc
                            f = 0.5 * (em - energies[k, c])
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
                        for i in range(n):
                            for c in range(n):
                                yc[a, i, c] = 0.0
                            for m in range(n):
                                z = uk[i, m]
                                for c in range(n):
                                    yc[a, i, c] += z * v[a, m, c]
                    continue
                ya = yc[a] if need_conv else y  # kept for the conventional term: S^l V^a = (s^l U)† Y^a
                if blas:
                    for m in range(n):
                        for c in range(n):
                            v[a, m, c] = ph[m, a * n + c]
                    continue
                if need_conv:  # Y = ∂_a H U, skipping zeros of ∂_a H (written out: the hot loop for small n)
                    for i in range(n):
                        for j in range(n):
                            ya[i, j] = 0.0
                        for t in range(n):
                            z = dh[a, k, i, t]
                            if z.real == 0.0 and z.imag == 0.0:
                                continue
                            for j in range(n):
                                ya[i, j] += z * u[k, t, j]
                else:  # as above without column 0, which only the diagonal V_00 needs
                    for i in range(n):
                        for j in range(1, n):
                            ya[i, j] = 0.0
                        for t in range(n):
                            z = dh[a, k, i, t]
                            if z.real == 0.0 and z.imag == 0.0:
                                continue
                            for j in range(1, n):
                                ya[i, j] += z * u[k, t, j]
                if need_conv:  # V = U† Y: upper triangle with diagonal, mirrored
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
                else:  # strict upper triangle only (Ω, Σ)
                    for m in range(n):
                        for c in range(m + 1, n):
                            v[a, m, c] = 0.0
                    for i in range(n):
                        for m in range(n):
                            z = np.conj(u[k, i, m])
                            for c in range(m + 1, n):
                                v[a, m, c] += z * ya[i, c]

            if blas and need_conv:  # Y^a side by side: U V^a with positions (one product), else ∂_a H U
                if has_pos:
                    np.dot(uk, vh, ych)
                else:
                    ych[:, :] = yh

            # ---- spin: s_nn (Eq. 2) from the sparse s; (s U)† for the conventional term
            if mode == 1 or mode == 3:  # s_mm = Σ_ij Re(s_ij conj(U_im) U_jm), each i ≤ j once (s Hermitian)
                for l in range(3):
                    for m in range(n):
                        sd[l, m] = 0.0
                    for i in range(n):
                        for t in range(s_ptr[l, i], s_ptr[l, i + 1]):
                            j = s_col[l, t]
                            if j < i:
                                continue
                            sr = s_val[l, t].real
                            si = s_val[l, t].imag
                            if j > i:
                                sr *= 2.0
                                si *= 2.0
                            for m in range(n):
                                a_ = uk[i, m]
                                b_ = uk[j, m]
                                pr = a_.real * b_.real + a_.imag * b_.imag  # conj(U_im) U_jm
                                pi = a_.real * b_.imag - a_.imag * b_.real
                                sd[l, m] += sr * pr - si * pi
            if pairs and blas:
                for o in range(nh):
                    iu = s_pair[0, o]
                    idn = s_pair[1, o]
                    for r in range(n):
                        lup[r, o] = np.conj(uk[iu, r])
                        ldn[r, o] = np.conj(uk[idn, r])
            elif need_conv and not pairs:  # wsh[l] = (s^l U)†
                for l in range(3):
                    for i in range(n):
                        for j in range(n):
                            wsh[l, j, i] = 0.0
                        for t in range(s_ptr[l, i], s_ptr[l, i + 1]):
                            sc = np.conj(s_val[l, t])
                            j0 = s_col[l, t]
                            for j in range(n):
                                wsh[l, j, i] += sc * np.conj(uk[j0, j])

            # ---- Ω and Σ (Eq. 2), one visit per pair m < j
            if mode != 2:
                qs[:, :] = 0.0
                for c in range(nc):
                    a = ca[c]
                    b = cb[c]
                    for m in range(n):
                        q0 = 0.0
                        q1 = 0.0
                        q2 = 0.0
                        for j in range(m + 1, n):
                            p = v[a, m, j]
                            r = v[b, m, j]
                            gg = -2.0 * (p.imag * r.real - p.real * r.imag) * g0[m, j]  # −2 Im(V^a_mj V^b_jm)/Δ²
                            if mode == 0:
                                q0 += gg
                                qs[j, c] -= gg
                            else:
                                q0 += gg * sd[0, j]
                                q1 += gg * sd[1, j]
                                q2 += gg * sd[2, j]
                                qs[j, 3 * c] -= gg * sd[0, m]
                                qs[j, 3 * c + 1] -= gg * sd[1, m]
                                qs[j, 3 * c + 2] -= gg * sd[2, m]
                        if mode == 0:
                            qs[m, c] += q0
                        else:
                            qs[m, 3 * c] += q0
                            qs[m, 3 * c + 1] += q1
                            qs[m, 3 * c + 2] += q2

            # ---- Wannier curvature (U† F^W_c U)_mm, F^W_c = ∂_a A_b − ∂_b A_a − i[A_a, A_b] (charge only)
            if has_curl:
                if blas:  # (∂_a A_b − ∂_b A_a) U for the three c in one product
                    for c in range(nc):
                        for i in range(n):
                            for j in range(n):
                                cv[c * n + i, j] = curl[c, k, i, j]
                    np.dot(cv[: nc * n], uk, cvu[: nc * n])
                for c in range(nc):
                    a = ca[c]
                    b = cb[c]
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
            if need_conv:
                qc[:, :] = 0.0
                if blas and pairs:  # the four U_σ† Y^i_σ' blocks for every i in one product
                    for o in range(nh):
                        iu = s_pair[0, o]
                        idn = s_pair[1, o]
                        for i in range(dim):
                            for m in range(n):
                                ycols[o, 2 * n * i + m] = ych[iu, i * n + m]
                                ycols[o, 2 * n * i + n + m] = ych[idn, i * n + m]
                                yup[o, i * n + m] = ych[iu, i * n + m]
                    np.dot(lup, ycols, gq)
                    np.dot(ldn, yup, gd)
                elif blas:  # S^l V^i = (s^l U)† Y^i for every l and i in one product
                    np.dot(wsh_rows, ych, svh)
                for i in range(dim):
                    # S^l V^i = (s^l U)† Y^i for the three l at once (rows l·n + r); A_rm = ½(sv_rm + conj(sv_mr))
                    sv = svs[i]
                    if pairs:  # U† s^l Y from the four U_σ† Y_σ' (s^x, s^y, s^z = σ/2 on the pairs)
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
                                    for o in range(nh):
                                        cu = np.conj(uk[s_pair[0, o], r])
                                        cd = np.conj(uk[s_pair[1, o], r])
                                        yu = yc[i, s_pair[0, o], m]
                                        yd = yc[i, s_pair[1, o], m]
                                        uu += cu * yu
                                        ud_ += cu * yd
                                        du += cd * yu
                                        dd += cd * yd
                                sv[r, m] = 0.5 * (ud_ + du)
                                sv[n + r, m] = complex(0.5 * (ud_.imag - du.imag), 0.5 * (du.real - ud_.real))
                                sv[2 * n + r, m] = 0.5 * (uu - dd)
                    elif blas:
                        for r in range(3 * n):
                            for m in range(n):
                                sv[r, m] = svh[r, i * n + m]
                    else:
                        for r in range(3 * n):
                            for m in range(n):
                                sv[r, m] = 0.0
                            for p in range(n):
                                z = wsh_rows[r, p]
                                for m in range(n):
                                    sv[r, m] += z * yc[i, p, m]
                # one visit per pair m < r: 2 Im(A_rm V^j_mr) g_mr with 2A_rm = p + conj(q), p = sv_rm, q = sv_mr
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

            # ---- degeneracy diagnostics (geometry.degenerate_contributions) for the s_nn responses
            if mode == 1 or mode == 3:
                bad = False
                for m in range(n):
                    for j in range(m + 1, n):
                        if not abs(energies[k, m] - energies[k, j]) < tol:
                            continue
                        split = 0.0
                        for l in range(3):
                            smj = 0.0j
                            for i in range(n):
                                for t in range(s_ptr[l, i], s_ptr[l, i + 1]):
                                    smj += np.conj(uk[i, m]) * s_val[l, t] * uk[s_col[l, t], j]
                            split = max(split, abs(smj) + abs(sd[l, m] - sd[l, j]))
                        if split > _SPLIT_TOL:
                            degflags[m, j] = True
                            bad = True
                if bad:
                    ndeg += 1

            # ---- per-state values × w_k into every sweep (Sweep.accumulate)
            wk = w[k]
            for m in range(n):
                if mode <= 1:
                    for c in range(nq):
                        vals[c] = qs[m, c] * wk
                elif mode == 2:
                    for c in range(nq):
                        vals[c] = qc[m, c] * wk
                else:  # torque dipole: ε_ijc Σ^{c,l} − conventional
                    for c in range(nq):
                        vals[c] = -qc[m, c]
                    for c in range(nc):
                        a = ca[c]
                        b = cb[c]
                        for l in range(3):
                            sig = qs[m, 3 * c + l]
                            iab = (l * dim + a) * dim + b
                            iba = (l * dim + b) * dim + a
                            vals[iab] = sig - qc[m, iab]
                            vals[iba] = -sig - qc[m, iba]
                    for c in range(nq):
                        vals[c] *= wk
                finite = True
                for c in range(nq):
                    finite &= vals[c] - vals[c] == 0.0
                if not finite:  # NaN/inf in ∂H, A or the gaps: let the numpy path say what it says
                    out[0] = _BAD_VALUES
                    return
                e = energies[k, m]
                for s in range(nsw):
                    if e > sw_flt[s, 2]:
                        continue
                    row0 = sw_int[s, 1]
                    if sw_int[s, 0] == 0:  # T = 0: row = number of Fermi energies below ε
                        r = row0
                        if e > sw_flt[s, 0]:
                            r += _bin_t0(fermi_all, sw_int[s, 2], sw_int[s, 3], tables, sw_int[s, 4],
                                         sw_int[s, 5], sw_flt[s, 1], e)
                        for c in range(nq):
                            partial[r, c] += vals[c]
                    else:  # T > 0: cloud-in-cell on the fold grid, row 0 below it
                        xg = (e - sw_flt[s, 0]) / sw_flt[s, 1]
                        if xg < 0.0:
                            for c in range(nq):
                                partial[row0, c] += vals[c]
                            continue
                        i0 = min(max(int(np.floor(xg)), 0), sw_int[s, 3] - 2)
                        tt = min(max(xg - i0, 0.0), 1.0)
                        r = row0 + i0 + 1
                        for c in range(nq):
                            partial[r, c] += (1.0 - tt) * vals[c]
                            partial[r + 1, c] += tt * vals[c]
        out[0] = _OK
        out[1] += ndeg

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
    _kernel_n4 = _kernel_any = _hermitian_ok = None
