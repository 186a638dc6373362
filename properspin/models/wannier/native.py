"""Readers of a native Wannier90 run's outputs: ``.chk``/``.chk.fmt``, ``.eig``, ``.mmn``, ``.spn`` (the ``.win``
input: :mod:`.win`; file access, tokens and Fortran records: :mod:`.native_io`; both re-exported here).

Every file may also be read ``bz2``-compressed (``seedname.mmn.bz2``).  The layouts are those Wannier90
writes (``w90chk2chk`` for the checkpoint, ``pw2wannier90`` for the others):

* ``.eig``: ``n k ε_nk`` (eV), bands fastest;
* ``.mmn``: header; ``num_bands num_kpts nntot``; per (k, neighbour) a line ``k k' G1 G2 G3`` then
  ``num_bands²`` lines ``Re Im`` of M_mn = <u_mk|u_n,k+b>, m fastest;
* ``.spn``: header; ``num_bands num_kpts``; per k the upper triangle (n ≤ m, m outer) of
  <ψ_nk|σ_a|ψ_mk> for a = x, y, z (Pauli matrices); formatted (one ``Re Im`` per line) or unformatted
  (one Fortran record per k);
* ``.chk``: unformatted Fortran records; ``.chk.fmt``: the same values as text (``w90chk2chk -export``).

Errors name the file and what is wrong (missing, truncated, a corrupt Fortran record marker, counts that
do not match).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .native_io import (  # noqa: F401 - find_file, optional_file, is_unformatted re-exported
    FortranRecords,
    PathLike,
    _floats,
    _read_text,
    _Tokens,
    find_file,
    is_unformatted,
    optional_file,
)
from .win import Win, read_win  # noqa: F401 - re-exported: the .win is part of a native run

Array = np.ndarray


# ---------------------------------------------------------------------------------------------- .chk
@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A Wannier90 checkpoint: disentanglement and rotation matrices of the run.

    Arrays are indexed in C order with the k-point first: ``u_matrix_opt[k, i, j]`` (num_bands ×
    num_wann, rows are bands of the outer window counted from its lowest band), ``u_matrix[k, i, j]``,
    ``lwindow[k, band]``, ``m_matrix[k, nn, i, j]``; lattices have the vectors as rows (Å, Å⁻¹);
    ``kpt_latt`` fractional; ``wannier_centres`` (num_wann, 3) in Å.
    """

    path: str
    header: str
    num_bands: int
    exclude_bands: tuple[int, ...]
    real_lattice: Array
    recip_lattice: Array
    mp_grid: tuple[int, int, int]
    kpt_latt: Array
    nntot: int
    num_wann: int
    checkpoint: str
    have_disentangled: bool
    omega_invariant: float | None
    lwindow: Array | None
    ndimwin: Array | None
    u_matrix_opt: Array | None
    u_matrix: Array
    m_matrix: Array
    wannier_centres: Array
    wannier_spreads: Array

    @property
    def num_kpts(self) -> int:
        return len(self.kpt_latt)

    def window_start(self) -> Array:
        """Index (from 0) of the lowest band of the outer window at each k (0 without disentanglement)."""
        if not self.have_disentangled:
            return np.zeros(self.num_kpts, dtype=int)
        return np.argmax(self.lwindow, axis=1)

    def v_matrix(self) -> list[Array]:
        """Per k the (ndimwin_k, num_wann) matrix U_opt U of disentanglement then rotation."""
        if not self.have_disentangled:
            return [u for u in self.u_matrix]
        return [self.u_matrix_opt[k, : self.ndimwin[k]] @ self.u_matrix[k] for k in range(self.num_kpts)]


def read_chk(path: PathLike) -> Checkpoint:
    """A checkpoint, formatted (``.chk.fmt``) or unformatted (``.chk``), optionally ``.bz2``."""
    path = Path(path)
    if is_unformatted(path):
        return _read_chk_unformatted(path)
    return _read_chk_formatted(path)


def _chk_checks(path: Path, nb: int, nk: int, nw: int, nntot: int, mp: Array) -> None:
    if nb < 1 or nw < 1 or nk < 1 or nntot < 1 or nw > nb:
        raise ValueError(f"{path}: impossible counts num_bands={nb}, num_wann={nw}, num_kpts={nk}, nntot={nntot}")
    if len(mp) != 3 or np.any(mp < 1) or int(np.prod(mp)) != nk:
        raise ValueError(f"{path}: mp_grid {list(mp)} does not hold num_kpts={nk} k-points")


