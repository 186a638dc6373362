"""One call from a model to a labelled result: model → k-mesh → band geometry → response → sweep.

:func:`conductivity` is the public entry point: :func:`~properspin.prepare.prepare` validates the input once
into a :class:`~properspin.prepare.PreparedJob`, and :func:`evaluate` lets the :class:`~properspin.engine.Engine`
stream its mesh and labels the sums with units.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import xarray as xr

from . import mesh as meshes
from . import responses
from .conventions import DEGENERACY_TOL
from .engine import Engine, default_chunk_size
from .model import Model
from .prepare import PreparedJob, in_bands, prepare
from .response_contract import MetallicFermiWarning
from .results import make_result

log = logging.getLogger(__name__)


def conductivity(
    model: Model,
    response: str | responses.Response,
    *,
    fermi: Any,
    mesh: meshes.Mesh,
    temperature: Any = 0.0,
    broadening: float | None = None,
    degeneracy_tol: float = DEGENERACY_TOL,
    engine: Engine | None = None,
) -> xr.DataArray:
    """Intrinsic response tensor of ``model`` at every Fermi energy, from one pass over ``mesh``.

    Parameters
    ----------
    model
        A :class:`~properspin.Model`.
    response
        ``"proper_spin"`` (Eq. 1), ``"conventional_spin"``, ``"torque_dipole"`` (proper − conventional),
        ``"charge"`` (anomalous Hall), ``"appendix_c"`` (the four terms of App. C), ``"torque"``, the
        definition routes ``"conserved_spin_kubo"``, ``"torque_dipole_kubo"``, ``"conserved_spin_streda"``
        (insulators: NaN and a :class:`MetallicFermiWarning` at Fermi energies in a band) or
        ``"orbital_magnetization"``; or a response with its parameters set,
        ``responses.get("conventional_spin", broadening=0.01)``.
    fermi
        Fermi energies in eV (any order; the result keeps it); ``None``: the model's ``run_defaults`` (a
        Wannier90 run's ``fermi_energy``), else an error.
    mesh
        ``mesh.grid(n)`` for periodic models; ``mesh.disk/sphere/cylinder`` cutoffs for k·p models.
    temperature
        Kelvin, a number or a sequence (then a leading ``temperature`` dimension is added).
    broadening
        Shorthand for the response parameter ``broadening``: η (eV) in the energy denominators of the
        conventional spin current, 1/(Δ² + η²), as Wannier90/WannierTools; 0 is the clean limit (only
        conventional/torque-dipole have it).  ``None`` keeps the response's own value.
    degeneracy_tol
        Bands closer than this (eV) form a degenerate block: the spin responses use the block-trace form of
        Eq. (2) there (the response parameter ``degenerate`` chooses, conventions §3), pairs inside a block
        are excluded from every energy denominator, and the k-points where it matters are counted.
    engine
        Chunking/executor settings (:class:`~properspin.engine.Engine`).

    Returns
    -------
    xarray.DataArray with dims ``("fermi", "spin", "current", "field")`` (spin responses) or
    ``("fermi", "current", "field")`` (charge); ``attrs["units"]`` is ``e/8pi``/``e^2/h`` in 2D and
    ``(hbar/2e) S/m``/``S/m`` in 3D; the attrs also record every input that produced it.
    """
    job = prepare(model, response, fermi=fermi, mesh=mesh, temperature=temperature, broadening=broadening,
                  degeneracy_tol=degeneracy_tol)
    return evaluate(job, engine)


def evaluate(job: PreparedJob, engine: Engine | None = None) -> xr.DataArray:
    """Run a :func:`~properspin.prepare.prepare`-d job on the engine and label the sums (:func:`conductivity`)."""
    model, resp = job.model, job.response
    engine = engine or Engine(chunk_size=default_chunk_size(model.nbands))
    streamed = job.engine_job()
    total = engine.run(streamed)
    values = _values(job, streamed.sweeps, total)
    gap_attrs: dict[str, Any] = dict(job.band_attrs) if resp.surface else {}  # T > 0 in a band: prepare() checked
    gap_attrs |= _companion_attrs(job, streamed.sweeps, total, values)
    if resp.insulator_only:
        values, outside = _outside_gaps(model, job.mesh, resp.name, job.fermi, job.temperatures, values)
        gap_attrs |= outside
    attrs: dict[str, Any] = {
        "response": resp.name,
        "description": resp.description,
        "units": resp.unit(model.dim),
        **job.choices,
        "degenerate_kpoints": total.degenerate_kpoints,
        "degenerate_band_pairs": sorted(total.degenerate_bands),
        **model.describe(),
        **{f"mesh_{k}" if not k.startswith("mesh") else k: v for k, v in job.mesh.describe().items()},
        **engine.describe(),
        **gap_attrs,
    }
    _diagnose(job, total, attrs)
    coords: dict[str, Any] = {"fermi": job.fermi, **resp.coords(model.dim)}
    if job.scalar_temperature:
        values = values[0]
    else:
        coords = {"temperature": job.temperatures, **coords}
    return make_result(values, coords, attrs, resp.name)


def _values(job: PreparedJob, sweeps: tuple[Any, ...], total: Any) -> np.ndarray:
    """The finished sums (temperature, fermi, *components) in the caller's Fermi order, in result units and
    projected on the symmetry-allowed form; refused when not finite."""
    resp = job.response
    values = _finished(job, resp, sweeps, [p[:, : resp.width(job.model.dim)] for p in total.partials])
    if not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))[0]
        raise ValueError(f"{resp.name}: the sums are not finite ({np.count_nonzero(~np.isfinite(values))} "
                         f"entries NaN or inf, first at E_F = {job.fermi[bad[1]]:g} eV): an overflow in the model's "
                         "matrices (H, ∂H/∂k, spin, position) or a near-degenerate pair below degeneracy_tol")
    return values


def _finished(job: PreparedJob, resp: responses.Response, sweeps: tuple[Any, ...],
              partials: list[np.ndarray]) -> np.ndarray:
    """Partial sums of ``resp`` (one per sweep) → (temperature, fermi, *components) in result units, projected."""
    dim = job.model.dim
    shape = tuple(len(v) for v in resp.coords(dim).values())
    inverse = np.argsort(job.order)
    finish = "finish_surface" if resp.surface else "finish"
    values = np.stack([getattr(s, finish)(p, grand=resp.grand)[inverse] for s, p in zip(sweeps, partials,
                                                                                         strict=True)])
    return job.project(resp.factor(dim) * values.reshape((len(job.temperatures), len(job.fermi)) + shape), resp)


def _companion_attrs(job: PreparedJob, sweeps: tuple[Any, ...], total: Any, values: np.ndarray) -> dict[str, Any]:
    """The attrs of the response's companion sums (:class:`~properspin.response_contract.Companion`), accumulated
    in the same pass: columns after the response's own in every partial sum."""
    resp, out = job.response, {}
    edges = np.cumsum(resp.columns(job.model.dim))
    for comp, other, a, b in zip(resp.companions, resp.companion_responses, edges[:-1], edges[1:], strict=True):
        sums = _finished(job, other, sweeps, [p[:, a:b] for p in total.partials])
        out |= comp.summary(job, values, sums)
    return out


