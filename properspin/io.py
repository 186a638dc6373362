"""Result files: netCDF (lossless, :func:`save` / :func:`load`) and CSV (:func:`to_csv`, for spreadsheets).

Both are made in memory and then written atomically (:func:`write_bytes`): to a temporary file in the target
directory, flushed to disk, then ``os.replace``d, so an interrupted run never leaves a half-written result
under the final name.  HDF5 never writes to the disk itself: a full disk made h5py crash the interpreter
(segmentation fault) while it cleaned up; now it is an ``OSError`` naming the file, and the result in memory
stays usable.  :func:`check_target` validates an output path before anything is computed.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import importlib.util
import io
import itertools
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

PathLike = str | os.PathLike

_NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems

#: Dimensions that label one component (everything except ``fermi`` and ``temperature``).
_SWEEP_DIMS = ("temperature", "fermi")


def _engine() -> str:
    """h5netcdf (needs h5py); netCDF4 as a fallback reader/writer of the same format."""
    if importlib.util.find_spec("h5py") is not None:
        return "h5netcdf"
    if importlib.util.find_spec("netCDF4") is not None:
        return "netcdf4"
    raise ValueError("writing netCDF needs h5py (pip install h5py) or netCDF4")


@contextlib.contextmanager
def _atomic(path: PathLike, suffix: str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` on success, delete it on failure."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")  # umask applies
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_target(path: PathLike) -> Path:
    """Refuse, before any computing, an output path that cannot be written: a NUL byte, a directory in its
    place, a file where a parent directory should be, a directory without write permission or on a read-only
    file system (tested by creating and removing a temporary file in the nearest existing parent).  Creates
    nothing: :func:`write_bytes` makes the missing directories."""
    target = Path(path)
    if "\0" in str(target):
        raise ValueError(f"output path {str(target)!r} contains a NUL byte")
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"cannot write {target}: a directory is in the way")
    if target.exists() and not target.is_file():  # a device, FIFO or socket: the rename would replace it
        raise OSError(errno.EEXIST, f"cannot write {target}: it exists and is not a regular file")
    if len(target.name.encode()) > _NAME_MAX - 32:  # room for the temporary name of _atomic
        raise OSError(errno.ENAMETOOLONG, f"cannot write {target}: file name longer than {_NAME_MAX - 32} bytes")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    try:
        if not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{parent} is not a directory")
        with tempfile.TemporaryFile(dir=parent, prefix=f".{target.name[:40]}."):
            pass
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def check_space(directory: PathLike, need: float, what: str) -> None:
    """Refuse, before computing, a directory (or its nearest existing parent) with less than ``need`` bytes free:
    an ``OSError`` (ENOSPC) naming the directory, the space free and ``what`` needs it."""
    import shutil

    target = Path(directory)
    existing = next((p for p in (target, *target.parents) if p.exists()), Path("."))
    free = shutil.disk_usage(existing).free
    if free < need:
        raise OSError(errno.ENOSPC, f"{target}: {free} bytes free on its disk, but {what} needs about {int(need)}: "
                                    "free some space or choose another directory")


def write_bytes(path: PathLike, data: bytes | memoryview) -> Path:
    """Write ``data`` atomically (temporary file, fsync, rename); OSError naming the path on any failure."""
    target = check_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _atomic(target, ".tmp") as tmp, open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def save(result: xr.DataArray, path: PathLike) -> Path:
    """Write ``result`` (values, coords, attrs) to a netCDF-4 file; returns the path.

    The file is made in memory first (:func:`write_bytes`): a full disk is an ``OSError`` naming ``path``,
    never a crash, and ``result`` is unchanged.
    """
    from ._version import __version__
    from .results import _attr

    result = result.copy(deep=False)
    result.attrs = {"properspin_version": __version__} | {k: _attr(v) for k, v in result.attrs.items()
                                                         if k != DIGEST_ATTR}
    result.attrs[DIGEST_ATTR] = content_digest(result)
    engine = _engine()
    if engine == "h5netcdf":
        return write_bytes(path, result.to_netcdf(engine=engine))
    check_target(path)  # pragma: no cover - netCDF4 (no h5py) writes files only
    with _atomic(path, ".nc.tmp") as tmp:  # pragma: no cover
        result.to_netcdf(tmp, engine=engine)
    return Path(path)  # pragma: no cover


def load(path: PathLike) -> xr.DataArray:
    """Read a result written by :func:`save`: values, coords and attrs identical to what was saved.

    ValueError for any other file, including netCDF/HDF5 files that properspin did not write.
    """
    import warnings

    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such result file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # h5netcdf's notes on plain HDF5 files
            result = xr.load_dataarray(path, engine=_engine())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a properspin netCDF result ({exc})") from None
    if "properspin_version" not in result.attrs:
        raise ValueError(f"{path}: not a properspin netCDF result (a netCDF/HDF5 file without properspin's "
                         "attributes)")
    stored = result.attrs.pop(DIGEST_ATTR, None)  # checked here, not part of the result
    if stored is None:
        version = result.attrs["properspin_version"]
        warnings.warn(f"{path}: written without a content digest (properspin {version}); its numbers cannot be "
                      "checked against damage", UserWarning, stacklevel=2)
    elif str(stored) != content_digest(result):
        raise ValueError(f"{path}: the values or coordinates do not match the file's content digest "
                         f"({DIGEST_ATTR}): the file was damaged or edited after it was written; recompute it")
    return result


#: The attribute holding :func:`content_digest` in a saved result.
DIGEST_ATTR = "properspin_content_sha256"


def content_digest(result: xr.DataArray) -> str:
    """SHA-256 of a result's dimensions, values and coordinates (what a damaged byte of a ``.nc`` would change)."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256(repr(tuple(result.dims)).encode())
    values = np.ascontiguousarray(result.values)
    digest.update(str(values.dtype).encode() + values.tobytes())
    for name in sorted(result.coords, key=str):
        values = np.asarray(result[name].values)
        digest.update(f"\0{name}:{values.shape}".encode())
        if values.dtype.kind in "biuf":
            digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
        else:
            digest.update("\0".join(str(v) for v in values.ravel()).encode())
    return digest.hexdigest()


