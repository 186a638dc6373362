"""One preparation step: the inputs of a calculation, validated once, as an immutable :class:`PreparedJob`.

:func:`prepare` is the single place where a model, a response, a mesh, Fermi energies, temperatures and the
arbitrary choices (broadening, degeneracy tolerance) are checked against each other and resolved: the mesh fixed
to the model (``grid(n)`` → a grid of the model's dimension; ``grid(n, symmetry=...)`` → the irreducible wedge and
its projector, one object), the Fermi grid sorted once, the response given its parameters.  It is used by
:func:`~properspin.conductivity`, run files (:mod:`properspin.config`), adaptive refinement, :func:`converge
<properspin.converge.converge>` and filling.  Every refusal is an :class:`InputError` (a ``ValueError``) whose
``parameter`` names the argument at fault, so that a run file can name its own key for the same message.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import mesh as meshes
from . import responses
from .chunk import Job
from .conventions import DEGENERACY_TOL
from .engine import default_chunk_size
from .model import Model
from .sweep import Sweep
from .validate import check_fermi_limit, check_size, finite_float, real_array


class InputError(ValueError):
    """A refused input of :func:`prepare`; ``parameter`` is the argument at fault (``"fermi"``, ``"mesh"``,
    ``"cutoff"`` (the mesh's radius), ``"symmetry"``, ``"temperature"``, ``"broadening"``, ``"degeneracy_tol"``,
    ``"response"``, ``"model"``); ``str()`` is the message alone."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@contextlib.contextmanager
def blame(parameter: str) -> Iterator[None]:
    """Turn a ``ValueError`` raised inside into an :class:`InputError` for ``parameter`` (same message)."""
    try:
        yield
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(parameter, str(exc)) from None


@dataclass(frozen=True, eq=False)
class PreparedJob:
    """A validated, immutable calculation: what :func:`properspin.calculation.evaluate` runs.

    ``mesh`` is resolved for the model and the response; ``symmetry`` is the reduced mesh itself when it is an
    irreducible wedge (it carries the projector, :meth:`project`), else None.  ``fermi`` keeps the caller's
    order; ``temperatures`` is 1D (``scalar_temperature``: the caller gave one number).  ``choices`` are the
    arbitrary choices, recorded in the result's attrs; ``band_attrs`` (responses with Fermi-surface terms) which
    Fermi energies lie in a gap and the band ranges on the mesh.
    """

    model: Model
    response: responses.Response
    mesh: meshes.Mesh
    fermi: np.ndarray
    temperatures: np.ndarray
    scalar_temperature: bool
    degeneracy_tol: float
    isolated: list[dict[str, Any]] | None = None
    choices: dict[str, Any] = field(default_factory=dict)
    band_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def symmetry(self) -> meshes.Mesh | None:
        """The irreducible wedge with its projector (``symmetrize``), or None on a plain mesh."""
        return self.mesh if hasattr(self.mesh, "symmetrize") else None

    @property
    def order(self) -> np.ndarray:
        """The permutation sorting :attr:`fermi` (the sweeps need ascending energies)."""
        return np.argsort(self.fermi)

    def engine_job(self) -> Job:
        """The :class:`~properspin.chunk.Job` the engine streams: one sweep per temperature."""
        levels = self.fermi[self.order]
        sweeps = tuple(Sweep(levels, t) for t in self.temperatures)
        return Job(self.model, self.mesh, self.response, sweeps, self.degeneracy_tol)

    def project(self, values: np.ndarray, response: responses.Response | None = None) -> np.ndarray:
        """The symmetry projector P on the trailing component axes (identity without symmetry), with the law of
        ``response`` (default: the job's; a companion sum has its own)."""
        sym = self.symmetry
        return values if sym is None else sym.symmetrize(values, response or self.response, self.model.dim)


def prepare(
    model: Model,
    response: str | responses.Response,
    *,
    fermi: Any,
    mesh: meshes.Mesh,
    temperature: Any = 0.0,
    broadening: float | None = None,
    degeneracy_tol: float = DEGENERACY_TOL,
    strict_symmetry: bool = False,
) -> PreparedJob:
    """Validate and resolve the inputs of :func:`~properspin.conductivity` (same parameters) once.

    ``fermi=None`` takes the model's :class:`~properspin.model.RunDefaults` Fermi energies where it has them (a
    Wannier90 run's ``fermi_energy``; recorded in attrs as ``fermi_from``).

    ``strict_symmetry``: a requested symmetry whose structure does not fit the model (another lattice) is an
    :class:`InputError` instead of a warning and the full grid (run files use it).  Raises ``TypeError`` for a
    model that is not a :class:`~properspin.Model`, :class:`InputError` for everything else.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a properspin.Model, got {type(model).__name__}")
    with blame("response"):
        resp = _response(model, response, broadening)
    with blame("model"):
        if model.dim not in (2, 3):
            raise ValueError(f"conductivities are defined for 2D and 3D models, not dim={model.dim}")
    defaults = model.run_defaults
    from_defaults = fermi is None and defaults is not None and bool(defaults.fermi_energies)
    with blame("fermi"):
        fermi_in = fermi_array(defaults.fermi_energies if from_defaults else fermi)  # type: ignore[union-attr]
    with blame("temperature"):
        temps = temperatures(temperature)
    with blame("degeneracy_tol"):
        tol = _tolerance(degeneracy_tol)
    with blame("response"):
        _orbital_routes(model, resp)
    mesh = resolve_sampling(model, mesh, fermi_in, float(temps.max()), resp, strict_symmetry)
    with blame("degeneracy_tol"):
        check_precision(model, mesh, tol)
    band_attrs: dict[str, Any] = {}
    if resp.surface:
        with blame("temperature"):
            band_attrs = _surface_needs_temperature(model, mesh, resp.name, fermi_in, temps)
    isolated = None
    if resp.kind == "spin" and resp.uses_diagonal_spin and model.dim == 2:
        isolated = meshes.isolated_degeneracies(mesh, model, float(fermi_in.max()), tol)
    choices = {"temperature_K": float(temps[0]) if np.ndim(temperature) == 0 else temps.tolist(),
               "broadening_eV": float(resp.params.get("broadening", 0.0)),
               "response_parameters": dict(resp.params), "degeneracy_tol_eV": tol}
    if from_defaults:
        choices["fermi_from"] = f"the model's run defaults ({defaults.source})"  # type: ignore[union-attr]
    return PreparedJob(model, resp, mesh, fermi_in, temps, bool(np.ndim(temperature) == 0), tol, isolated, choices,
                       band_attrs)


def _response(model: Model, response: Any, broadening: float | None) -> responses.Response:
    """The response with ``broadening`` set (where it has one); refused when it needs a spin the model lacks."""
    resp = responses.get(response)
    if resp.needs_spin and not model.has_spin:
        why = model.info.get("spin_operator")
        raise ValueError(f"response {resp.name!r} needs a spin operator, but model '{model.name}' has spin=None"
                         + (f" ({why})" if why else "") + " (try 'charge')")
    if broadening is not None:
        if "broadening" in resp.defaults:
            with blame("broadening"):
                resp = resp.with_params(broadening=broadening)
        else:
            with blame("broadening"):
                finite_float(broadening, "broadening (eV)", nonnegative=True)
                if broadening:
                    raise ValueError(f"broadening applies to the conventional spin current only, not {resp.name!r}")
    return resp


def _orbital_routes(model: Model, resp: responses.Response) -> None:
    """The Qiao warning, and point-orbital models for the finite-q / Zeeman routes."""
    if resp.params.get("method") == "qiao":  # the ab-initio spin current of a Wannier90 run
        from .models.wannier.run import warn_qiao_conditioning

        warn_qiao_conditioning(model, stacklevel=4)
    if resp.point_orbitals and (model.periodic or not resp.surface):
        from .orbital import point_orbitals

        point_orbitals(model)  # refuses continuum and full-position-matrix models before computing


def resolve_sampling(model: Model, mesh: Any, fermi: np.ndarray, temperature: float,
                     response: responses.Response | None = None, strict_symmetry: bool = False) -> meshes.Mesh:
    """The mesh fixed to the model (and ``response``), checked against the Fermi energies: the model's Fermi limit,
    a continuum model's cutoff surface (conventions §4; :func:`~properspin.conserved_metal.check_continuum` for
    point-orbital Fermi-surface responses).  :func:`prepare` and :mod:`properspin.filling` use it."""
    resolved = _mesh(model, response, mesh, strict_symmetry)
    with blame("fermi"):
        check_fermi_limit(model, float(fermi.max()))
    with blame("cutoff"):
        if response is not None and response.point_orbitals and not model.periodic and response.surface:
            from .conserved_metal import check_continuum
            from .units import K_B_EV

            check_continuum(model, resolved, fermi, K_B_EV * temperature)
        meshes.check_cutoff(resolved, model, fermi, temperature)
    return resolved


def _mesh(model: Model, resp: responses.Response | None, mesh: Any, strict_symmetry: bool) -> meshes.Mesh:
    """The mesh fixed to the model and response (the irreducible wedge of a symmetric grid)."""
    if strict_symmetry and hasattr(mesh, "resolve_for"):
        from .symmetry import group_for

        with blame("mesh"):
            meshes.resolve(mesh.grid, model)
        try:
            group_for(model, mesh.symmetry)
        except (ValueError, TypeError) as exc:
            raise InputError("symmetry", str(exc)) from None
    with blame("mesh"):
        return meshes.resolve(mesh, model, resp)


def fermi_array(fermi: Any, distinct: bool = True) -> np.ndarray:
    """Fermi energies (eV) as a 1D array of finite numbers (``distinct``: all different), in the caller's order."""
    if fermi is None:  # before: "fermi contains NaN or inf"
        raise ValueError("fermi is missing (None): give a number or a 1D sequence of energies (eV)")
    arr = np.atleast_1d(real_array(fermi, "fermi", finite=False))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("fermi must be a number or a 1D sequence of energies (eV)")
    check_size(arr.size, "Fermi energies", "fermi")
    if not np.all(np.isfinite(arr)):
        raise ValueError("fermi contains NaN or inf")
    if distinct and len(np.unique(arr)) != len(arr):
        raise ValueError("fermi energies must be distinct")
    return arr