def _read_chk_formatted(path: Path) -> Checkpoint:
    t = _Tokens(path)
    nb = t.int("num_bands")
    nex = t.int("num_exclude_bands")
    if nex < 0:
        raise ValueError(f"{path}: negative num_exclude_bands {nex}")
    excl = t.ints(nex, "exclude_bands")
    real = t.floats(9, "real_lattice").reshape(3, 3, order="F")
    recip = t.floats(9, "recip_lattice").reshape(3, 3, order="F")
    nk = t.int("num_kpts")
    mp = t.ints(3, "mp_grid")
    kpt = t.floats(3 * max(nk, 0), "kpt_latt").reshape(-1, 3)
    nntot = t.int("nntot")
    nw = t.int("num_wann")
    _chk_checks(path, nb, nk, nw, nntot, mp)
    label = t.take(1, "checkpoint")[0]
    dis = t.int("have_disentangled")
    if dis not in (0, 1):
        raise ValueError(f"{path}: have_disentangled must be 0 or 1, got {dis}")
    omega = lwin = ndim = uopt = None
    if dis:
        omega = float(t.floats(1, "omega_invariant")[0])
        lw = t.ints(nb * nk, "lwindow")
        if np.any((lw != 0) & (lw != 1)):
            raise ValueError(f"{path}: lwindow entries must be 0 or 1")
        lwin = lw.reshape(nk, nb).astype(bool)
        ndim = t.ints(nk, "ndimwin")
        uopt = t.complex(nb * nw * nk, "u_matrix_opt").reshape(nk, nw, nb).transpose(0, 2, 1)
    u = t.complex(nw * nw * nk, "u_matrix").reshape(nk, nw, nw).transpose(0, 2, 1)
    m = t.complex(nw * nw * nntot * nk, "m_matrix").reshape(nk, nntot, nw, nw).transpose(0, 1, 3, 2)
    centres = t.floats(3 * nw, "wannier_centres").reshape(nw, 3)
    spreads = t.floats(nw, "wannier_spreads")
    t.finish()
    return _checkpoint(path, t.header, nb, excl, real, recip, mp, kpt, nntot, nw, label, bool(dis), omega, lwin,
                       ndim, uopt, u, m, centres, spreads)


def _read_chk_unformatted(path: Path) -> Checkpoint:
    f = FortranRecords(path)
    header = f.string("header")
    nb = f.int("num_bands")
    nex = f.int("num_exclude_bands")
    if nex < 0:
        raise ValueError(f"{path}: negative num_exclude_bands {nex}")
    excl = f.array("i4", nex, "exclude_bands")
    real = f.array("f8", 9, "real_lattice").reshape(3, 3, order="F")
    recip = f.array("f8", 9, "recip_lattice").reshape(3, 3, order="F")
    nk = f.int("num_kpts")
    mp = f.array("i4", 3, "mp_grid")
    kpt = f.array("f8", 3 * max(nk, 0), "kpt_latt").reshape(-1, 3)
    nntot = f.int("nntot")
    nw = f.int("num_wann")
    _chk_checks(path, nb, nk, nw, nntot, mp)
    label = f.string("checkpoint")
    dis = f.array("i4", 1, "have_disentangled")[0] != 0
    omega = lwin = ndim = uopt = None
    if dis:
        omega = float(f.array("f8", 1, "omega_invariant")[0])
        lwin = (f.array("i4", nb * nk, "lwindow") != 0).reshape(nk, nb)
        ndim = f.array("i4", nk, "ndimwin").astype(int)
        uopt = f.array("c16", nb * nw * nk, "u_matrix_opt").reshape(nk, nw, nb).transpose(0, 2, 1)
    u = f.array("c16", nw * nw * nk, "u_matrix").reshape(nk, nw, nw).transpose(0, 2, 1)
    m = f.array("c16", nw * nw * nntot * nk, "m_matrix").reshape(nk, nntot, nw, nw).transpose(0, 1, 3, 2)
    centres = f.array("f8", 3 * nw, "wannier_centres").reshape(nw, 3)
    spreads = f.array("f8", nw, "wannier_spreads")
    f.finish()
    return _checkpoint(path, header, nb, excl, real, recip, mp, kpt, nntot, nw, label, bool(dis), omega, lwin,
                       ndim, uopt, u, m, centres, spreads)