def component_dims(result: xr.DataArray) -> list[str]:
    """The component dimensions of a result (``spin``, ``current``, ``field``, ``term``, ...)."""
    return [d for d in result.dims if d not in _SWEEP_DIMS]


def component_label(result: xr.DataArray, index: dict[str, str]) -> str:
    """Column name of one component, from its response (``Response.column``): ``sigma_z_yx`` (σ^z_yx),
    ``sigma_xy``, ``C6_sigma_z_yx``, ``torque_y_x``, ``M_z``; a dimension the response's template does not name
    (``part`` of a regulated limit, an occupation split, ac re/im) adds ``_<dim>_<label>``.  A result of a
    response not registered in this process: ``<dim>_<label>`` joined (``spin_x``)."""
    from .responses import _template_fields, component_text, of_result

    resp = of_result(result)
    if resp is None or not _template_fields(resp.column or "") <= set(index):  # unknown, or dims were changed
        return component_text(None, index)
    return resp.column_label(index)


def components(result: xr.DataArray) -> list[dict[str, str]]:
    """Every component as a ``{dim: label}`` selection, in array order."""
    dims = component_dims(result)
    labels = [[str(v) for v in result[d].values] for d in dims]
    return [dict(zip(dims, combo, strict=True)) for combo in itertools.product(*labels)]


def _number(value: Any) -> str:
    return format(float(value), ".17g")


def to_csv(result: xr.DataArray, path: PathLike) -> Path:
    """Write one row per Fermi energy (and temperature), one column per component.

    Comment lines (``#``) first give the response, the units and every attribute; then a header row
    ``fermi_eV,sigma_x_xx,...`` (with a leading ``temperature_K`` column for temperature sweeps).
    """
    comps = components(result)
    sweep = [d for d in _SWEEP_DIMS if d in result.dims]
    data = result.transpose(*sweep, *component_dims(result))
    units = result.attrs.get("units", "?")
    header = [
        f"# properspin result: {result.attrs.get('response', result.name)}"
        f" — {result.attrs.get('description', '')}".rstrip(" —"),
        f"# units: {units} (all component columns); fermi_eV in eV"
        + ("; temperature_K in K" if "temperature" in sweep else ""),
        "# column sigma_l_ij = σ^l_ij (spin l, current i, field j; J^l_i = σ^l_ij E_j)",
    ]
    header += [f"# {key}: {_one_line(value)}" for key, value in result.attrs.items()]
    names = [{"temperature": "temperature_K", "fermi": "fermi_eV"}[d] for d in sweep]
    labels = [component_label(result, c) for c in comps]
    if len(set(labels)) != len(labels):  # a dimension the labels do not know: never two columns of one name
        labels = ["_".join(f"{d}_{v}" for d, v in c.items()) for c in comps]
    names += labels
    sweep_values = [result[d].values for d in sweep]
    table = data.values.reshape(*(len(v) for v in sweep_values), len(comps))
    fh = io.StringIO(newline="")
    fh.write("\n".join(header) + "\n")
    writer = csv.writer(fh)
    writer.writerow(names)
    for idx in itertools.product(*(range(len(v)) for v in sweep_values)):
        row = [_number(v[i]) for v, i in zip(sweep_values, idx, strict=True)]
        writer.writerow(row + [_number(x) for x in table[idx]])
    return write_bytes(path, fh.getvalue().encode("utf-8"))


def _one_line(value: Any) -> str:
    """An attribute as one comment line: a line break in a value would start a data row of the CSV."""
    return str(value).replace("\r", "\\r").replace("\n", "\\n")
