"""Argument conversion and the size budget: one place for each rule on user input.

* Conversion: :func:`positive_int`, :func:`finite_float` and :func:`real_array` turn what a user passed into a
  number or array, or raise a :class:`ValueError` that names the argument and what was given
  (``grid(nan)``, a string, a generator, ``phi=inf``, complex k), never Python's bare conversion message.
* Size: :func:`check_size` refuses any size a user controls (k-points, Fermi energies, azimuthal points, basis
  functions, band-path points) above :data:`SIZE_LIMITS`, before anything is allocated: a 3D ``grid(10**5)``
  used to fail with MemoryError after 41 s.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

#: The size budget: the largest count accepted for each kind of size (edit the module constant if you mean it).
SIZE_LIMITS: dict[str, int] = {
    "k-points": 10**12,       # a mesh (also a .win berry_kmesh), beyond Engine(max_kpoints=None): ~ 10 CPU-years
    "Fermi energies": 10**6,  # fermi arrays, .win scans
    "azimuthal points": 10**6,  # nphi of a cutoff mesh
    "basis functions": 4096,  # nbasis of a subband calculation
    "path points": 10**6,     # bands -n, kpath npoints
    "map points": 10**7,      # bands --slice: n² points held at once
}


def check_size(count: int, kind: str, name: str, hint: str = "") -> int:
    """Refuse ``count`` (of ``kind``, set by ``name``) above its :data:`SIZE_LIMITS` entry; returns ``count``."""
    limit = SIZE_LIMITS[kind]
    if count > limit:
        raise ValueError(f"{name} asks for {count:.4g} {kind}, more than the limit of {limit:.4g} "
                         f"(properspin.validate.SIZE_LIMITS[{kind!r}]){': ' + hint if hint else ''}")
    return count


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """An integer ≥ ``minimum`` (a float equal to an integer is accepted), else an error naming ``name``."""
    kind = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {kind}, got {type(value).__name__} {_describe(value)}")
    if not math.isfinite(float(value)) or float(value) != int(value) or int(value) < minimum:
        raise ValueError(f"{name} must be {kind}, got {_describe(value)}")
    return int(value)


def finite_float(value: Any, name: str, positive: bool = False, nonnegative: bool = False) -> float:
    """A finite real number (``positive``: > 0; ``nonnegative``: ≥ 0), else an error naming ``name``."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {type(value).__name__} {_describe(value)}")
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0) or (nonnegative and v < 0):
        kind = "a positive finite number" if positive else "a finite number ≥ 0" if nonnegative else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {_describe(value)}")
    return v


def real_array(value: Any, name: str, finite: bool = True) -> np.ndarray:
    """A float array from numbers (not strings, generators, objects or complex numbers), finite unless told.

    Complex input is refused even with a zero imaginary part: numpy would drop the imaginary part silently
    (``energies([[0.3 + 5j, 0]])`` computed at k = 0.3 before).
    """
    if isinstance(value, Iterator):
        raise ValueError(f"{name} must be an array or a list of numbers, not a {type(value).__name__} (use list(...))")
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers ({exc})") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} must be real, got complex values (e.g. {_describe(arr.ravel()[0].item())}): "
                        "k-points, energies and weights are real numbers")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got {arr.dtype} values ({_describe(value)})")
    arr = arr.astype(float)
    if finite and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return arr


def check_fermi_limit(model: Any, fermi_max: float) -> None:
    """Refuse a Fermi energy above the model's ``info["fermi_limit"]`` (a well's barrier top, the highest kept
    subband): the model does not describe the states there (before: E_F = 0.5 eV in a well whose barrier top is
    0.1875 eV gave −10.15 e/8π).  ``info["fermi_limit"]`` = ``{"energy_eV": E, "reason": text}``."""
    limit = getattr(model, "info", {}).get("fermi_limit")
    if not limit:
        return
    if fermi_max >= limit["energy_eV"]:
        raise ValueError(f"the Fermi energy {fermi_max:.6g} eV is at or above {limit['energy_eV']:.6g} eV, "
                         f"{limit['reason']} of model '{model.name}': the model does not hold the states there; "
                         "lower the Fermi energies or rebuild the model (see its info['fermi_limit'])")