def _checkpoint(path: Path, header, nb, excl, real, recip, mp, kpt, nntot, nw, label, dis, omega, lwin, ndim, uopt,
                u, m, centres, spreads) -> Checkpoint:
    if dis:
        if np.any(ndim < nw) or np.any(ndim > nb) or np.any(lwin.sum(axis=1) != ndim):
            raise ValueError(f"{path}: ndimwin must lie in [num_wann, num_bands] and count the lwindow bands")
        for k in range(len(lwin)):  # the outer window is a contiguous range of bands
            idx = np.flatnonzero(lwin[k])
            if len(idx) and idx[-1] - idx[0] + 1 != len(idx):
                raise ValueError(f"{path}: the outer window of k-point {k + 1} is not a contiguous band range")
    for what, arr in (("real_lattice", real), ("recip_lattice", recip), ("kpt_latt", kpt), ("m_matrix", m),
                      ("wannier_centres", centres), ("wannier_spreads", spreads)):
        if not np.all(np.isfinite(arr)):
            first = np.argwhere(~np.isfinite(np.asarray(arr)))[0]
            raise ValueError(f"{path}: {what} contains NaN or inf (first at index {tuple(int(i) + 1 for i in first)}, "
                             "counted from 1): a damaged checkpoint; rerun wannier90")
    if abs(np.linalg.det(real)) < 1e-12:
        raise ValueError(f"{path}: singular real_lattice")
    _check_unitary(path, u, "u_matrix", None)
    if dis:
        _check_unitary(path, uopt, "u_matrix_opt", ndim)
    return Checkpoint(str(path), header, int(nb), tuple(int(x) for x in excl), real, recip,
                      (int(mp[0]), int(mp[1]), int(mp[2])), kpt, int(nntot), int(nw), label, dis, omega, lwin,
                      ndim, uopt, u, m, centres, spreads)


#: Largest |U†U − 1| accepted for the gauge matrices of a checkpoint (a formatted .chk.fmt holds 16 digits).
UNITARY_TOL = 1e-6


def _check_unitary(path: Path, u: Array, what: str, ndim: Array | None) -> None:
    """The gauge matrices must have orthonormal columns (``u_matrix`` unitary; ``u_matrix_opt`` on its first
    ``ndimwin`` rows): a non-unitary or all-zero one gave σ_xy = 3e-12 instead of 1968 S/m silently."""
    for k in range(len(u)):
        m = u[k] if ndim is None else u[k, : int(ndim[k])]
        err = float(np.max(np.abs(m.conj().T @ m - np.eye(m.shape[1])), initial=0.0))
        if not err <= UNITARY_TOL:  # also NaN
            raise ValueError(f"{path}: {what} of k-point {k + 1} is not unitary (max |U†U − 1| = {err:.3g}, "
                             f"tolerance {UNITARY_TOL:g}): a damaged or hand-edited checkpoint; rerun wannier90")


def write_chk_unformatted(chk: Checkpoint, path: PathLike) -> None:
    """Write ``chk`` as Wannier90's unformatted ``.chk`` (what ``w90chk2chk.x -f2u`` makes of a ``.chk.fmt``)."""
    from scipy.io import FortranFile

    with FortranFile(path, "w") as f:
        f.write_record(np.array(chk.header.encode().ljust(33), dtype="S33"))
        f.write_record(np.array([chk.num_bands], dtype=np.int32))
        f.write_record(np.array([len(chk.exclude_bands)], dtype=np.int32))
        f.write_record(np.array(chk.exclude_bands, dtype=np.int32))
        f.write_record(chk.real_lattice.T.reshape(-1))
        f.write_record(chk.recip_lattice.T.reshape(-1))
        f.write_record(np.array([chk.num_kpts], dtype=np.int32))
        f.write_record(np.array(chk.mp_grid, dtype=np.int32))
        f.write_record(chk.kpt_latt.reshape(-1))
        f.write_record(np.array([chk.nntot], dtype=np.int32))
        f.write_record(np.array([chk.num_wann], dtype=np.int32))
        f.write_record(np.array(chk.checkpoint.encode().ljust(20), dtype="S20"))
        f.write_record(np.array([int(chk.have_disentangled)], dtype=np.int32))
        if chk.have_disentangled:
            f.write_record(np.array([chk.omega_invariant]))
            f.write_record(chk.lwindow.astype(np.int32).reshape(-1))
            f.write_record(np.asarray(chk.ndimwin, dtype=np.int32))
            f.write_record(chk.u_matrix_opt.transpose(0, 2, 1).reshape(-1))
        f.write_record(chk.u_matrix.transpose(0, 2, 1).reshape(-1))
        f.write_record(chk.m_matrix.transpose(0, 1, 3, 2).reshape(-1))
        f.write_record(chk.wannier_centres.reshape(-1))
        f.write_record(chk.wannier_spreads)


