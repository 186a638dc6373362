"""Tolerance-free radial quadrature for 2D continuum models: Gauss–Legendre panels between breakpoints.

On a plain :func:`~properspin.mesh.disk` the T = 0 integrand jumps at every Fermi crossing (the rule then
converges as 1/nk) and a µeV anticrossing between two occupied bands is a spike of height ∝ 1/Δ² and width
∝ Δ/v that no affordable uniform rule resolves (the hole gas of Fig. 2 used to exclude such pairs with a
``degeneracy_tol`` of 1e-4 eV instead, which biases σ).  :func:`panels` builds, on every ray of a uniform
azimuthal rule, the breakpoints where a band crosses a requested Fermi energy and the located centres of the
anticrossings (adjacent-band gap minima below ``anticrossing_gap``), and puts Gauss–Legendre panels of
``order`` points between them, graded geometrically (ratio ``grading``) towards each anticrossing centre down
to a tenth of its core width Δ/|∂(ε_{m+1} − ε_m)/∂k|.  Each radial integral is then smooth on every panel
(exponential convergence in ``order``), and the ray integrals are periodic in φ (uniform rule: exponential in
``nphi``).  No pair is excluded: ``degeneracy_tol`` can stay at its default.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .mesh import Explicit, _gauss, _positive_float, _positive_int
from .model import Model


class RadialPanels(Explicit):
    """2D disk |k| ≤ radius: per ray φ_j, Gauss–Legendre panels between breakpoints (Fermi crossings,
    graded anticrossing neighbourhoods); built by :func:`panels`."""

    kind = "panels"

    def __init__(self, k: np.ndarray, w: np.ndarray, params: tuple[tuple[str, Any], ...],
                 found: dict[str, Any]) -> None:
        super().__init__(k, w, periodic=False, label="panels")
        self.params, self.found = params, found

    def describe(self) -> dict[str, Any]:
        return {"mesh": "panels", **dict(self.params), "mesh_size": self.size, **self.found}

    def boundary(self, n: int = 64) -> np.ndarray:
        r = dict(self.params)["radius"]
        phi = 2 * math.pi * np.arange(n) / n
        return r * np.stack([np.cos(phi), np.sin(phi)], axis=1)


def _ray(model: Model, phi: float, r: np.ndarray) -> np.ndarray:
    return model.energies(np.stack([r * math.cos(phi), r * math.sin(phi)], axis=1))


def _bisect(model: Model, phi: float, lo: np.ndarray, hi: np.ndarray, band: np.ndarray, level: np.ndarray,
            steps: int = 60) -> np.ndarray:
    """Roots of ε_band(r) = level on [lo, hi] (sign change assumed), vectorised bisection."""
    f_lo = _ray(model, phi, lo)[np.arange(len(lo)), band] - level
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        f_mid = _ray(model, phi, mid)[np.arange(len(mid)), band] - level
        left = np.sign(f_mid) == np.sign(f_lo)
        lo, f_lo = np.where(left, mid, lo), np.where(left, f_mid, f_lo)
        hi = np.where(left, hi, mid)
    return 0.5 * (lo + hi)


def fermi_crossings(model: Model, phi: float, radius: float, fermi: np.ndarray, nscan: int) -> np.ndarray:
    """Radii on the ray φ where any band crosses any of the Fermi energies ``fermi``."""
    r = np.linspace(0.0, radius, nscan + 1)
    e = _ray(model, phi, r)  # (nscan + 1, nbands)
    lo, hi, band, level = [], [], [], []
    for ef in fermi:
        s = np.sign(e - ef)
        i, m = np.nonzero(s[:-1] * s[1:] < 0)
        lo += list(r[i])
        hi += list(r[i + 1])
        band += list(m)
        level += [ef] * len(i)
    if not band:
        return np.zeros(0)
    return _bisect(model, phi, np.array(lo), np.array(hi), np.array(band), np.array(level))


def _golden(model: Model, phi: float, a: float, b: float, m: int, steps: int = 80) -> tuple[float, float]:
    """Minimum of the gap ε_{m+1} − ε_m on [a, b] (golden section): (radius, gap)."""
    g = (math.sqrt(5) - 1) / 2

    def gap(x: float) -> float:
        e = _ray(model, phi, np.array([x]))[0]
        return float(e[m + 1] - e[m])

    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = gap(c), gap(d)
    for _ in range(steps):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = gap(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = gap(d)
    x = 0.5 * (a + b)
    return x, gap(x)


def anticrossings(model: Model, phi: float, radius: float, fermi_max: float, gap_max: float,
                  nscan: int) -> list[tuple[float, float, float]]:
    """Located anticrossing centres on the ray φ: (radius, gap Δ, core width Δ/|slope|) for every local
    minimum of an adjacent-band gap below ``gap_max`` with the lower band ≤ ``fermi_max``."""
    r = np.linspace(0.0, radius, nscan + 1)
    e = _ray(model, phi, r)
    gaps = np.diff(e, axis=1)
    found = []
    for m in range(gaps.shape[1]):
        g = gaps[:, m]
        for i in range(1, nscan):
            if not (g[i] <= g[i - 1] and g[i] < g[i + 1] and e[i, m] <= fermi_max):
                continue  # not a local minimum on the scan (the minimum itself may lie between scan points)
            x, delta = _golden(model, phi, r[i - 1], r[i + 1], m)
            if delta >= gap_max:
                continue
            j = i - 1 if abs(r[i - 1] - x) > abs(r[i + 1] - x) else i + 1  # the farther neighbour: g ≈ slope·|r − x|
            slope = max(math.sqrt(max(g[j] ** 2 - delta**2, 0.0)) / abs(r[j] - x), 1e-12)
            found.append((x, delta, max(delta, 1e-12) / slope))
    return found


def _graded(centre: float, core: float, lo: float, hi: float, grading: float) -> list[float]:
    """Breakpoints centre ± core/10 · grading^j inside (lo, hi)."""
    out, w = [], 0.1 * core
    while w < max(centre - lo, hi - centre):
        out += [centre - w, centre + w]
        w *= grading
    return [x for x in out if lo < x < hi]


def _ray_rule(breaks: list[float], order: int, radius: float, max_panel: float) -> tuple[np.ndarray, np.ndarray]:
    edges = np.unique(np.clip(np.asarray(breaks + [0.0, radius]), 0.0, radius))
    xs, ws = [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b - a <= 1e-15 * radius:
            continue
        pieces = max(1, math.ceil((b - a) / max_panel))
        for j in range(pieces):
            x, w = _gauss(order, a + j * (b - a) / pieces, a + (j + 1) * (b - a) / pieces)
            xs.append(x)
            ws.append(w)
    return np.concatenate(xs), np.concatenate(ws)


def panels(model: Model, fermi: Any, radius: float, order: int = 8, nphi: int = 32, *, panels_min: int = 8,
           anticrossing_gap: float = 1e-3, grading: float = 3.0, nscan: int = 400,
           rays: int | None = None) -> RadialPanels:
    """Disk of radius ``radius`` (Å⁻¹) with per-ray Gauss–Legendre panels (``order`` points each) between the
    Fermi crossings of ``fermi`` (eV) and graded around anticrossings with gaps below ``anticrossing_gap`` (eV),
    found by an ``nscan``-point scan of each ray and refined by bisection / golden section; panels are at most
    radius/``panels_min`` long; ``nphi`` uniform azimuths.  Weights include k dk dφ/(2π)².  ``rays``: build only
    the first ``rays`` azimuths (a symmetric wedge the caller unfolds: :func:`properspin.paper.wedge.panels_wedge`)."""
    if not isinstance(model, Model) or model.periodic or model.dim != 2:
        raise ValueError("quadrature.panels is for 2D continuum (k·p) models; use mesh.grid(n) for lattices")
    radius = _positive_float(radius, "panels radius")
    order, nphi = _positive_int(order, "order"), _positive_int(nphi, "nphi")
    panels_min, nscan = _positive_int(panels_min, "panels_min"), _positive_int(nscan, "nscan")
    if not (math.isfinite(grading) and grading > 1):
        raise ValueError(f"grading must be a number > 1 (ratio of neighbouring panel widths), got {grading!r}")
    fermi = np.atleast_1d(np.asarray(fermi, dtype=float))
    ks, ws, ncross, nanti, smallest = [], [], 0, 0, math.inf
    if rays is not None and not 0 < _positive_int(rays, "rays") <= nphi:
        raise ValueError(f"rays must be between 1 and nphi = {nphi}, got {rays}")
    for j in range(nphi if rays is None else rays):
        phi = 2 * math.pi * (j + 0.5) / nphi
        breaks = list(fermi_crossings(model, phi, radius, fermi, nscan))
        ncross += len(breaks)
        for x, delta, core in anticrossings(model, phi, radius, float(fermi.max()), anticrossing_gap, nscan):
            step = radius / nscan
            breaks += _graded(x, core, x - step, x + step, grading) + [x - step, x + step]
            nanti += 1
            smallest = min(smallest, delta)
        r, w = _ray_rule(breaks, order, radius, radius / panels_min)
        ks.append(np.stack([r * math.cos(phi), r * math.sin(phi)], axis=1))
        ws.append(w * r * (2 * math.pi / nphi) / (2 * math.pi) ** 2)
    params = (("radius", radius), ("order", order), ("nphi", nphi), ("panels_min", panels_min),
              ("anticrossing_gap_eV", float(anticrossing_gap)), ("grading", float(grading)), ("nscan", nscan))
    params += (("rays", rays),) if rays is not None else ()
    found = {"fermi_crossings": ncross, "anticrossings": nanti,
             "smallest_anticrossing_gap_eV": smallest if nanti else float("nan")}
    return RadialPanels(np.concatenate(ks), np.concatenate(ws), params, found)
