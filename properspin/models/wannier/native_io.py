"""File access for a native Wannier90 run: finding a file (also ``bz2``-compressed), reading its bytes or
text, numeric tokens with clear errors, and Fortran unformatted records (with their markers checked).

The layer below the ``.win`` parser (:mod:`.win`) and the output readers (:mod:`.native`).
"""

from __future__ import annotations

import bz2
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

Array = np.ndarray
PathLike = str | Path


# ---------------------------------------------------------------------------------------------- files
def find_file(seedname: PathLike, suffix: str, what: str = "") -> Path:
    """``seedname + suffix`` or its ``.bz2``; FileNotFoundError naming both when neither exists."""
    base = Path(str(seedname) + suffix)
    for cand in (base, Path(str(base) + ".bz2")):
        if cand.is_file():
            return cand
    need = f" ({what})" if what else ""
    raise FileNotFoundError(f"{base}: no such file (nor {base.name}.bz2){need}")


def optional_file(seedname: PathLike, suffix: str) -> Path | None:
    try:
        return find_file(seedname, suffix)
    except FileNotFoundError:
        return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".bz2":
            with bz2.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except OSError as err:  # bz2 errors are OSError
        raise ValueError(f"{path}: cannot be read ({err})") from None
    except EOFError:  # a .bz2 cut short
        raise ValueError(f"{path}: truncated: the compressed stream ends before its end marker") from None


def _read_text(path: Path) -> str:
    data = _read_bytes(path)
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (an unformatted file where a formatted one was expected?)") \
            from None


def _floats(tokens: Sequence[str], path: Path, what: str, per_line: int | None = None) -> Array:
    """Numbers from Fortran tokens (``1.0D0``); a non-numeric or non-finite one is an error naming ``what`` and,
    with ``per_line`` (tokens per line after the header), its line."""
    try:
        out = np.array([t.replace("D", "E").replace("d", "e") for t in tokens], dtype=float)
    except ValueError:
        bad = next(t for t in tokens if not _is_float(t))
        raise ValueError(f"{path}: non-numeric entry {bad!r} while reading {what}") from None
    if not np.all(np.isfinite(out)):
        i = int(np.argwhere(~np.isfinite(out))[0, 0])
        where = f", line {i // per_line + 1}" if per_line else f" (value {i + 1} of {what})"
        raise ValueError(f"{path}{where}: {tokens[i]!r} is NaN or inf while reading {what}")
    return out


def _is_float(token: str) -> bool:
    try:
        float(token.replace("D", "E").replace("d", "e"))
        return True
    except ValueError:
        return False


class _Tokens:
    """Whitespace-separated tokens of a formatted file after its first (comment) line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = _read_text(path)
        first, _, rest = text.partition("\n")
        self.header = first.strip()
        self.tokens = rest.split()
        self.i = 0

    def take(self, count: int, what: str) -> list[str]:
        if self.i + count > len(self.tokens):
            raise ValueError(f"{self.path}: truncated: the file ends while reading {what} "
                             f"(needs {count} values, {len(self.tokens) - self.i} left)")
        out = self.tokens[self.i : self.i + count]
        self.i += count
        return out

    def ints(self, count: int, what: str) -> Array:
        vals = self.take(count, what)
        try:
            return np.array([int(v) for v in vals], dtype=int)
        except ValueError:
            raise ValueError(f"{self.path}: expected integers for {what}, got {' '.join(vals[:6])!r}") from None

    def int(self, what: str) -> int:
        return int(self.ints(1, what)[0])

    def floats(self, count: int, what: str) -> Array:
        return _floats(self.take(count, what), self.path, what)

    def complex(self, count: int, what: str) -> Array:
        v = self.floats(2 * count, what)
        return v[0::2] + 1j * v[1::2]

    def finish(self) -> None:
        if self.i < len(self.tokens):
            raise ValueError(f"{self.path}: unexpected extra data after the last expected value "
                             f"({len(self.tokens) - self.i} values; wrong num_bands, num_wann or num_kpts?)")


class FortranRecords:
    """Sequential unformatted Fortran records ``[n][n bytes][n]`` (4-byte markers), checked as read."""

    def __init__(self, path: Path, data: bytes | None = None) -> None:
        self.path = path
        self.data = _read_bytes(path) if data is None else data
        self.pos = 0
        self.count = 0
        self.endian = "<"
        if len(self.data) >= 4 and struct.unpack("<i", self.data[:4])[0] > len(self.data):
            big = struct.unpack(">i", self.data[:4])[0]
            if 0 <= big <= len(self.data):
                self.endian = ">"

    def record(self, what: str) -> bytes:
        """The payload of the next record; ValueError on a truncated file or mismatched markers."""
        self.count += 1
        where = f"{self.path}: record {self.count} ({what})"
        if self.pos + 4 > len(self.data):
            raise ValueError(f"{where}: truncated: the file ends before this record")
        (n,) = struct.unpack(self.endian + "i", self.data[self.pos : self.pos + 4])
        if n < 0 or self.pos + 8 + n > len(self.data):
            if n < 0:
                raise ValueError(f"{where}: corrupt record marker {n} (not an unformatted Fortran file?)")
            raise ValueError(f"{where}: truncated: the record marker announces {n} bytes but only "
                             f"{max(0, len(self.data) - self.pos - 8)} remain")
        payload = self.data[self.pos + 4 : self.pos + 4 + n]
        (end,) = struct.unpack(self.endian + "i", self.data[self.pos + 4 + n : self.pos + 8 + n])
        if end != n:
            raise ValueError(f"{where}: corrupt record markers: leading {n}, trailing {end} bytes")
        self.pos += 8 + n
        return payload

    def array(self, dtype: str, count: int | None, what: str) -> Array:
        payload = self.record(what)
        dt = np.dtype(dtype).newbyteorder(self.endian)
        if count is not None and len(payload) != count * dt.itemsize:
            raise ValueError(f"{self.path}: record {self.count} ({what}): {len(payload)} bytes, expected "
                             f"{count * dt.itemsize} ({count} × {dt.name}); a file of another run?")
        if len(payload) % dt.itemsize:
            raise ValueError(f"{self.path}: record {self.count} ({what}): {len(payload)} bytes is not a "
                             f"whole number of {dt.name}")
        out = np.frombuffer(payload, dtype=dt).astype(dt.newbyteorder("="))
        if out.dtype.kind in "fc" and not np.all(np.isfinite(out)):
            i = int(np.argwhere(~np.isfinite(out))[0, 0])
            raise ValueError(f"{self.path}: record {self.count} ({what}): value {i + 1} is NaN or inf")
        return out

    def int(self, what: str) -> int:
        return int(self.array("i4", 1, what)[0])

    def string(self, what: str) -> str:
        return self.record(what).decode(errors="replace").strip()

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise ValueError(f"{self.path}: {len(self.data) - self.pos} unexpected bytes after the last record "
                             f"(record {self.count})")


def is_unformatted(path: Path) -> bool:
    """True for a binary (unformatted Fortran) file: a text file has no NUL byte in its first 4 KiB."""
    try:
        with (bz2.open(path, "rb") if path.suffix == ".bz2" else path.open("rb")) as f:
            head = f.read(4096)
    except OSError as err:
        raise ValueError(f"{path}: cannot be read ({err})") from None
    except EOFError:
        raise ValueError(f"{path}: truncated: the compressed stream ends before its end marker") from None
    return b"\x00" in head