def _diagnose(job: PreparedJob, total: Any, attrs: dict[str, Any]) -> None:
    """Record the degenerate-block treatment and isolated touchings in ``attrs``; warn where they matter."""
    name, treatment = job.response.name, job.response.params.get("degenerate")
    if treatment is not None:
        attrs["degenerate_treatment"] = _TREATMENTS[treatment]
    if total.degenerate_kpoints and treatment == "exclude":
        _warn_degenerate(name, total, job.mesh.size, job.degeneracy_tol)
    if job.isolated is not None:
        attrs["isolated_degeneracies"] = job.isolated
        if job.isolated:
            _warn_isolated(name, job.isolated)


#: An insulator-only response needs E_F at least this many k_BT from every band (on the mesh).
GAP_MARGIN_KT = 10.0


def _outside_gaps(model: Model, mesh: meshes.Mesh, name: str, fermi: np.ndarray, temps: np.ndarray,
                  values: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """NaN at Fermi energies inside a band (or within 10 k_BT of one, on the mesh), with a warning."""
    from .units import K_B_EV

    ranges, inside = in_bands(model, mesh, fermi, GAP_MARGIN_KT * K_B_EV * float(np.max(temps)))
    if inside.any():
        values = values.copy()
        values[:, inside] = np.nan
        warnings.warn(
            f"{name}: {int(inside.sum())} of {len(fermi)} Fermi energies lie in a band (or within "
            f"{GAP_MARGIN_KT:g} k_BT of one) on this mesh; the response is defined for insulators only (its "
            "Fermi-surface terms are in conserved_spin_metal / conserved_spin_streda_metal / torque_dipole_metal), "
            "so they are NaN", MetallicFermiWarning, stacklevel=4)
    return values, {"fermi_in_gap": (~inside).astype(int).tolist(), "band_ranges_eV": ranges.tolist()}


_TREATMENTS = {
    "block_trace": "block_trace: Eq. (2) in block-trace form on bands degenerate within degeneracy_tol_eV "
                   "(conventions §3); degenerate_kpoints counts the k-points where a block's spin is not ∝ 1",
    "exclude": "exclude: Eq. (2) with pairs inside degeneracy_tol_eV dropped and s_nn of the eigensolver's basis "
               "(gauge-dependent at the degenerate_kpoints)",
    "regulated_limit": "regulated_limit: the λ → 0 limit of Eq. (2) for H + λ m̂·σ, m̂ = response parameter "
                       "'regulator', as parts block_trace + projection Π(m̂) + intra_pair X(m̂) (conventions §3); "
                       "the projection and intra_pair parts depend on the arbitrary direction m̂",
}


def _warn_degenerate(name: str, total, size: int, tol: float) -> None:
    pairs = ", ".join(f"({m},{n})" for m, n in sorted(total.degenerate_bands)[:8])
    warnings.warn(
        f"{name}: {total.degenerate_kpoints} of {size} k-points have near-degenerate band pairs "
        f"(|Δε| < {tol:g} eV) with a finite, gauge-dependent contribution to Σ (bands {pairs}); they were "
        "excluded. The band-diagonal spin is not defined inside a degenerate subspace: lift the degeneracy "
        "with model.with_zeeman((mx, my, mz)) (conventions §3).",
        DegeneracyWarning,
        stacklevel=5,
    )


def _warn_isolated(name: str, found: list[dict[str, Any]]) -> None:
    where = "; ".join(f"bands {d['bands'][0]},{d['bands'][1]} at k = {tuple(round(x, 6) for x in d['k'])} "
                      f"(E = {d['energy_eV']:.6g} eV, {'on' if d['on_mesh'] else 'not on'} the mesh)" for d in found)
    warnings.warn(
        f"{name}: isolated band touching(s) below the highest Fermi energy: {where}. In 2D such a point carries "
        "a δ-function of pair Berry curvature that no mesh resolves; its contribution depends on how the touching "
        "is resolved: the value computed omits it (as the block trace and any dephasing do), while an exchange "
        "field m → 0 adds it (Rashba with m_z → 0⁺: −e/8π with both subbands occupied). Decide which you mean "
        "(e.g. model.with_zeeman((0, 0, mz)) and a small-m scan); recorded in attrs['isolated_degeneracies'].",
        UnresolvedDegeneracyWarning,
        stacklevel=5,
    )


class DegeneracyWarning(UserWarning):
    """Near-degenerate bands made part of a spin response gauge-dependent (conventions §3)."""


class UnresolvedDegeneracyWarning(DegeneracyWarning):
    """An isolated band touching that the mesh does not resolve changes a spin response (conventions §3)."""
