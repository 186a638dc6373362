"""Adaptive k-mesh refinement of a periodic grid, in the spirit of Wannier90's ``berry_curv_adpt_kmesh``.

Berry-curvature-like integrands of metals have sharp peaks where spin–orbit coupling opens a small gap
near the Fermi surface; a uniform grid converges slowly because a few k-points carry large, badly
sampled contributions.  :func:`adaptive_conductivity` evaluates the integrand

    ``I_k = factor · Σ_m θ(E_F − ε_mk) Q_mk``     (the response per unit k-space weight, T = 0)

at every point of ``grid(n)``, flags the points where ``max |I_k|`` over Fermi energies and components
exceeds ``threshold × mean_k max |I_k|`` (a *relative* threshold: ``threshold = 20`` flags points whose
integrand is 20 times the grid average), replaces each flagged point by a ``refine^d`` sub-grid centred on
it with weights ``w/refine^d``, and repeats on the new points up to ``max_iterations`` times (always
against the base-grid mean).  The result is :func:`~properspin.conductivity` on the explicit mesh of
unflagged and refined points.

For the occupied–occupied part of the proper spin current of a metal (conventions §3) the size of the integrand
is the wrong guide: near an avoided crossing inside the Fermi sea it has a core of height ∝ 1/Δ² and radius
∝ Δ/v that nearly cancels against its surroundings.  ``gap=Δ₀`` flags, besides the integrand's peaks, every
point whose smallest gap between two bands that are both occupied for some requested E_F (both ≤ max E_F; pairs
inside a degenerate block excluded) is below ``Δ₀`` on the base grid and below ``Δ₀/refine^i`` in round i, so
that each round resolves cores ``refine`` times smaller.

Where such cores are true fourfold points (two Kramers pairs crossing on a rotation axis, or a Γ8 quartet) the
integrand is ∝ 1/|k − p|²: integrable in 3D but never resolved by refinement.  :func:`singular_point_mesh` /
:func:`singular_point_conductivity` integrate them exactly in the limit: the grid with weights 1 − Σ_p χ_p plus a
spherical Gauss–Legendre ball around each point with weights χ_p (χ a C∞ bump of the distance to p).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import xarray as xr

from . import mesh as meshes
from . import responses
from .calculation import conductivity
from .chunk import states
from .conventions import DEGENERACY_TOL, new_block
from .engine import default_chunk_size
from .model import Model
from .prepare import prepare
from .results import make_result


def _scan(
    model: Model, resp: responses.Response, k: np.ndarray, w: np.ndarray, fermi: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point ``max |I_k|`` (N,), the T = 0 sum ``Σ_k w_k I_k`` (nfermi, ncomp) and the smallest
    occupied–occupied gap (N,) (:func:`occupied_gap`), streamed in chunks.

    ``I_k = factor · Σ_m θ(E_F − ε_mk) Q_mk`` is the integrand in result units per unit weight; ``Q`` comes from
    the numpy chunk path (:func:`properspin.chunk.states`).
    """
    scores, gaps, total = [], [], 0.0
    step = default_chunk_size(model.nbands)
    for start in range(0, len(k), step):
        g, q = states(model, resp, k[start : start + step], tol)  # q: (ncomp, N, n)
        occ = (g.energies[None, :, :] <= fermi[:, None, None]).astype(float)  # (nfermi, N, n)
        integrand = resp.factor(model.dim) * np.einsum("fkm,ckm->kfc", occ, q)
        scores.append(np.abs(integrand).max(axis=(1, 2)))
        gaps.append(occupied_gap(g.energies, float(fermi.max()), tol))
        total = total + np.einsum("k,kfc->fc", w[start : start + step], integrand)
    return np.concatenate(scores), np.asarray(total), np.concatenate(gaps)


def occupied_gap(energies: np.ndarray, fermi_max: float, tol: float) -> np.ndarray:
    """Smallest gap ε_{m+1} − ε_m (≥ ``tol``: degenerate blocks excluded) between consecutive bands both
    ≤ ``fermi_max``, per k-point (N,); ``inf`` where there is none."""
    d = np.diff(energies, axis=1)
    ok = (energies[:, 1:] <= fermi_max) & new_block(d, tol)
    return np.where(ok, d, np.inf).min(axis=1, initial=np.inf)