def temperatures(temperature: Any) -> np.ndarray:
    """Temperatures (K) as a 1D array of finite numbers ≥ 0."""
    t = np.atleast_1d(real_array(temperature, "temperature", finite=False))
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"temperature must be a finite number or 1D sequence in kelvin, got {temperature!r}")
    if np.any(t < 0):
        raise ValueError(f"temperature must be ≥ 0 K (kelvin), got {temperature!r}")
    return t


def _tolerance(degeneracy_tol: Any) -> float:
    if not isinstance(degeneracy_tol, (int, float, np.integer, np.floating)) or not math.isfinite(degeneracy_tol) \
            or degeneracy_tol <= 0:
        raise ValueError(f"degeneracy_tol must be a finite number > 0 eV (with 0 every exactly degenerate pair "
                         f"divides by zero), got {degeneracy_tol!r}")
    return float(degeneracy_tol)


#: Bound on the eigenvalue error of a Hermitian n × n matrix, in units of n ε_machine ‖H‖ (LAPACK's is O(n ε ‖H‖)).
_EIGEN_ERROR = 8.0


def check_precision(model: Model, mesh: meshes.Mesh, degeneracy_tol: float) -> None:
    """Refuse an H whose size makes ``degeneracy_tol`` meaningless, judged at a few k-points of the mesh.

    Eigenvalues are accurate to about ``n ε ‖H‖`` (ε = 2.2e-16): when that exceeds ``degeneracy_tol``, degenerate
    bands split by round-off are not recognised and their 1/Δ² terms are garbage (H scaled by 1e300 gave NaN,
    by 1e10 numbers that depend on round-off).  A tolerance above the whole spectrum width ``2‖H‖``
    would exclude every pair.  Both are refused with the numbers.
    """
    k, _ = mesh.sample(model)
    h = model.h(k)
    with np.errstate(over="ignore", invalid="ignore"):
        norm = float(np.max(np.linalg.norm(h, ord=2, axis=(1, 2)))) if h.shape[1] else 0.0
    if not math.isfinite(norm) or norm > 1e100:
        raise ValueError(f"H(k) of model '{model.name}' has a norm of {norm:.3g} eV: energies are in eV and must stay "
                         "well below 1e100")
    error = _EIGEN_ERROR * model.nbands * np.finfo(float).eps * norm
    if error > degeneracy_tol:
        raise ValueError(
            f"H(k) of model '{model.name}' has a norm of {norm:.3g} eV, so its eigenvalues are accurate to about "
            f"{error:.2g} eV only, more than degeneracy_tol = {degeneracy_tol:g} eV: degenerate bands could not be "
            f"told apart from split ones. Raise degeneracy_tol above {error:.2g} eV or write H with smaller numbers "
            "(energies in eV)")
    if model.nbands > 1 and 0 < 2 * norm < degeneracy_tol:
        raise ValueError(f"degeneracy_tol = {degeneracy_tol:g} eV exceeds the width of the whole spectrum "
                         f"(2‖H‖ = {2 * norm:.3g} eV): every band pair would be excluded")