# ---------------------------------------------------------------------------------------------- .eig
def read_eig(path: PathLike, num_bands: int, num_kpts: int) -> Array:
    """Eigenvalues (num_kpts, num_bands) in eV from ``seedname.eig``."""
    path = Path(path)
    rows = [line.split() for line in _read_text(path).splitlines() if line.strip()]
    expected = num_bands * num_kpts
    if len(rows) != expected:
        own = _eig_shape(rows)
        if own is not None and own != (num_bands, num_kpts):  # complete, but of another run: say so
            raise ValueError(f"{path}: num_bands × num_kpts = {own[0]} × {own[1]} (its last line), but the checkpoint "
                             f"has {num_bands} × {num_kpts}: a file of another run (num_bands or the k-grid differ)")
        what = "truncated" if len(rows) < expected else "too long"
        raise ValueError(f"{path}: {what}: {len(rows)} lines, expected num_bands × num_kpts = {num_bands} × "
                         f"{num_kpts} = {expected} (a file of another run?)")
    if any(len(r) != 3 for r in rows):
        bad = next(i for i, r in enumerate(rows) if len(r) != 3)
        raise ValueError(f"{path}, line {bad + 1}: expected 'band k-point energy', got {' '.join(rows[bad])!r}")
    vals = _floats([x for r in rows for x in r], path, "eigenvalues", per_line=3).reshape(-1, 3)
    band = np.tile(np.arange(1, num_bands + 1), num_kpts)
    kpt = np.repeat(np.arange(1, num_kpts + 1), num_bands)
    if not (np.array_equal(vals[:, 0], band) and np.array_equal(vals[:, 1], kpt)):
        bad = int(np.flatnonzero((vals[:, 0] != band) | (vals[:, 1] != kpt))[0])
        raise ValueError(f"{path}, line {bad + 1}: band/k-point index {int(vals[bad, 0])} {int(vals[bad, 1])}, "
                         f"expected {band[bad]} {kpt[bad]}")
    eig = vals[:, 2].reshape(num_kpts, num_bands)
    drop = np.diff(eig, axis=1) < 0
    if drop.any():  # Wannier90 and the ab-initio codes write ascending energies; before: −6439 S/m silently
        k, b = (int(x) for x in np.argwhere(drop)[0])
        line = k * num_bands + b + 2
        raise ValueError(f"{path}, line {line}: energy {eig[k, b + 1]:.10g} eV of band {b + 2} at k-point {k + 1} "
                         f"is below band {b + 1} ({eig[k, b]:.10g} eV): the energies at each k-point must ascend")
    return eig


def _eig_shape(rows: list[list[str]]) -> tuple[int, int] | None:
    """(num_bands, num_kpts) of a complete ``.eig`` from its last line, or None if the lines do not add up."""
    try:
        nb, nk = int(rows[-1][0]), int(rows[-1][1])
    except (IndexError, ValueError):
        return None
    return (nb, nk) if nb > 0 and nk > 0 and nb * nk == len(rows) else None


# ---------------------------------------------------------------------------------------------- .mmn
@dataclass(frozen=True, eq=False)
class Overlaps:
    """``.mmn``: ``neighbours[k, j]`` = k' (from 0), ``gvec[k, j]`` the G of k + b = k' + G, ``m[k, j]`` (nb, nb)."""

    path: str
    header: str
    neighbours: Array
    gvec: Array
    m: Array

    @property
    def nntot(self) -> int:
        return self.neighbours.shape[1]


