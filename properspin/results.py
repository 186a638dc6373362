"""The result stage: labelled ``xarray.DataArray`` objects carrying units and provenance.

Attributes are kept netCDF-safe (strings and numbers); nested provenance is stored as JSON strings
(``model_parameters``, ``mesh``) so that a result read back from a file is identical.
"""

from __future__ import annotations

import json
import reprlib
from datetime import UTC, datetime
from typing import Any

import numpy as np
import xarray as xr


def _attr(value: Any) -> Any:
    if isinstance(value, (str, int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        return int(value)
    try:
        return json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    except (RecursionError, ValueError) as exc:  # nested too deeply, or a circular reference
        raise ValueError(f"an attribute cannot be stored ({exc}): {reprlib.repr(value)}") from None


def make_result(values: np.ndarray, coords: dict[str, Any], attrs: dict[str, Any], name: str) -> xr.DataArray:
    """Wrap an array with named dims/coords; attrs are made netCDF-safe."""
    from ._version import __version__

    full = {"properspin_version": __version__, "created": datetime.now(UTC).isoformat(timespec="seconds")}
    full.update(attrs)
    coords = {k: list(v) if isinstance(v, tuple) else v for k, v in coords.items()}
    da = xr.DataArray(values, coords=coords, dims=tuple(coords), name=name)
    da.attrs = {k: _attr(v) for k, v in full.items()}
    if "fermi" in da.coords:
        da["fermi"].attrs["units"] = "eV"
    if "temperature" in da.coords:
        da["temperature"].attrs["units"] = "K"
    return da


def convert(result: xr.DataArray, to: str) -> xr.DataArray:
    """The result in another unit: 3D spin responses (native ``(hbar/2e) S/m``) in ``"(hbar/e) S/cm"`` (as
    postw90 and WannierBerri print them), ``"(hbar/2e) S/cm"`` or ``"(hbar/e) S/m"``; 3D charge (``S/m``) in
    ``"S/cm"``; and back.  Attributes are kept, ``units`` is updated."""
    from .units import conversion_factor

    unit = result.attrs.get("units")
    if not isinstance(unit, str):
        raise ValueError("the result has no 'units' attribute to convert from")
    factor = conversion_factor(unit, to)
    out = result.copy(data=result.values * factor)
    out.attrs = {**result.attrs, "units": to}
    for key in ("adaptive_error_estimate",):
        if key in out.attrs:
            out.attrs[key] = float(out.attrs[key]) * factor
    return out


def parameters(result: xr.DataArray, key: str) -> Any:
    """Decode a JSON-valued attribute (e.g. ``model_parameters``) back to Python."""
    value = result.attrs[key]
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return value
