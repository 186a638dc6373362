"""Result files: netCDF (lossless, :func:`save` / :func:`load`) and CSV (:func:`to_csv`, for spreadsheets).

Both are written atomically: to a temporary file in the target directory, then ``os.replace``d, so
an interrupted run never leaves a half-written result under the final name.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

PathLike = str | os.PathLike

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


def save(result: xr.DataArray, path: PathLike) -> Path:
    """Write ``result`` (values, coords, attrs) to a netCDF-4 file; returns the path."""
    from .results import _attr

    result = result.copy(deep=False)
    result.attrs = {k: _attr(v) for k, v in result.attrs.items()}
    with _atomic(path, ".nc.tmp") as tmp:
        result.to_netcdf(tmp, engine=_engine())
    return Path(path)


def load(path: PathLike) -> xr.DataArray:
    """Read a result written by :func:`save`: values, coords and attrs identical to what was saved."""
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such result file")
    try:
        return xr.load_dataarray(path, engine=_engine())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a properspin netCDF result ({exc})") from None


def component_dims(result: xr.DataArray) -> list[str]:
    """The component dimensions of a result (``spin``, ``current``, ``field``, ``term``, ...)."""
    return [d for d in result.dims if d not in _SWEEP_DIMS]


def component_label(result: xr.DataArray, index: dict[str, str]) -> str:
    """Column name: ``sigma_z_yx`` (σ^z_yx), ``sigma_xy``, ``C6_sigma_z_yx``, ``torque_y_x``, ``M_z``."""
    prefix = f"{index['term']}_" if "term" in index else ""
    if result.attrs.get("response") == "torque":
        return f"{prefix}torque_{index['spin']}_{index['field']}"
    if "axis" in index:  # orbital magnetisation
        return f"{prefix}M_{index['axis']}"
    spin = f"_{index['spin']}" if "spin" in index else ""
    return f"{prefix}sigma{spin}_{index.get('current', '')}{index.get('field', '')}"


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
    header += [f"# {key}: {value}" for key, value in result.attrs.items()]
    names = [{"temperature": "temperature_K", "fermi": "fermi_eV"}[d] for d in sweep]
    names += [component_label(result, c) for c in comps]
    sweep_values = [result[d].values for d in sweep]
    table = data.values.reshape(*(len(v) for v in sweep_values), len(comps))
    with _atomic(path, ".csv.tmp") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        fh.write("\n".join(header) + "\n")
        writer = csv.writer(fh)
        writer.writerow(names)
        for idx in itertools.product(*(range(len(v)) for v in sweep_values)):
            row = [_number(v[i]) for v, i in zip(sweep_values, idx, strict=True)]
            writer.writerow(row + [_number(x) for x in table[idx]])
    return Path(path)
