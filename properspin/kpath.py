"""High-symmetry k paths from the lattice: seekpath (HPKOT conventions) in 3D, a small table in 2D.

A path is a list of segments ``(label_a, k_a, label_b, k_b)`` with Cartesian k (Å⁻¹ or 1/a); consecutive
segments that do not join are drawn with a break (label ``"U|K"``).  Labels are the standard ones of each
Bravais lattice (fcc: Γ X U K L W; bcc: Γ H N P; hexagonal: Γ M K A L H; tetragonal: Γ X M Z R A; …), found
from the symmetry of the lattice with its atoms (one atom at the origin when none are given).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .validate import finite_float, positive_int, real_array

Segment = tuple[str, np.ndarray, str, np.ndarray]

_PRETTY = {"GAMMA": "Γ", "SIGMA": "Σ", "DELTA": "Δ", "LAMBDA": "Λ"}


def pretty(label: str) -> str:
    """``GAMMA`` → ``Γ``, ``X_1`` → ``X₁``."""
    base, _, sub = label.partition("_")
    base = _PRETTY.get(base, base)
    return base + "".join("₀₁₂₃₄₅₆₇₈₉"[int(c)] if c.isdigit() else c for c in sub)


def lattice_path(lattice: np.ndarray, positions: Any = None, numbers: Sequence[int] | None = None,
                 dim: int | None = None) -> list[Segment]:
    """The standard path of ``lattice`` (rows, Å); ``positions`` (fractional) and ``numbers`` of the atoms if known."""
    lat = np.asarray(lattice, dtype=float)
    dim = dim or lat.shape[0]
    if dim == 2:
        return _path_2d(lat[:2, :2])
    if dim != 3:
        raise ValueError(f"k paths are defined for 2D and 3D lattices, not dim={dim}")
    import seekpath

    pos = np.zeros((1, 3)) if positions is None else np.asarray(positions, dtype=float).reshape(-1, 3)
    num = [1] * len(pos) if numbers is None else list(numbers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seekpath/spglib notices (edge cases, deprecations)
        res = seekpath.get_path_orig_cell((lat, pos, num))
    rec = 2 * math.pi * np.linalg.inv(lat).T
    coords = {k: np.asarray(v) @ rec for k, v in res["point_coords"].items()}
    return [(pretty(a), coords[a], pretty(b), coords[b]) for a, b in res["path"]]


def _path_2d(lat: np.ndarray) -> list[Segment]:
    """Square Γ–X–M–Γ, hexagonal Γ–M–K–Γ, rectangular Γ–X–S–Y–Γ, oblique Γ–X–M–Y–Γ (fractional corners)."""
    a, b = np.linalg.norm(lat, axis=1)
    cos = float(lat[0] @ lat[1] / (a * b))
    rec = 2 * math.pi * np.linalg.inv(lat).T
    if abs(a - b) < 1e-6 * a and abs(abs(cos) - 0.5) < 1e-6:
        k = (2 / 3, 1 / 3) if cos > 0 else (1 / 3, 1 / 3)  # 60° or 120° between a1 and a2
        corners = [("Γ", (0, 0)), ("M", (0.5, 0)), ("K", k), ("Γ", (0, 0))]
    elif abs(cos) < 1e-6:
        names = ("X", "M") if abs(a - b) < 1e-6 * a else ("X", "S")
        corners = [("Γ", (0, 0)), (names[0], (0.5, 0)), (names[1], (0.5, 0.5))]
        corners += [("Y", (0, 0.5)), ("Γ", (0, 0))] if names[1] == "S" else [("Γ", (0, 0))]
    else:
        corners = [("Γ", (0, 0)), ("X", (0.5, 0)), ("M", (0.5, 0.5)), ("Y", (0, 0.5)), ("Γ", (0, 0))]
    pts = [(n, np.asarray(f) @ rec) for n, f in corners]
    return [(pts[i][0], pts[i][1], pts[i + 1][0], pts[i + 1][1]) for i in range(len(pts) - 1)]


def from_corners(corners: Sequence[tuple[str, Sequence[float]]]) -> list[Segment]:
    """Segments joining consecutive ``(label, k)`` corners."""
    pts = [(str(n), real_array(k, f"k path corner {n!r}")) for n, k in corners]
    if len(pts) < 2:
        raise ValueError("a k path needs at least two corners")
    if len({p.shape for _, p in pts}) != 1:
        raise ValueError(f"k path corners must all have the same length, got {[p.shape for _, p in pts]}")
    return [(pts[i][0], pts[i][1], pts[i + 1][0], pts[i + 1][1]) for i in range(len(pts) - 1)]


def sample(path: list[Segment], density: float | None = None, n: int = 60
           ) -> tuple[np.ndarray, np.ndarray, list[float], list[str]]:
    """k-points along ``path``: (k (N, d), distance x (N,), tick positions, tick labels).

    ``n`` points on the longest segment (others proportional, at least 4); broken paths get a joint label
    ``"U|K"`` and no distance across the break.
    """
    n = positive_int(n, "npoints")
    lengths = [float(np.linalg.norm(b - a)) for _, a, _, b in path]
    if not path or not max(lengths) > 0:  # also NaN corners
        raise ValueError(f"the k path has zero length (corners {[la for la, *_ in path]} coincide): give distinct "
                         "corners")
    step = (max(lengths) / n) if density is None else 1 / finite_float(density, "density", positive=True)
    ks, xs, ticks, labels = [], [], [0.0], [path[0][0]]
    x0 = 0.0
    for (la, a, lb, b), length in zip(path, lengths, strict=True):
        if labels[-1] != la:  # a break: join the labels, no distance
            labels[-1] = f"{labels[-1]}|{la}"
        m = max(4, int(round(length / step)))
        t = np.linspace(0.0, 1.0, m + 1)
        ks.append(a + t[:, None] * (b - a))
        xs.append(x0 + t * length)
        x0 += length
        ticks.append(x0)
        labels.append(lb)
    return np.concatenate(ks), np.concatenate(xs), ticks, labels
