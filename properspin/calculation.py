"""One call from a model to a labelled result: model → k-mesh → band geometry → response → sweep.

:func:`conductivity` is the public entry point; it validates input, builds a :class:`~properspin.engine.Job`,
lets the :class:`~properspin.engine.Engine` stream the mesh, and labels the sums with units.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import xarray as xr

from . import mesh as meshes
from . import responses
from .engine import Engine, Job, default_chunk_size
from .model import Model
from .results import make_result
from .sweep import Sweep

log = logging.getLogger(__name__)


def _fermi_array(fermi: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(fermi, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("fermi must be a number or a 1D sequence of energies (eV)")
    if not np.all(np.isfinite(arr)):
        raise ValueError("fermi contains NaN or inf")
    if len(np.unique(arr)) != len(arr):
        raise ValueError("fermi energies must be distinct")
    return arr


def _temperatures(temperature: Any) -> np.ndarray:
    t = np.atleast_1d(np.asarray(temperature, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"temperature must be a finite number or 1D sequence in kelvin, got {temperature!r}")
    if np.any(t < 0):
        raise ValueError(f"temperature must be ≥ 0 K (kelvin), got {temperature!r}")
    return t


def conductivity(
    model: Model,
    response: str | responses.Response,
    *,
    fermi: Any,
    mesh: meshes.Mesh,
    temperature: Any = 0.0,
    broadening: float | None = None,
    degeneracy_tol: float = 1e-6,
    engine: Engine | None = None,
) -> xr.DataArray:
    """Intrinsic response tensor of ``model`` at every Fermi energy, from one pass over ``mesh``.

    Parameters
    ----------
    model
        A :class:`~properspin.Model`.
    response
        ``"proper_spin"`` (Eq. 1), ``"conventional_spin"``, ``"torque_dipole"`` (proper − conventional),
        ``"charge"`` (anomalous Hall), ``"appendix_c"`` (the four terms of App. C) or ``"torque"``; or a
        response with its parameters set, ``responses.get("conventional_spin", broadening=0.01)``.
    fermi
        Fermi energies in eV (any order; the result keeps it).
    mesh
        ``mesh.grid(n)`` for periodic models; ``mesh.disk/sphere/cylinder`` cutoffs for k·p models.
    temperature
        Kelvin, a number or a sequence (then a leading ``temperature`` dimension is added).
    broadening
        Shorthand for the response parameter ``broadening``: η (eV) in the energy denominators of the
        conventional spin current, 1/(Δ² + η²), as Wannier90/WannierTools; 0 is the clean limit (only
        conventional/torque-dipole have it).  ``None`` keeps the response's own value.
    degeneracy_tol
        Band pairs closer than this (eV) are excluded; contributing ones are reported (conventions §3).
    engine
        Chunking/executor settings (:class:`~properspin.engine.Engine`).

    Returns
    -------
    xarray.DataArray with dims ``("fermi", "spin", "current", "field")`` (spin responses) or
    ``("fermi", "current", "field")`` (charge); ``attrs["units"]`` is ``e/8pi``/``e^2/h`` in 2D and
    ``(hbar/2e) S/m``/``S/m`` in 3D; the attrs also record every input that produced it.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a properspin.Model, got {type(model).__name__}")
    resp = responses.get(response)
    if resp.needs_spin and model.spin is None:
        raise ValueError(f"response {response!r} needs a spin operator, but model '{model.name}' has spin=None")
    if model.dim not in (2, 3):
        raise ValueError(f"conductivities are defined for 2D and 3D models, not dim={model.dim}")
    fermi_in = _fermi_array(fermi)
    temps = _temperatures(temperature)
    if not math.isfinite(degeneracy_tol) or degeneracy_tol < 0:
        raise ValueError(f"degeneracy_tol must be a finite number ≥ 0 eV, got {degeneracy_tol!r}")
    if broadening is not None:
        if "broadening" in resp.defaults:
            resp = resp.with_params(broadening=broadening)
        elif not math.isfinite(broadening) or broadening < 0:
            raise ValueError(f"broadening must be a finite number ≥ 0 eV, got {broadening!r}")
        elif broadening:
            raise ValueError(f"broadening applies to the conventional spin current only, not {resp.name!r}")
    mesh = meshes.resolve(mesh, model, resp)
    meshes.check_cutoff(mesh, model, fermi_in)
    engine = engine or Engine(chunk_size=default_chunk_size(model.nbands))

    order = np.argsort(fermi_in)
    sweeps = tuple(Sweep(fermi_in[order], t) for t in temps)
    job = Job(model, mesh, resp, sweeps, float(degeneracy_tol))
    total = engine.run(job)

    comp = resp.coords(model.dim)
    shape = tuple(len(v) for v in comp.values())
    factor = resp.factor(model.dim)
    inverse = np.argsort(order)
    values = np.stack([s.finish(p)[inverse] for s, p in zip(sweeps, total.partials, strict=True)])
    values = factor * values.reshape((len(temps), len(fermi_in)) + shape)
    if hasattr(mesh, "symmetrize"):  # irreducible wedge: project on the symmetry-allowed form (properspin.symmetry)
        values = mesh.symmetrize(values, resp, model.dim)

    attrs: dict[str, Any] = {
        "response": resp.name,
        "description": resp.description,
        "units": resp.unit(model.dim),
        "temperature_K": float(temps[0]) if np.ndim(temperature) == 0 else temps.tolist(),
        "broadening_eV": float(resp.params.get("broadening", 0.0)),
        "response_parameters": dict(resp.params),
        "degeneracy_tol_eV": float(degeneracy_tol),
        "degenerate_kpoints": total.degenerate_kpoints,
        "degenerate_band_pairs": sorted(total.degenerate_bands),
        **model.describe(),
        **{f"mesh_{k}" if not k.startswith("mesh") else k: v for k, v in mesh.describe().items()},
        **engine.describe(),
    }
    if total.degenerate_kpoints:
        _warn_degenerate(resp.name, total, mesh.size, degeneracy_tol)
    coords: dict[str, Any] = {"fermi": fermi_in, **comp}
    if np.ndim(temperature) == 0:
        values = values[0]
    else:
        coords = {"temperature": temps, **coords}
    return make_result(values, coords, attrs, resp.name)


def _warn_degenerate(name: str, total, size: int, tol: float) -> None:
    import warnings

    pairs = ", ".join(f"({m},{n})" for m, n in sorted(total.degenerate_bands)[:8])
    warnings.warn(
        f"{name}: {total.degenerate_kpoints} of {size} k-points have near-degenerate band pairs "
        f"(|Δε| < {tol:g} eV) with a finite, gauge-dependent contribution to Σ (bands {pairs}); they were "
        "excluded. The band-diagonal spin is not defined inside a degenerate subspace: lift the degeneracy "
        "with model.with_zeeman((mx, my, mz)) (conventions §3).",
        DegeneracyWarning,
        stacklevel=3,
    )


class DegeneracyWarning(UserWarning):
    """Near-degenerate bands made part of a spin response gauge-dependent (conventions §3)."""
