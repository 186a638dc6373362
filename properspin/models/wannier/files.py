"""Wannier90 text files: ``seedname_hr.dat``, ``seedname_tb.dat``, ``_wsvec.dat``, the lattice of ``.win``.

The file's ``m n`` columns are row and column of H_R (Wannier90 writes ``j i ham_r(j, i, irpt)``).
:func:`wannier90` reads a file and returns the :class:`~properspin.Model`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...model import Model
from .hamiltonian import WannierHamiltonian, _check_hermitian
from .symmetrize import symmetrize_hamiltonian
from .textfile import BOHR_ANGSTROM, PathLike, _Lines, read_win_lattice, read_wsvec  # noqa: F401 - re-exported

Array = np.ndarray

# ---------------------------------------------------------------------------------------------- reading
def _scatter(lines: _Lines, block: Array, n: int, first: int, what: str, offset: int = 0) -> Array:
    """Place the values of one R block (columns m, n, values...; rows ``offset``... of the last table) into
    (n, n, ncomplex); an error names the offending line (``first``: the block's first line, if unknown)."""
    mn = lines.int_columns(block, slice(0, 2), first, f"orbital index ({what})", offset) - 1
    out_of_range = np.flatnonzero(np.any((mn < 0) | (mn >= n), axis=1))
    if len(out_of_range):
        raise lines.error(f"orbital index out of range 1..{n} ({what})", lines.line_of(offset + int(out_of_range[0]),
                                                                                      first))
    flat = mn[:, 0] * n + mn[:, 1]
    counts = np.unique(flat, return_counts=True)[1]
    if np.any(counts != 1) or len(counts) != n * n:
        seen: set[int] = set()
        row = next((i for i, f in enumerate(flat.tolist()) if f in seen or seen.add(f)), 0)
        raise lines.error(f"each (m, n) must appear exactly once per R ({what}): (m, n) = "
                          f"({mn[row, 0] + 1}, {mn[row, 1] + 1}) repeats", lines.line_of(offset + row, first))
    vals = block[:, 2::2] + 1j * block[:, 3::2]
    out = np.zeros((n * n, vals.shape[1]), dtype=complex)
    out[flat] = vals
    return out.reshape(n, n, -1)


def read_hr(path: PathLike, lattice: Array | None = None) -> WannierHamiltonian:
    """Read ``seedname_hr.dat``; the lattice (3×3 rows, Å) comes from ``lattice`` or ``seedname.win``."""
    path = Path(path)
    if lattice is None:
        win = path.with_name(_seedname(path) + ".win")
        if not win.exists():
            raise ValueError(
                f"{path}: an _hr.dat file has no lattice vectors; pass lattice= (3x3 rows, Å) "
                f"or put {win.name} (with a unit_cell_cart block) beside it"
            )
        lattice = read_win_lattice(win)
    lattice = np.asarray(lattice, dtype=float)
    if lattice.shape != (3, 3):
        raise ValueError(f"{path}: lattice must be a (3, 3) array of row vectors in Å, got {lattice.shape}")
    lines = _Lines(path)
    n, nr, deg = lines.counts()
    start, nn = lines.i, n * n
    left = len(lines.items) - start
    if left != nr * nn and left % nr == 0 and round((left // nr) ** 0.5) ** 2 == left // nr:
        raise lines.error(f"{left} matrix-element lines fit nrpts = {nr} blocks of {round((left // nr) ** 0.5)}² "
                          f"elements, but the header says num_wann = {n} (needs {nr * nn}): num_wann is wrong "
                          "(not a truncated file)", lines.items[0][0])
    data = lines.table(nr * nn, 7, "R1 R2 R3 m n ReH ImH")
    lines.finish()
    rall = lines.int_columns(data, slice(0, 3), lines.lineno(start), "R vector").reshape(nr, nn, 3)
    changed = np.argwhere(np.any(rall != rall[:, :1], axis=2))
    if len(changed):
        r, j = changed[0]
        raise lines.error(f"R vector changes inside the block of R number {r + 1} (wrong num_wann?)",
                          lines.lineno(start + r * nn + j))
    ham = np.empty((nr, n, n), dtype=complex)
    for r in range(nr):
        block = data[r * nn : (r + 1) * nn, 3:]
        ham[r] = _scatter(lines, block, n, lines.lineno(start + r * nn), "H", r * nn)[..., 0]
    wh = WannierHamiltonian(lattice, rall[:, 0], deg, ham, None, lines.header, str(path))
    _check_hermitian(wh)
    return wh


def read_tb(path: PathLike) -> WannierHamiltonian:
    """Read ``seedname_tb.dat`` (lattice, H_R and, if present, the position blocks r_R)."""
    lines = _Lines(path)
    lattice = lines.table(3, 3, "lattice vector (Å)")
    n, nr, deg = lines.counts()
    rvec = np.empty((nr, 3), dtype=int)
    ham = np.empty((nr, n, n), dtype=complex)
    for r in range(nr):
        lineno = lines.lineno()
        rvec[r] = lines.int_columns(lines.table(1, 3, "R vector"), slice(0, 3), lineno, "R vector")[0]
        ham[r] = _scatter(lines, lines.table(n * n, 4, "m n ReH ImH"), n, lineno, "H")[..., 0]
    pos = None
    if lines.i < len(lines.items):  # position blocks, in any R order
        pos = np.empty((nr, 3, n, n), dtype=complex)
        index = {tuple(v): i for i, v in enumerate(rvec.tolist())}
        seen: set[tuple[int, ...]] = set()
        for _ in range(nr):
            lineno = lines.lineno()
            rv = tuple(lines.int_columns(lines.table(1, 3, "R vector"), slice(0, 3), lineno, "R")[0].tolist())
            block = lines.table(n * n, 8, "m n Rex Imx Rey Imy Rez Imz")
            if rv not in index or rv in seen:
                raise lines.error(f"position block R = {rv} is not an H block or repeats", lineno)
            seen.add(rv)
            pos[index[rv]] = _scatter(lines, block, n, lineno, "r").transpose(2, 0, 1)
    lines.finish()
    wh = WannierHamiltonian(lattice, rvec, deg, ham, pos, lines.header, str(path))
    _check_hermitian(wh)
    return wh


# ---------------------------------------------------------------------------------------------- writing
def _fmt_complex(z: Array) -> Array:
    return np.stack([z.real, z.imag], axis=-1)


def _deg_lines(deg: Array) -> str:
    return "".join(
        "".join(f"{d:5d}" for d in deg[i : i + 15]) + "\n" for i in range(0, len(deg), 15)
    )


def _mn_columns(n: int) -> tuple[Array, Array]:
    """Row index m (fastest) and column index n, 1-based, in Wannier90 order."""
    return np.tile(np.arange(1, n + 1), n), np.repeat(np.arange(1, n + 1), n)


def write_hr(path: PathLike, wh: WannierHamiltonian, header: str | None = None) -> None:
    """Write ``wh`` as ``seedname_hr.dat`` (full double precision; readable by Wannier90 tools)."""
    n, nr = wh.num_wann, wh.nrpts
    m, k = _mn_columns(n)
    with open(path, "w") as f:
        f.write((header or wh.header or "written by properspin").strip() + "\n")
        f.write(f"{n:12d}\n{nr:12d}\n" + _deg_lines(wh.deg))
        for r in range(nr):
            vals = _fmt_complex(wh.ham[r].T.reshape(-1))  # m fastest
            cols = np.column_stack([np.tile(wh.rvec[r], (n * n, 1)), m, k, vals])
            np.savetxt(f, cols, fmt=["%5d"] * 5 + ["%25.16e"] * 2, delimiter="")


def write_tb(path: PathLike, wh: WannierHamiltonian, header: str | None = None) -> None:
    """Write ``wh`` as ``seedname_tb.dat`` (lattice, H_R, then positions r_R; needs ``wh.pos``)."""
    if wh.pos is None:
        raise ValueError("write_tb needs position matrix elements (wh.pos is None); use write_hr")
    n, nr = wh.num_wann, wh.nrpts
    m, k = _mn_columns(n)
    with open(path, "w") as f:
        f.write((header or wh.header or "written by properspin").strip() + "\n")
        np.savetxt(f, wh.lattice, fmt="%25.16e", delimiter="")
        f.write(f"{n:12d}\n{nr:12d}\n" + _deg_lines(wh.deg))
        for r in range(nr):
            f.write("\n" + "".join(f"{x:5d}" for x in wh.rvec[r]) + "\n")
            vals = _fmt_complex(wh.ham[r].T.reshape(-1))
            np.savetxt(f, np.column_stack([m, k, vals]), fmt=["%5d"] * 2 + ["%25.16e"] * 2, delimiter="")
        for r in range(nr):
            f.write("\n" + "".join(f"{x:5d}" for x in wh.rvec[r]) + "\n")
            vals = _fmt_complex(wh.pos[r].transpose(0, 2, 1).reshape(3, -1).T).reshape(n * n, 6)
            np.savetxt(f, np.column_stack([m, k, vals]), fmt=["%5d"] * 2 + ["%25.16e"] * 6, delimiter="")


# ---------------------------------------------------------------------------------------------- entry
def _seedname(path: Path) -> str:
    for suffix in ("_hr.dat", "_tb.dat"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def _kind(path: Path) -> str:
    if path.name.endswith("_tb.dat"):
        return "tb"
    if path.name.endswith("_hr.dat"):
        return "hr"
    with open(path) as f:
        f.readline()
        second = f.readline().split()
    if len(second) == 3:
        return "tb"
    if len(second) == 1:
        return "hr"
    raise ValueError(f"{path}: neither a Wannier90 _hr.dat nor a _tb.dat file (line 2: {' '.join(second)!r})")


def read_wannier(path: PathLike, lattice: Array | None = None) -> WannierHamiltonian:
    """Read an ``_hr.dat`` or ``_tb.dat`` file (detected by name, else by content)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such Wannier90 file: {path}")
    if _kind(path) == "hr":
        return read_hr(path, lattice)
    wh = read_tb(path)
    if lattice is not None and not np.allclose(np.asarray(lattice, dtype=float), wh.lattice, atol=1e-6):
        raise ValueError(f"{path}: lattice= differs from the lattice vectors stored in the _tb.dat file")
    return wh


def wannier90(
    path: PathLike,
    lattice: Array | None = None,
    spinor_order: str | None = None,
    spin: Array | None = None,
    use_position: bool = True,
    wsvec: PathLike | bool | None = None,
    dim: int = 3,
    symmetrize: PathLike | bool = False,
    magnetization: Array | None = None,
    wannier_gauge: str = "auto",
) -> Model:
    """A :class:`Model` from a Wannier90 ``seedname_hr.dat`` or ``seedname_tb.dat``.

    lattice
        (3, 3) rows in Å; needed for ``_hr.dat`` unless ``seedname.win`` lies beside it.
    spinor_order
        ``"interleaved"`` (↑↓ per orbital: Quantum ESPRESSO, recent VASP) or ``"block"`` (all ↑ then
        all ↓: older VASP) gives spin = 1_orb ⊗ σ/2; ``spin`` a user (3, n, n) array instead; neither:
        a charge-only model (``spin`` None).
    use_position
        With a ``_tb.dat``: ``position(k)`` = A^W(k) from the stored <0m|r|Rn>; False (or ``_hr.dat``):
        None, the tight-binding approximation.
    wsvec
        ``seedname_wsvec.dat`` path (True: the one beside ``path``) for ``use_ws_distance`` replicas.
    dim
        2 (or 1) keeps only in-plane k for a layer model whose R vectors all lie in the plane.
    symmetrize, magnetization, wannier_gauge
        A ``.win`` (True: ``seedname.win`` beside ``path``) with ``unit_cell_cart``, the atoms, ``projections``
        and ``spinors``: H(R) and r(R) are averaged over its magnetic space group
        (:func:`~.symmetrize.symmetrize_hamiltonian`; report in ``model.info["symmetrization"]``).
    """
    path = Path(path)
    wh = read_wannier(path, lattice)
    if wsvec is True:
        wsvec = path.with_name(_seedname(path) + "_wsvec.dat")
    if wsvec is not None and wsvec is not False:
        wh = wh.with_wsvec(wsvec)
    info = None
    if symmetrize is not False:
        win = path.with_name(_seedname(path) + ".win") if symmetrize is True else Path(symmetrize)
        wh, report = symmetrize_hamiltonian(wh, win, spinor_order, magnetization, wannier_gauge=wannier_gauge)
        info = {"symmetrization": report}
    return wh.to_model(
        spinor_order=spinor_order,
        spin=spin,
        use_position=use_position,
        dim=dim,
        name=f"wannier90:{_seedname(path)}",
        parameters={"file": str(path), "wsvec": None if wsvec in (None, False) else str(wsvec),
                    **({"symmetrize": info["symmetrization"]["win"]} if info else {})},
        **({"info": info} if info else {}),
    )
