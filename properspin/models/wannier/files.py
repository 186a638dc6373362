"""Wannier90 text files: ``seedname_hr.dat``, ``seedname_tb.dat``, ``_wsvec.dat``, the lattice of ``.win``.

The file's ``m n`` columns are row and column of H_R (Wannier90 writes ``j i ham_r(j, i, irpt)``).
:func:`wannier90` reads a file and returns the :class:`~properspin.Model`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...model import Model
from .hamiltonian import WannierHamiltonian, _check_hermitian

Array = np.ndarray
PathLike = str | Path

#: Bohr radius in Å (CODATA 2018), for ``bohr`` units in a ``.win`` file.
BOHR_ANGSTROM = 0.529177210903


# ---------------------------------------------------------------------------------------------- reading
class _Lines:
    """Non-blank lines of a text file with their line numbers, for parsing with clear errors."""

    def __init__(self, path: PathLike) -> None:
        self.path = str(path)
        try:
            text = Path(path).read_text()
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text file") from None
        raw = text.splitlines()
        self.header = raw[0].strip() if raw else ""
        self.items = [(i + 1, s) for i, s in enumerate(raw) if i > 0 and s.strip()]
        self.i = 0

    def error(self, msg: str, lineno: int | None = None) -> ValueError:
        where = f"{self.path}, line {lineno}" if lineno else self.path
        return ValueError(f"{where}: {msg}")

    def lineno(self, index: int | None = None) -> int:
        """Line number of item ``index`` (default: the next one; the last line at end of file)."""
        index = self.i if index is None else index
        if not self.items:
            return 1
        return self.items[min(index, len(self.items) - 1)][0]

    def take(self, count: int, what: str) -> list[tuple[int, str]]:
        if self.i + count > len(self.items):
            raise self.error(f"unexpected end of file (after line {self.lineno(len(self.items))}) "
                             f"while reading {what}")
        out = self.items[self.i : self.i + count]
        self.i += count
        return out

    def table(self, nlines: int, ncols: int, what: str) -> Array:
        """Next ``nlines`` lines of exactly ``ncols`` numbers each, as a float array."""
        items = self.take(nlines, what)
        self.rows = [lineno for lineno, _ in items]  # line numbers of this table's rows, for errors
        rows = [s.split() for _, s in items]
        for (lineno, s), row in zip(items, rows, strict=True):
            if len(row) != ncols:
                raise self.error(f"expected {ncols} numbers ({what}), got {s.strip()!r}", lineno)
        try:
            out = np.array(rows, dtype=float).reshape(nlines, ncols)
            if not np.all(np.isfinite(out)):
                bad = int(np.argwhere(~np.all(np.isfinite(out), axis=1))[0, 0])
                raise self.error(f"NaN or inf ({what}): {items[bad][1].strip()!r}", items[bad][0])
            return out
        except ValueError as exc:
            if str(exc).startswith(str(self.path)):
                raise
            for (lineno, s), row in zip(items, rows, strict=True):
                try:
                    [float(x) for x in row]
                except ValueError:
                    raise self.error(f"non-numeric entry ({what}): {s.strip()!r}", lineno) from None
            raise

    def ints(self, count: int, what: str) -> Array:
        """The next ``count`` integers, possibly spread over several lines."""
        vals: list[int] = []
        while len(vals) < count:
            ((lineno, s),) = self.take(1, what)
            try:
                vals += [int(x) for x in s.split()]
            except ValueError:
                raise self.error(f"expected integers ({what}), got {s.strip()!r}", lineno) from None
            if len(vals) > count:
                raise self.error(f"too many integers ({what}): expected {count}", lineno)
        return np.array(vals, dtype=int)

    def line_of(self, row: int, fallback: int) -> int:
        """Line number of row ``row`` of the last :meth:`table` (``fallback`` if unknown)."""
        rows = getattr(self, "rows", None)
        return rows[row] if rows and 0 <= row < len(rows) else fallback

    def int_columns(self, block: Array, cols: slice, lineno: int, what: str, offset: int = 0) -> Array:
        """Integer columns of ``block`` (rows ``offset``... of the last table); an error names the bad line."""
        vals = block[:, cols]
        bad = np.flatnonzero(np.any(vals != np.round(vals), axis=1))
        if len(bad):
            raise self.error(f"non-integer {what}", self.line_of(offset + int(bad[0]), lineno))
        return vals.astype(int)

    def finish(self) -> None:
        if self.i < len(self.items):
            lineno, s = self.items[self.i]
            raise self.error(f"unexpected extra data {s.strip()[:40]!r} (wrong num_wann or nrpts?)", lineno)

    def counts(self) -> tuple[int, int, Array]:
        """num_wann, nrpts and the degeneracies."""
        n = int(self.ints(1, "num_wann")[0])
        nr = int(self.ints(1, "nrpts")[0])
        if n < 1 or nr < 1:
            raise self.error(f"num_wann and nrpts must be positive, got {n}, {nr}")
        deg = self.ints(nr, "degeneracies")
        if np.any(deg < 1):
            raise self.error("degeneracies must be positive integers")
        return n, nr, deg


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


def read_win_lattice(path: PathLike) -> Array:
    """Lattice vectors (3×3 rows, Å) from the ``unit_cell_cart`` block of ``seedname.win``."""
    rows: list[tuple[int, str]] = []
    inside = False
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        s = raw.split("!")[0].split("#")[0].strip()
        key = " ".join(s.lower().split())
        if key == "begin unit_cell_cart":
            inside = True
        elif key == "end unit_cell_cart":
            break
        elif inside and s:
            rows.append((lineno, s))
    else:
        raise ValueError(f"{path}: no complete 'begin unit_cell_cart ... end unit_cell_cart' block")
    scale = 1.0
    if rows and rows[0][1].lower() in ("bohr", "ang", "angstrom"):
        scale = BOHR_ANGSTROM if rows[0][1].lower() == "bohr" else 1.0
        rows = rows[1:]
    if len(rows) != 3:
        raise ValueError(f"{path}: unit_cell_cart must hold 3 lattice vectors, found {len(rows)} lines")
    out = []
    for lineno, s in rows:
        try:
            vec = [float(x) for x in s.split()]
        except ValueError:
            raise ValueError(f"{path}, line {lineno}: non-numeric lattice vector {s!r}") from None
        if len(vec) != 3:
            raise ValueError(f"{path}, line {lineno}: a lattice vector needs 3 numbers, got {s!r}")
        out.append(vec)
    return np.array(out) * scale


def read_wsvec(path: PathLike) -> dict[tuple[int, int, int, int, int], Array]:
    """``seedname_wsvec.dat``: {(R1, R2, R3, m, n): (N_T, 3) integer shifts T} (m, n from 1)."""
    lines = _Lines(path)
    table: dict[tuple[int, int, int, int, int], Array] = {}
    while lines.i < len(lines.items):
        lineno = lines.items[lines.i][0]
        key = lines.ints(5, "R1 R2 R3 m n")
        count = int(lines.ints(1, "number of shifts")[0])
        if count < 1:
            raise lines.error("number of shifts must be positive", lineno)
        table[tuple(int(x) for x in key)] = lines.ints(3 * count, "shift T").reshape(count, 3)
    return table


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
        from .symmetrize import symmetrize_hamiltonian

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
