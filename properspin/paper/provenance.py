"""Provenance of the reproduction's combined results: the attributes of every calculation that went into a file.

``properspin run`` writes each result with its full attributes (model and its parameters, mesh, response
parameters, versions).  A figure of the paper combines several calculations (three magnetisation directions,
two gate fields, four materials × gate fields); :func:`merge` keeps every attribute: one value where all parts
agree, a JSON table ``{part: value}`` where they differ.
"""

from __future__ import annotations

import json
import platform
from typing import Any


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.tolist() if hasattr(value, "tolist") else value


def merge(parts: dict[str, Any], along: str) -> dict[str, Any]:
    """Attributes of the results in ``parts`` (label → DataArray) merged; ``along`` names what varies."""
    import numpy as np
    import xarray as xr

    from .. import __version__

    keys = list(dict.fromkeys(k for p in parts.values() for k in p.attrs))
    out: dict[str, Any] = {}
    for key in keys:
        values = [_decode(p.attrs.get(key)) for p in parts.values()]
        if all(v == values[0] for v in values[1:]):
            out[key] = parts[next(iter(parts))].attrs.get(key)
        else:
            out[key] = json.dumps(dict(zip(parts, values, strict=True)), default=str)
    out |= {"provenance_parts": json.dumps(list(parts)), "provenance_varies_along": along,
            "properspin_version": __version__, "numpy_version": np.__version__, "xarray_version": xr.__version__,
            "python_version": platform.python_version()}
    return out
