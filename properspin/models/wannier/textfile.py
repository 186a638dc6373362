"""Wannier90 text-file basics below every reader: a line tokenizer with clear errors (:class:`_Lines`), the
``unit_cell_cart`` lattice of ``seedname.win`` and the ``seedname_wsvec.dat`` table.

Imports nothing of properspin, so :mod:`.hamiltonian` (``with_wsvec``), :mod:`.native` and
:mod:`properspin.magnetic_group` read these files without an import circle through :mod:`.files`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