def _dilate(flag: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Add the 3^d − 1 (periodic) grid neighbours of every flagged point."""
    grid = flag.reshape(shape)
    out = grid.copy()
    for shift in itertools.product((-1, 0, 1), repeat=len(shape)):
        out |= np.roll(grid, shift, axis=tuple(range(len(shape))))
    return out.ravel()


def _dilate_stars(flag: np.ndarray, base: Any, model: Model) -> np.ndarray:
    """:func:`_dilate` for the irreducible points of a grid: flags spread to whole stars, then to grid neighbours,
    and back to the representatives (a star is refined when any of its points is)."""
    from .symmetry import irreducible_points

    grid = base.grid
    rep = irreducible_points(grid.n, grid.shift, model.reciprocal, base.group, full=True)
    where = np.searchsorted(base.index, rep)  # position of each grid point's representative
    full = _dilate(flag[where], grid.n)
    out = np.zeros_like(flag)
    out[where[full]] = True
    return out


def _subgrid(k: np.ndarray, w: np.ndarray, step: np.ndarray, refine: int) -> tuple[np.ndarray, np.ndarray]:
    """Replace each point by refine^d points centred on it; ``step`` (d, d) rows are grid steps in Cartesian k."""
    d = k.shape[1]
    offsets = (np.arange(refine) + 0.5) / refine - 0.5
    frac = np.array(list(itertools.product(offsets, repeat=d)))  # (refine^d, d)
    shifts = frac @ step
    new_k = (k[:, None, :] + shifts[None]).reshape(-1, d)
    return new_k, np.repeat(w / refine**d, len(shifts))


def adaptive_conductivity(
    model: Model,
    response: str | responses.Response,
    *,
    fermi: Any,
    n: int | tuple[int, ...],
    refine: int = 5,
    threshold: float = 20.0,
    max_iterations: int = 1,
    neighbours: bool = True,
    gap: float | None = None,
    symmetry: Any = None,
    **kwargs: Any,
) -> xr.DataArray:
    """:func:`~properspin.conductivity` on ``grid(n)`` refined around the integrand's peaks.

    Parameters
    ----------
    model, response, fermi
        As for :func:`~properspin.conductivity`; ``model`` must be periodic.
    n
        Base Monkhorst–Pack grid (``grid(n)``).
    refine
        Each flagged point becomes a ``refine^d`` sub-grid (Wannier90's ``berry_curv_adpt_kmesh``).
    threshold
        Relative: a point is flagged when its ``max |I_k|`` exceeds ``threshold ×`` the base-grid mean of
        ``max |I_k|`` (Fermi energies and components; ``I_k`` is the integrand, independent of the weight).
    max_iterations
        Refinement rounds; later rounds refine the newly added points that still exceed the threshold.
    neighbours
        Also refine the grid neighbours of each base point flagged by ``threshold`` (the peak's tails: the
        junction of a refined and an unrefined cell is where the mixed rule loses accuracy).
    gap
        Also flag by the smallest occupied–occupied gap (eV): points whose gap between two bands both below the
        highest Fermi energy is below ``gap`` (``gap/refine^i`` in round i), besides those above ``threshold``
        (``threshold=math.inf`` leaves the gap alone).
    symmetry
        As for ``mesh.grid(n, symmetry=...)`` (:mod:`properspin.symmetry`): the base grid is reduced to its
        irreducible wedge, whole stars are refined together, and the result is projected on the symmetry-allowed
        form (verified on the model first; the full grid with a warning if the model breaks the symmetry).
    **kwargs
        ``temperature``, ``broadening``, ``degeneracy_tol``, ``engine`` for :func:`conductivity` (the
        flagging uses T = 0 occupations).

    Returns
    -------
    The refined result; ``attrs`` add ``adaptive_base_grid``, ``adaptive_refine``, ``adaptive_threshold``,
    ``adaptive_refined_points`` (base points refined, all rounds), ``adaptive_total_points`` and
    ``adaptive_error_estimate`` = max |refined − unrefined| (the change made by refinement, result units).
    """
    _check_options(model, response, refine, threshold, max_iterations, gap)
    job = prepare(model, response, fermi=fermi, mesh=meshes.grid(n, symmetry=symmetry),
                  temperature=kwargs.get("temperature", 0.0), broadening=kwargs.get("broadening"),
                  degeneracy_tol=kwargs.get("degeneracy_tol", DEGENERACY_TOL))
    resp, fermi_arr, base, tol = job.response, job.fermi, job.mesh, job.degeneracy_tol
    group = getattr(base, "group", None)
    grid = getattr(base, "grid", base)
    meshes.check_points(grid.size, _POINT_BYTES * (model.dim + 1), "adaptive_conductivity base grid")
    k, w = base.points(model, 0, base.size)
    score, unrefined, min_gap = _scan(model, resp, k, w, fermi_arr, tol)
    if np.any(np.asarray(kwargs.get("temperature", 0.0)) != 0):
        unrefined = conductivity(model, resp, fermi=fermi, mesh=base, **kwargs).values
    else:
        unrefined = job.project(unrefined.reshape(len(fermi_arr), *(len(v) for v in resp.coords(model.dim).values())))
    keep_k, keep_w, refined_base = _refine(model, resp, base, (k, w, score, min_gap), fermi_arr, tol,
                                           (int(refine), threshold, int(max_iterations), neighbours, gap))
    mesh = _refined_mesh(np.concatenate(keep_k), np.concatenate(keep_w), group)
    result = conductivity(model, resp, fermi=fermi, mesh=mesh, **kwargs)
    result.attrs |= {f"mesh_{k}" if not k.startswith("mesh") else k: v for k, v in base.describe().items()
                     if group is not None and k.startswith(("symmetry", "mesh_full"))}
    result.attrs |= {
        "adaptive_base_grid": str(list(grid.n)), "adaptive_refine": int(refine), "adaptive_threshold": float(threshold),
        "adaptive_criterion": "integrand" if gap is None else "integrand+occupied_gap",
        "adaptive_gap_eV": float(gap) if gap is not None else 0.0, "adaptive_iterations": int(max_iterations),
        "adaptive_refined_points": refined_base, "adaptive_total_points": mesh.size,
        "adaptive_error_estimate": float(np.abs(result.values - np.reshape(unrefined, result.shape)).max()),
    }
    return result


def _refined_mesh(k: np.ndarray, w: np.ndarray, group: Any) -> meshes.Mesh:
    """The explicit mesh of kept and refined points (with the projector of ``group`` when it is not None)."""
    if group is None:
        return meshes.explicit(k, w, periodic=True, label="adaptive")
    from .symmetry import SymmetrizedMesh

    return SymmetrizedMesh(k, w, group, label="adaptive")


#: Bytes per point and coordinate that refinement holds (k and w, with the copies refinement makes).
_POINT_BYTES = 8 * 4


def _check_options(model: Model, response: Any, refine: Any, threshold: float, max_iterations: Any,
                   gap: float | None) -> None:
    """Refuse refinement options :func:`adaptive_conductivity` cannot use (the rest is :func:`prepare`'s)."""
    if not isinstance(model, Model) or not model.periodic:
        raise ValueError("adaptive refinement needs a periodic properspin.Model (mesh.grid)")
    resp = responses.get(response)
    if resp.grand:
        raise ValueError(f"adaptive refinement does not support {resp.name!r} (a grand-potential-weighted response); "
                         "use conductivity() on a finer grid")
    if isinstance(refine, bool) or int(refine) != refine or refine < 2:
        raise ValueError(f"refine must be an integer ≥ 2, got {refine!r}")
    if math.isnan(threshold) or threshold <= 0 or (math.isinf(threshold) and gap is None):
        raise ValueError(f"threshold must be a positive number (relative to the mean; inf only with gap=), "
                         f"got {threshold!r}")
    if isinstance(max_iterations, bool) or int(max_iterations) != max_iterations or max_iterations < 1:
        raise ValueError(f"max_iterations must be a positive integer, got {max_iterations!r}")
    if gap is not None and (isinstance(gap, bool) or not math.isfinite(gap) or gap <= 0):
        raise ValueError(f"gap must be a positive energy in eV (or None), got {gap!r}")


def _refine(model: Model, resp: responses.Response, base: Any, scanned: tuple[np.ndarray, ...], fermi: np.ndarray,
            tol: float, options: tuple[int, float, int, bool, float | None]) -> tuple[list, list, int]:
    """The refinement rounds of :func:`adaptive_conductivity`: (kept k per round, kept w per round, base points
    refined).  ``scanned`` = (k, w, score, min_gap) of the base points; ``options`` = (refine, threshold,
    max_iterations, neighbours, gap)."""
    refine, threshold, max_iterations, neighbours, gap = options
    k, w, score, min_gap = scanned
    group = getattr(base, "group", None)
    grid = getattr(base, "grid", base)
    step = model.reciprocal / np.asarray(grid.n)[:, None]  # rows: grid step along each b_a
    point_bytes = _POINT_BYTES * (model.dim + 1)
    cut = threshold * np.average(score, weights=w)  # the full-grid mean (weights ∝ star sizes)
    keep_k, keep_w = [], []
    refined_base = 0
    for it in range(max_iterations):
        flag = score > cut
        if it == 0 and neighbours:  # the peaks' tails; the gap criterion flags cores itself
            flag = _dilate_stars(flag, base, model) if group is not None else _dilate(flag, grid.n)
        if gap is not None:
            flag |= min_gap < gap / refine**it
        if it == 0:
            refined_base = int(flag.sum())
        keep_k.append(k[~flag])
        keep_w.append(w[~flag])
        if not flag.any():
            k, w = k[:0], w[:0]
            break
        meshes.check_points(int(flag.sum()) * refine ** model.dim + sum(len(x) for x in keep_w), point_bytes,
                            f"adaptive_conductivity refinement {it + 1}")
        k, w = _subgrid(k[flag], w[flag], step / refine**it, refine)
        if it + 1 < max_iterations:
            score, _, min_gap = _scan(model, resp, k, w, fermi, tol)
    keep_k.append(k)
    keep_w.append(w)
    return keep_k, keep_w, refined_base


# ------------------------------------------------------------------------------------ postw90's refinement
def _integrand(model: Model, resp: responses.Response, k: np.ndarray, fermi: np.ndarray, tol: float) -> np.ndarray:
    """``I[k, f, c] = Σ_m θ(E_F − ε_mk) Q^c_mk`` (strict ε < E_F, as postw90), per unit weight (Å² for Ω)."""
    g, q = states(model, resp, k, tol)  # q: (ncomp, N, n)
    occ = (g.energies[None, :, :] < fermi[:, None, None]).astype(float)
    return np.einsum("fkm,ckm->kfc", occ, q)


def _score(resp: responses.Response, integrand: np.ndarray, dim: int, component: int | None) -> np.ndarray:
    """postw90's refinement measure per (k, E_F): |Ω| (Å²) for the charge response (AHC), else |Q| of one
    component (or the largest) in postw90's units (spin as σ, i.e. twice properspin's σ/2)."""
    if resp.name == "charge":
        q = integrand.reshape(*integrand.shape[:2], dim, dim)
        return np.sqrt(0.5 * np.sum(q**2, axis=(-2, -1)))
    scale = 2.0 if resp.kind == "spin" else 1.0
    vals = np.abs(integrand) if component is None else np.abs(integrand[..., component : component + 1])
    return scale * vals.max(axis=-1)


def _component_index(coords: dict[str, list[str]], component: dict[str, str] | None) -> int | None:
    """The flat index of ``component`` (e.g. ``{"spin": "z", "current": "x", "field": "y"}``) among ``coords``."""
    if component is None:
        return None
    if set(component) != set(coords):
        raise ValueError(f"component must name {', '.join(coords)}, got {component!r}")
    try:
        return int(np.ravel_multi_index([coords[d].index(component[d]) for d in coords],
                                        [len(v) for v in coords.values()]))
    except ValueError:
        raise ValueError(f"unknown component {component!r}; labels: {coords}") from None


def _postw90_sums(model: Model, resp: responses.Response, base: Any, fermi_arr: np.ndarray,
                  rule: tuple[int, float, bool], comp_index: int | None, degeneracy_tol: float,
                  chunk_size: int) -> tuple[Any, np.ndarray, int]:
    """The refined sums of :func:`adaptive_fermi_scan` over the chunks of ``base``: (Σ_k w_k I_k (nfermi, ncomp),
    base points refined per Fermi energy, sub-grid points evaluated); ``rule`` = (refine, threshold, per_fermi)."""
    refine, threshold, per_fermi = rule
    k_all, w_all = base.points(model, 0, base.size)
    step = model.reciprocal / np.asarray(base.n)[:, None]
    total = 0.0
    flagged_count = np.zeros(len(fermi_arr), dtype=int)
    sub_points = 0
    for start in range(0, base.size, chunk_size):
        k, w = k_all[start : start + chunk_size], w_all[start : start + chunk_size]
        vals = _integrand(model, resp, k, fermi_arr, degeneracy_tol)  # (N, nf, nc)
        flag = _score(resp, vals, model.dim, comp_index) > threshold
        if not per_fermi:
            flag = np.broadcast_to(flag.any(axis=1, keepdims=True), flag.shape)
        flagged_count += flag.sum(axis=0)
        if refine == 1:  # berry_curv_adpt_kmesh = 1: the "refined" point is the point itself
            flag = np.zeros_like(flag)
        total = total + np.einsum("k,kfc->fc", w, vals * ~flag[..., None])
        rows = np.flatnonzero(flag.any(axis=1))
        for s in range(0, len(rows), max(1, chunk_size // refine**model.dim)):
            idx = rows[s : s + max(1, chunk_size // refine**model.dim)]
            ks, ws = _subgrid(k[idx], w[idx], step, refine)
            sub = _integrand(model, resp, ks, fermi_arr, degeneracy_tol)  # (len(idx) r^d, nf, nc)
            sub_points += len(ks)
            mask = np.repeat(flag[idx], refine**model.dim, axis=0)
            total = total + np.einsum("k,kfc->fc", ws, sub * mask[..., None])
    return total, flagged_count, sub_points


def adaptive_fermi_scan(
    model: Model,
    response: str | responses.Response,
    *,
    fermi: Any,
    n: int | tuple[int, ...],
    refine: int = 5,
    threshold: float = 100.0,
    per_fermi: bool | None = None,
    component: dict[str, str] | None = None,
    degeneracy_tol: float = 1e-6,
    chunk_size: int = 2000,
) -> xr.DataArray:
    """A Fermi scan on ``grid(n)`` with postw90's adaptive refinement (``berry_curv_adpt_kmesh``, T = 0).

    Every point k of the Γ-centred grid is evaluated; where the occupied-state sum of the integrand exceeds
    ``threshold`` it is replaced by a ``refine^d`` sub-grid of points k + (i + ½)/refine − ½ grid steps with
    weights w/refine^d (postw90, berry.F90).  The measure is |Ω(k)| = |Σ_{ε<E_F} Ω_m| in Å² for the charge
    response (postw90's AHC rule: ``berry_curv_adpt_kmesh_thresh``, refined separately at each Fermi energy:
    ``per_fermi`` default True) and |Σ_{ε<E_F} Q| of ``component`` (e.g. ``{"spin": "z", "current": "x",
    "field": "y"}``; None: the largest) for spin responses, in postw90's units (σ, not σ/2), refined at every
    Fermi energy when any exceeds (postw90's SHC rule: ``per_fermi`` default False).  Occupations θ(E_F − ε)
    with ε < E_F strictly, as postw90.  A single round: refined points are not refined again.

    Returns the result with ``attrs["adaptive_points_refined"]`` (base points refined, per Fermi energy).
    """
    if not isinstance(model, Model) or not model.periodic:
        raise ValueError("adaptive refinement needs a periodic properspin.Model (mesh.grid)")
    if isinstance(refine, bool) or int(refine) != refine or refine < 1:
        raise ValueError(f"refine must be a positive integer (postw90's berry_curv_adpt_kmesh), got {refine!r}")
    if not math.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite number ≥ 0 (Å², postw90's berry_curv_adpt_kmesh_thresh), "
                         f"got {threshold!r}")
    job = prepare(model, response, fermi=fermi, mesh=meshes.grid(n), degeneracy_tol=degeneracy_tol)
    resp, fermi_arr, base = job.response, job.fermi, job.mesh
    per_fermi = resp.name == "charge" if per_fermi is None else bool(per_fermi)
    coords = resp.coords(model.dim)
    comp_index = _component_index(coords, component)
    base = meshes.resolve(meshes.grid(n), model)
    refine = int(refine)
    total, flagged_count, sub_points = _postw90_sums(model, resp, base, fermi_arr, (refine, threshold, per_fermi),
                                                     comp_index, degeneracy_tol, chunk_size)
    shape = tuple(len(v) for v in coords.values())
    values = resp.factor(model.dim) * np.asarray(total).reshape((len(fermi_arr),) + shape)
    attrs = {
        "response": resp.name,
        "description": resp.description,
        "units": resp.unit(model.dim),
        "temperature_K": 0.0,
        "occupation": "step, eps < E_F (postw90)",
        "response_parameters": dict(resp.params),
        "degeneracy_tol_eV": float(degeneracy_tol),
        **model.describe(),
        **{f"mesh_{key}" if not key.startswith("mesh") else key: v for key, v in base.describe().items()},
        "adaptive_rule": "postw90 berry_curv_adpt_kmesh" + (" (per Fermi energy)" if per_fermi else " (all E_F)"),
        "adaptive_refine": refine,
        "adaptive_threshold": float(threshold),
        "adaptive_threshold_units": "angstrom^2 (spin: postw90's sigma units)",
        "adaptive_points_refined": flagged_count.tolist(),
        "adaptive_subgrid_points": int(sub_points),
    }
    return make_result(values, {"fermi": fermi_arr, **coords}, attrs, resp.name)


# ------------------------------------------------------------------------- integrable point singularities
def _bump(t: np.ndarray) -> np.ndarray:
    """C∞ partition weight χ(t) = φ(1 − t)/(φ(1 − t) + φ(t)), φ(x) = exp(−1/x): 1 at t = 0, 0 for t ≥ 1, and
    1 − χ vanishes with all its derivatives at t = 0 (so (1 − χ)/t² is smooth: the grid never sees the core)."""
    u = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", over="ignore"):
        a = np.where(u < 1, np.exp(-1.0 / np.maximum(1.0 - u, 1e-300)), 0.0)
        b = np.where(u > 0, np.exp(-1.0 / np.maximum(u, 1e-300)), 0.0)
    return a / (a + b)


def _nearest_image(dk: np.ndarray, reciprocal: np.ndarray) -> np.ndarray:
    """|dk − G| minimised over reciprocal lattice vectors G (rows of ``reciprocal``), (N,) for dk (N, d)."""
    frac = np.linalg.solve(reciprocal.T, dk.T).T
    dk = (frac - np.round(frac)) @ reciprocal
    best = np.full(len(dk), np.inf)
    for shift in np.array(list(itertools.product((-1, 0, 1), repeat=reciprocal.shape[0]))) @ reciprocal:
        best = np.minimum(best, ((dk - shift) ** 2).sum(-1))  # (N,) at a time: no (N, 27, d) array
    return np.sqrt(best)


def singular_stars(points: np.ndarray, reciprocal: np.ndarray, group: Any = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Representatives (P, d), star sizes (P,) and every image (M, d) of ``points`` under ``group`` (a
    :class:`~properspin.symmetry.MagneticGroup`; None: each point is its own star), modulo the reciprocal lattice.
    Raises ValueError when two given points lie in one star (give one representative per star)."""
    reps, sizes, images = [], [], []
    for p in points:
        orbit = [p] if group is None else [op.k_map[: len(p), : len(p)] @ p for op in group.operations]
        star: list[np.ndarray] = []
        for q in orbit:
            if not star or _nearest_image(np.array(star) - q, reciprocal).min() > 1e-9:
                star.append(q)
        if images and _nearest_image(np.array(images) - p, reciprocal).min() <= 1e-9:
            raise ValueError(f"singular point {np.round(p, 6).tolist()} is an image of an earlier one: give one "
                             "representative per star (points=)")
        reps.append(p)
        sizes.append(len(star))
        images.extend(star)
    return np.array(reps), np.array(sizes, dtype=float), np.array(images)


def _ball(center: np.ndarray, radius: float, radial: int, angular: int) -> tuple[np.ndarray, np.ndarray]:
    """Spherical product rule on |k − center| < radius: Gauss–Legendre in q and cos θ, ``2·angular`` uniform φ;
    weights q² dq d(cos θ) dφ · χ(q/radius) / (2π)³ (the q² Jacobian cancels a 1/q² core)."""
    q, wq = np.polynomial.legendre.leggauss(int(radial))
    q, wq = 0.5 * radius * (q + 1), 0.5 * radius * wq
    c, wc = np.polynomial.legendre.leggauss(int(angular))
    phi = 2 * np.pi * (np.arange(2 * angular) + 0.5) / (2 * angular)
    qq, cc, pp = (a.ravel() for a in np.meshgrid(q, c, phi, indexing="ij"))
    s = np.sqrt(1 - cc * cc)
    k = center + qq[:, None] * np.stack([s * np.cos(pp), s * np.sin(pp), cc], axis=1)
    w = np.einsum("i,j->ij", wq * q * q * _bump(q / radius), wc).ravel()
    w = np.repeat(w, 2 * angular) * (2 * np.pi / (2 * angular)) / (2 * np.pi) ** 3
    return k, w


def _check_singular(model: Model, points: Any, radius: float, radial: int, angular: int) -> np.ndarray:
    """Validated (P, 3) points of :func:`singular_point_mesh` (errors name the parameter to set)."""
    if not isinstance(model, Model) or not model.periodic or model.dim != 3:
        raise ValueError("singular_point_mesh needs a periodic 3D properspin.Model (the balls are spheres)")
    return _check_singular_args(points, radius, radial, angular)


def _check_singular_args(points: Any, radius: float, radial: int, angular: int) -> np.ndarray:
    """The model-independent checks of :func:`_check_singular`."""
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    if pts.ndim != 2 or pts.shape[1] != 3 or not np.all(np.isfinite(pts)) or len(pts) == 0:
        raise ValueError(f"points must be finite Cartesian k-points of shape (P, 3) (Å⁻¹), got shape {pts.shape}")
    if isinstance(radius, bool) or not isinstance(radius, int | float) or not math.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a positive k-space radius in Å⁻¹, got {radius!r}")
    for name, v in (("radial", radial), ("angular", angular)):
        if isinstance(v, bool) or int(v) != v or v < 2:
            raise ValueError(f"{name} must be an integer ≥ 2 (Gauss–Legendre points), got {v!r}")
    return pts


def singular_point_mesh(model: Model, n: int | tuple[int, ...], points: Any, radius: float, *, radial: int = 16,
                        angular: int = 16, symmetry: Any = None, response: Any = None) -> Any:
    """``grid(n)`` with a ball of spherical quadrature around each integrable point singularity (3D).

    Near a fourfold degeneracy of two Kramers pairs inside the Fermi sea (a Dirac point on a rotation axis,
    a Γ8 quartet) the occupied–occupied terms (s_nn − s_mm)Ω_nm of Eq. (2) grow as 1/|k − p|²: integrable in 3D,
    but a uniform grid sees them as rare huge outliers.  With the C∞ partition χ_p(k) = χ(|k − p|/radius)
    (:func:`_bump`: 1 at p, 0 beyond radius) the integrand is split as I·(1 − Σ_p χ_p) on the grid (smooth: it
    vanishes to all orders at every p) plus Σ_p I·χ_p in spherical coordinates around p (:func:`_ball`: the q²
    Jacobian cancels the core).  ``points``: one representative per star (Cartesian k, Å⁻¹); with ``symmetry`` (as for
    ``mesh.grid``) each is expanded to its star, the grid is reduced to its irreducible wedge and one ball per
    star is weighted by the star size (the projector restores the rest).  Without ``symmetry`` give every point.
    Returns a mesh for :func:`~properspin.conductivity`; its ``singular_info`` records the choices.
    """
    pts = _check_singular(model, points, radius, radial, angular)
    base = meshes.resolve(meshes.grid(n, symmetry=symmetry), model, response)
    wedge = getattr(base, "group", None)
    group = wedge
    if group is None and symmetry is not None:  # the model failed the check: full grid, stars still from the group
        from .symmetry import group_for

        group = group_for(model, symmetry)
    reps, sizes, images = singular_stars(pts, model.reciprocal, group)
    if len(images) > 1:
        gaps = [_nearest_image(np.delete(images, i, axis=0) - p, model.reciprocal).min() for i, p in enumerate(images)]
        if min(gaps) < 2 * radius:
            raise ValueError(f"balls of radius {radius} Å⁻¹ around the singular points overlap (closest two are "
                             f"{min(gaps):.4g} Å⁻¹ apart): set radius below half that distance")
    grid = getattr(base, "grid", base)
    h = float(np.linalg.norm(model.reciprocal / np.asarray(grid.n)[:, None], axis=1).max())
    if h > radius:
        raise ValueError(f"grid step {h:.4g} Å⁻¹ exceeds radius {radius} Å⁻¹: the grid cannot resolve the "
                         "partition; raise n or radius")
    k, w = base.points(model, 0, base.size)
    chi = np.zeros(len(k))
    for p in images:
        chi += _bump(_nearest_image(k - p, model.reciprocal) / radius)
    keep = chi < 1.0
    parts_k, parts_w = [k[keep]], [w[keep] * (1.0 - chi[keep])]
    for p, size in zip(reps, sizes, strict=True) if wedge is not None else zip(images, np.ones(len(images)),
                                                                              strict=True):
        kb, wb = _ball(p, radius, int(radial), int(angular))
        parts_k.append(kb)
        parts_w.append(wb * size)
    kk, ww = np.concatenate(parts_k), np.concatenate(parts_w)
    if wedge is not None:
        from .symmetry import SymmetrizedMesh

        mesh = SymmetrizedMesh(kk, ww, wedge, label="singular_point")
    else:
        mesh = meshes.explicit(kk, ww, periodic=True, label="singular_point")
    mesh.singular_info = {
        "singular_base_grid": str(list(grid.n)), "singular_radius_invA": float(radius),
        "singular_radial": int(radial), "singular_angular": int(angular), "singular_stars": len(reps),
        "singular_points": len(images), "singular_representatives_invA": str(np.round(reps, 8).tolist()),
        "singular_grid_step_invA": h,
        "singular_partition": "C-infinity bump exp(-1/(1-t))/(exp(-1/(1-t))+exp(-1/t)), t=|k-p|/radius",
        **{f"mesh_{a}" if not a.startswith("mesh") else a: v for a, v in base.describe().items()
           if a.startswith(("symmetry", "mesh_full"))}}
    return mesh


class SingularPointGrid(meshes.Mesh):
    """``grid(n)`` plus the balls of :func:`singular_point_mesh`, before the model is known: a mesh for
    :func:`~properspin.conductivity` and a mesh family for :func:`~properspin.converge`, which refines n (n → n·ratio,
    rounded to even) while the points, radius and ball orders stay.  Made by :func:`singular_point_grid`."""

    periodic, dim, kind = True, 3, "singular_point_grid"

    def __init__(self, n: int, points: Any, radius: float, radial: int, angular: int, symmetry: Any) -> None:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
            raise ValueError(f"n must be an integer ≥ 2 (grid points per direction), got {n!r}")
        self.n, self.points_k, self.radius = int(n), np.atleast_2d(np.asarray(points, dtype=float)), radius
        self.radial, self.angular, self.symmetry = radial, angular, symmetry

    @property
    def size(self) -> int:
        raise ValueError("a singular-point grid depends on the model: call mesh.resolve(mesh, model) first")

    def with_n(self, n: int) -> SingularPointGrid:
        """The same points, radius and ball orders on ``grid(n)``."""
        return SingularPointGrid(n, self.points_k, self.radius, self.radial, self.angular, self.symmetry)

    def describe(self) -> dict[str, Any]:
        return {"mesh": self.kind, "mesh_n": self.n, "singular_radius_invA": float(self.radius),
                "singular_radial": int(self.radial), "singular_angular": int(self.angular),
                "singular_representatives": len(self.points_k), "symmetry": str(self.symmetry)}

    def resolve_for(self, model: Model, response: Any = None) -> meshes.Mesh:
        """:func:`singular_point_mesh` of this grid for ``model`` (its wedge for ``response``)."""
        return singular_point_mesh(model, self.n, self.points_k, self.radius, radial=self.radial,
                                   angular=self.angular, symmetry=self.symmetry, response=response)


def singular_point_grid(n: int, points: Any, radius: float, *, radial: int = 16, angular: int = 16,
                        symmetry: Any = None) -> SingularPointGrid:
    """``grid(n)`` with a ball around each integrable point singularity (:func:`singular_point_mesh`), resolved when
    the model is known.  Pass it as ``mesh`` to :func:`~properspin.converge` for a certified η = 0 proper spin current
    (Eq. 2) of a metal with fourfold points in its Fermi sea: the grid is refined, the balls stay (their quadrature
    error is not in the bar: check it with a second ``radial``/``angular`` or ``radius``)."""
    _check_singular_args(points, radius, radial, angular)
    return SingularPointGrid(n, points, radius, radial, angular, symmetry)


def singular_point_conductivity(model: Model, response: str | responses.Response, *, fermi: Any,
                                n: int | tuple[int, ...], points: Any, radius: float, radial: int = 16,
                                angular: int = 16, symmetry: Any = None, **kwargs: Any) -> xr.DataArray:
    """:func:`~properspin.conductivity` on :func:`singular_point_mesh` (the η = 0 occupied–occupied part of
    Eq. (2) near fourfold degeneracies); ``kwargs`` as for ``conductivity``.  ``attrs`` add the ``singular_*``
    choices (base grid, radius, radial/angular orders, stars, representatives)."""
    resp = responses.get(response)
    mesh = singular_point_mesh(model, n, points, radius, radial=radial, angular=angular, symmetry=symmetry,
                               response=resp)
    result = conductivity(model, resp, fermi=fermi, mesh=mesh, **kwargs)
    result.attrs |= mesh.singular_info
    return result