def read_mmn(path: PathLike) -> Overlaps:
    """Overlaps M_mn(k, b) = <u_mk|u_n,k+b> (num_kpts, nntot, num_bands, num_bands)."""
    path = Path(path)
    lines = _read_text(path).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise ValueError(f"{path}: truncated: no 'num_bands num_kpts nntot' line")
    try:
        nb, nk, nntot = (int(x) for x in lines[1].split())
    except ValueError:
        raise ValueError(f"{path}, line 2: expected 'num_bands num_kpts nntot', got {lines[1].strip()!r}") from None
    if min(nb, nk, nntot) < 1:
        raise ValueError(f"{path}, line 2: counts must be positive, got {lines[1].strip()!r}")
    block = 1 + nb * nb
    nblocks = nk * nntot
    if len(lines) != 2 + nblocks * block:
        what = "truncated" if len(lines) < 2 + nblocks * block else "too long"
        raise ValueError(f"{path}: {what}: {len(lines)} lines, expected {2 + nblocks * block} for "
                         f"{nk} k-points × {nntot} neighbours × ({nb}² + 1) lines")
    heads = lines[2::block]
    hrows = [h.split() for h in heads]
    if any(len(h) != 5 for h in hrows):
        bad = next(i for i, h in enumerate(hrows) if len(h) != 5)
        raise ValueError(f"{path}, line {2 + bad * block + 1}: expected 'k k+b G1 G2 G3', got {heads[bad].strip()!r}")
    try:
        head = np.array(hrows, dtype=int)
    except ValueError:
        raise ValueError(f"{path}: non-integer neighbour line (k k+b G1 G2 G3)") from None
    body = [ln for i, ln in enumerate(lines[2:]) if i % block]
    vals = _floats(" ".join(body).split(), path, "overlap matrices")
    if len(vals) != 2 * nblocks * nb * nb:
        raise ValueError(f"{path}: expected two numbers (Re Im) on every overlap line")
    m = (vals[0::2] + 1j * vals[1::2]).reshape(nblocks, nb, nb).transpose(0, 2, 1)  # file: m fastest
    kk = head[:, 0] - 1
    if not np.array_equal(kk, np.repeat(np.arange(nk), nntot)):
        raise ValueError(f"{path}: the overlaps are not ordered as {nntot} neighbours of k-point 1, then 2, ...")
    if np.any(head[:, 1] < 1) or np.any(head[:, 1] > nk):
        raise ValueError(f"{path}: neighbour k-point index out of range 1..{nk}")
    return Overlaps(str(path), lines[0].strip(), (head[:, 1] - 1).reshape(nk, nntot), head[:, 2:].reshape(nk, nntot, 3),
                    m.reshape(nk, nntot, nb, nb))


def mmn_counts(path: PathLike) -> tuple[int, int, int]:
    """(num_bands, num_kpts, nntot) from the second line of ``.mmn`` (for consistency checks)."""
    lines = _read_text(Path(path)).splitlines()
    try:
        nb, nk, nn = (int(x) for x in lines[1].split())
    except (ValueError, IndexError):
        raise ValueError(f"{path}, line 2: expected 'num_bands num_kpts nntot'") from None
    return nb, nk, nn


# ---------------------------------------------------------------------------------------------- .spn
def read_spn(path: PathLike, num_bands: int | None = None, num_kpts: int | None = None) -> Array:
    """Pauli matrices <ψ_nk|σ_a|ψ_mk> (num_kpts, 3, num_bands, num_bands); formatted or unformatted."""
    path = Path(path)
    if is_unformatted(path):
        f = FortranRecords(path)
        f.string("header")
        nb, nk = (int(x) for x in f.array("i4", 2, "num_bands num_kpts"))
        _spn_counts(path, nb, nk, num_bands, num_kpts)
        ntri = nb * (nb + 1) // 2
        tri = np.stack([f.array("c16", 3 * ntri, f"spin matrices of k-point {k + 1}") for k in range(nk)])
        f.finish()
    else:
        t = _Tokens(path)
        nb, nk = t.int("num_bands"), t.int("num_kpts")
        _spn_counts(path, nb, nk, num_bands, num_kpts)
        ntri = nb * (nb + 1) // 2
        tri = t.complex(3 * ntri * nk, "spin matrices").reshape(nk, 3 * ntri)
        t.finish()
    tri = tri.reshape(nk, ntri, 3)
    m_idx, n_idx = _upper_triangle(nb)
    out = np.zeros((nk, 3, nb, nb), dtype=complex)
    for a in range(3):
        out[:, a, n_idx, m_idx] = tri[:, :, a]
        out[:, a, m_idx, n_idx] = tri[:, :, a].conj()
    diag = np.abs(out.diagonal(axis1=2, axis2=3).imag).max(initial=0.0)
    if diag > 1e-6:
        raise ValueError(f"{path}: diagonal spin matrix elements are not real (max |Im| = {diag:.3g}): "
                         "corrupt or not a .spn file")
    return out


def _upper_triangle(nb: int) -> tuple[Array, Array]:
    """(m, n) with n ≤ m, m outer: the order of Wannier90's .spn."""
    m = np.concatenate([np.full(i + 1, i) for i in range(nb)])
    n = np.concatenate([np.arange(i + 1) for i in range(nb)])
    return m, n


def _spn_counts(path: Path, nb: int, nk: int, num_bands: int | None, num_kpts: int | None) -> None:
    if num_bands is not None and nb != num_bands:
        raise ValueError(f"{path}: num_bands = {nb}, but the run has {num_bands} (a .spn of another run?)")
    if num_kpts is not None and nk != num_kpts:
        raise ValueError(f"{path}: num_kpts = {nk}, but the run has {num_kpts} (a .spn of another run?)")
    if nb < 1 or nk < 1:
        raise ValueError(f"{path}: impossible counts num_bands={nb}, num_kpts={nk}")
