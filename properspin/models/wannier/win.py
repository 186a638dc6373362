"""The ``seedname.win`` input of a native Wannier90 run: keywords and blocks (:class:`Win`, :func:`read_win`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .native_io import PathLike, _floats, _read_text
from .textfile import BOHR_ANGSTROM

Array = np.ndarray


# ---------------------------------------------------------------------------------------------- .win
_TRUE = {"t", "true", ".true.", ".t."}
_FALSE = {"f", "false", ".false.", ".f."}


@dataclass(frozen=True)
class Win:
    """Keywords (lower-case names, raw string values) and blocks (lines) of ``seedname.win``."""

    path: str
    keywords: dict[str, str]
    blocks: dict[str, list[str]]

    def has(self, key: str) -> bool:
        return key in self.keywords

    def _error(self, key: str, expected: str) -> ValueError:
        return ValueError(f"{self.path}: {key} = {self.keywords[key]!r}: expected {expected}")

    def get_str(self, key: str, default: str | None = None) -> str | None:
        return self.keywords.get(key, default)

    def get_float(self, key: str, default: float | None = None) -> float | None:
        if key not in self.keywords:
            return default
        try:
            return float(self.keywords[key].split()[0].replace("d", "e").replace("D", "E"))
        except (ValueError, IndexError):
            raise self._error(key, "a number") from None

    def get_int(self, key: str, default: int | None = None) -> int | None:
        if key not in self.keywords:
            return default
        try:
            return int(self.keywords[key].split()[0])
        except (ValueError, IndexError):
            raise self._error(key, "an integer") from None

    def get_ints(self, key: str, count: int, default: Sequence[int] | None = None) -> tuple[int, ...] | None:
        """``count`` integers; a single integer is repeated (Wannier90's ``berry_kmesh = 10``)."""
        if key not in self.keywords:
            return None if default is None else tuple(default)
        try:
            vals = [int(x) for x in self.keywords[key].replace(",", " ").split()]
        except ValueError:
            raise self._error(key, f"{count} integers") from None
        if len(vals) == 1:
            vals = vals * count
        if len(vals) != count:
            raise self._error(key, f"{count} integers")
        return tuple(vals)

    def get_bool(self, key: str, default: bool | None = None) -> bool | None:
        if key not in self.keywords:
            return default
        v = self.keywords[key].split()[0].lower() if self.keywords[key].split() else ""
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise self._error(key, "a logical (true/false, T/F, .true./.false.)")

    def lattice(self) -> Array:
        """``unit_cell_cart`` rows in Å (``bohr`` converted with CODATA 2018)."""
        rows = self.blocks.get("unit_cell_cart")
        if rows is None:
            raise ValueError(f"{self.path}: no 'begin unit_cell_cart ... end unit_cell_cart' block")
        scale = 1.0
        if rows and rows[0].lower() in ("bohr", "ang", "angstrom"):
            scale = BOHR_ANGSTROM if rows[0].lower() == "bohr" else 1.0
            rows = rows[1:]
        vals = [r.split() for r in rows]
        if len(vals) != 3 or any(len(v) != 3 for v in vals):
            raise ValueError(f"{self.path}: unit_cell_cart must hold 3 lattice vectors of 3 numbers")
        return _floats([x for v in vals for x in v], Path(self.path), "unit_cell_cart").reshape(3, 3) * scale

    def kpoints(self) -> Array | None:
        """The ``kpoints`` block (fractional), or None."""
        rows = self.blocks.get("kpoints")
        if rows is None:
            return None
        vals = [r.split()[:3] for r in rows]
        if any(len(v) != 3 for v in vals):
            raise ValueError(f"{self.path}: every line of the kpoints block needs 3 numbers")
        return _floats([x for v in vals for x in v], Path(self.path), "kpoints").reshape(-1, 3)


def read_win(path: PathLike) -> Win:
    """Parse ``seedname.win`` (``key = value``, ``key : value`` or ``key value``; ``!``/``#`` comments)."""
    path = Path(path)
    keywords: dict[str, str] = {}
    blocks: dict[str, list[str]] = {}
    block: str | None = None
    for lineno, raw in enumerate(_read_text(path).splitlines(), start=1):
        line = re.split(r"[!#]", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        words = line.lower().split()
        if words[0] == "begin" and len(words) > 1:
            if block is not None:
                raise ValueError(f"{path}, line {lineno}: 'begin {words[1]}' inside block {block!r}")
            block = words[1]
            blocks[block] = []
            continue
        if words[0] == "end" and len(words) > 1:
            if block != words[1]:
                raise ValueError(f"{path}, line {lineno}: 'end {words[1]}' does not close block {block!r}")
            block = None
            continue
        if block is not None:
            blocks[block].append(line)
            continue
        match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:[=:]\s*|\s+)(.*)$", line)
        if not match:
            raise ValueError(f"{path}, line {lineno}: cannot read {line!r} (expected 'keyword = value')")
        key = match.group(1).lower()
        if key in keywords:
            raise ValueError(f"{path}, line {lineno}: keyword {key!r} given twice")
        keywords[key] = match.group(2).strip()
    if block is not None:
        raise ValueError(f"{path}: block {block!r} is not closed (no 'end {block}')")
    return Win(str(path), keywords, blocks)
