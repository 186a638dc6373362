"""Band filling: the Fermi level for a given electron count, and the carrier density at given Fermi levels.

Counts are per unit cell for a periodic model, ``Σ_k (1/N_k) Σ_m f(ε_mk)`` for a uniform grid (in general
``Σ_k w_k V_cell Σ_m f`` with ``V_cell = (2π)^d / V_BZ``), and per unit area/volume (Å⁻ᵈ) for a continuum
k·p model, ``Σ_k w_k Σ_m f`` with the mesh weights (which include 1/(2π)^d).  Every band of the model counts
once: spin is already in the bands.

The mesh is streamed in chunks (``mesh.points``); :func:`fermi_level` keeps only the eigenvalues and weights
(16 bytes per state), :func:`carrier_density` only a histogram over the requested Fermi energies.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import brentq
from scipy.special import expit

from . import mesh as meshes
from .engine import default_chunk_size
from .model import Model
from .prepare import fermi_array, resolve_sampling, temperatures
from .results import make_result
from .sweep import Sweep
from .units import K_B_EV


def _check_temperature(temperature: float) -> float:
    """One temperature (K), validated as :func:`properspin.prepare.temperatures` validates a calculation's."""
    t = temperatures(temperature)
    if t.size != 1:
        raise ValueError(f"temperature must be one number in kelvin here, got {temperature!r}")
    return float(t[0])


def _count_scale(model: Model, mesh: meshes.Mesh) -> float:
    """Factor turning Σ_k w_k Σ_m f into electrons per cell (periodic) or per Å^d (continuum: 1)."""
    if not model.periodic:
        return 1.0
    return (2 * math.pi) ** model.dim / abs(float(np.linalg.det(model.reciprocal)))


def _chunks(model: Model, mesh: meshes.Mesh) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(energies (N, n), electron weights (N,)) per chunk of the mesh."""
    scale = _count_scale(model, mesh)
    step = 4 * default_chunk_size(model.nbands)
    for start in range(0, mesh.size, step):
        k, w = mesh.points(model, start, min(mesh.size, start + step))
        yield model.energies(k), w * scale


def _states(model: Model, mesh: meshes.Mesh) -> tuple[np.ndarray, np.ndarray]:
    """All eigenvalues sorted ascending, with the electron weight of each state."""
    meshes.check_points(mesh.size, 16 * 4 * model.nbands, "fermi_level")  # energies, weights, sort, cumsum
    es, ws = [], []
    for e, w in _chunks(model, mesh):
        es.append(e.ravel())
        ws.append(np.repeat(w, e.shape[1]))
    e, w = np.concatenate(es), np.concatenate(ws)
    order = np.argsort(e, kind="stable")
    return e[order], w[order]


def fermi_level(model: Model, electrons: float, mesh: meshes.Mesh, temperature: float = 0.0) -> float:
    """Chemical potential (eV) at which the model holds ``electrons`` electrons.

    ``electrons`` is per unit cell for a periodic model (0 < electrons < nbands) and a density in Å⁻ᵈ for a
    continuum model (less than the states inside the cutoff).  At T = 0 the level is exact for the mesh: the
    states are sorted and the level is the energy of the last state needed; when the count is reached exactly
    at a gap (an insulator), the middle of the gap.  At T > 0 the Fermi–Dirac count is solved by bisection.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a properspin.Model, got {type(model).__name__}")
    n_el = float(electrons)
    if not math.isfinite(n_el):
        raise ValueError(f"electrons must be a finite number, got {electrons!r}")
    if n_el <= 0:
        raise ValueError(f"electrons must be positive, got {electrons!r}")
    if model.periodic and n_el >= model.nbands:
        raise ValueError(
            f"electrons = {n_el:g} per cell but model '{model.name}' has only {model.nbands} bands: "
            "the bands would be full and the Fermi level undefined (need 0 < electrons < nbands)"
        )
    kt = K_B_EV * _check_temperature(temperature)
    mesh = meshes.resolve(mesh, model)
    e, w = _states(model, mesh)
    cum = np.cumsum(w)
    if n_el >= cum[-1] * (1 - 1e-12):
        raise ValueError(
            f"electrons = {n_el:g} Å^-{model.dim} needs more states than the mesh holds ({cum[-1]:.6g}): "
            "enlarge the cutoff"
        )
    tol = 1e-9 * max(1.0, n_el)
    i = int(np.searchsorted(cum, n_el - tol))  # states 0..i hold the electrons at T = 0
    gap = abs(cum[i] - n_el) <= tol
    ef = 0.5 * (e[i] + e[i + 1]) if gap else float(e[i])
    if kt > 0:
        # N(μ) − N split into holes below and electrons above the T = 0 filling, so that the tiny
        # Fermi–Dirac tails of an insulator are not lost to round-off against N
        lower, upper, offset = slice(0, i + 1), slice(i + 1, None), 0.0 if gap else cum[i] - n_el

        def excess(mu: float) -> float:
            holes = np.dot(w[lower], expit((e[lower] - mu) / kt))
            return float(np.dot(w[upper], expit(-(e[upper] - mu) / kt)) - holes + offset)

        lo, hi = e[0] - 50 * kt, e[-1] + 50 * kt
        if excess(ef) != 0.0:  # exactly 0: tails underflow (gap ≫ k_BT), keep the mid-gap level
            ef = brentq(excess, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500)
    if not model.periodic:
        meshes.check_cutoff(mesh, model, np.array([ef]), kt / K_B_EV)
    return float(ef)


def carrier_density(model: Model, fermi: Any, mesh: meshes.Mesh, temperature: float = 0.0) -> xr.DataArray:
    """Electrons per cell (periodic) or per Å^d (continuum) at each Fermi energy, one pass over the mesh.

    Returns a DataArray over ``fermi``; for a continuum model ``attrs["si_units"]`` is ``m^-d`` and
    ``attrs["si_factor"]`` (1e20 or 1e30) converts the values to it.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a properspin.Model, got {type(model).__name__}")
    fermi_in = fermi_array(fermi, distinct=False)
    t = _check_temperature(temperature)
    mesh = resolve_sampling(model, mesh, fermi_in, t)  # the checks of prepare(): Fermi limit, cutoff
    meshes.check_points(mesh.size, 0, "carrier_density")  # streamed: the limit on its time only
    levels, inverse = np.unique(fermi_in, return_inverse=True)
    sweep = Sweep(levels, t)
    partial = sweep.empty(1)
    for e, w in _chunks(model, mesh):
        sweep.accumulate(partial, e.ravel(), np.repeat(w, e.shape[1])[:, None])
    values = sweep.finish(partial)[inverse.ravel(), 0]
    attrs: dict[str, Any] = {"temperature_K": t, **model.describe()}
    attrs |= {k if k.startswith("mesh") else f"mesh_{k}": v for k, v in mesh.describe().items()}
    if model.periodic:
        attrs["units"] = "electrons per cell"
    else:
        si = {"si_units": f"m^-{model.dim}", "si_factor": 10.0 ** (10 * model.dim)}
        attrs |= {"units": f"Angstrom^-{model.dim}", **si}
    return make_result(values, {"fermi": fermi_in}, attrs, "carrier_density")