def band_ranges(model: Model, mesh: meshes.Mesh) -> np.ndarray:
    """(n, 2) lowest and highest energy of each band on the mesh (eV), streamed in chunks."""
    mesh = meshes.resolve(mesh, model)
    lo = np.full(model.nbands, np.inf)
    hi = np.full(model.nbands, -np.inf)
    step = 4 * default_chunk_size(model.nbands)
    for start in range(0, mesh.size, step):
        e = model.energies(mesh.points(model, start, min(mesh.size, start + step))[0])
        lo, hi = np.minimum(lo, e.min(0)), np.maximum(hi, e.max(0))
    return np.stack([lo, hi], axis=1)


def in_bands(model: Model, mesh: meshes.Mesh, fermi: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Band ranges (n, 2) on the mesh and which Fermi energies lie inside one (widened by ``margin`` eV)."""
    ranges = band_ranges(model, mesh)
    inside = np.any((fermi[:, None] > ranges[None, :, 0] - margin) & (fermi[:, None] < ranges[None, :, 1] + margin),
                    axis=1)
    return ranges, inside


def _surface_needs_temperature(model: Model, mesh: meshes.Mesh, name: str, fermi: np.ndarray,
                               temps: np.ndarray) -> dict[str, Any]:
    """Refuse T = 0 at a Fermi energy inside a band for a response with Fermi-surface terms."""
    ranges, inside = in_bands(model, mesh, fermi, 0.0)
    if inside.any() and np.any(temps <= 0):
        raise ValueError(
            f"{name}: {int(inside.sum())} Fermi energies (first {fermi[inside][0]:g} eV) lie in a band, where the "
            "response has Fermi-surface terms δ(ε − E_F): set temperature > 0 (K); k_BT is the width of that δ on "
            "the mesh (take T → 0 with finer meshes, docs/physics.md)")
    return {"fermi_in_gap": (~inside).astype(int).tolist(), "band_ranges_eV": ranges.tolist(),
            "fermi_surface_smearing": "Fermi-Dirac at the calculation temperature: -f'(e - E_F)"}
