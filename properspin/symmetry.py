"""Magnetic point-group symmetry: irreducible k-meshes, symmetrised tensors and symmetry-allowed forms.

A crystal (lattice, atoms, magnetic moments: :class:`Structure`) has a magnetic point group G (spglib): unitary
operations g (rotation R, proper or improper) and anti-unitary ones g·T (R combined with time reversal).  On k,
a unitary g acts as k → R k and an anti-unitary one as k → −R k.  For a response summed over a
G-invariant Monkhorst–Pack grid,

    Σ_k Q(k) = Σ_{irreducible k} |star(k)| · P Q(k),      P = (1/|G|) Σ_g L(g),

where L(g) is the response's transformation law (``Response.law``): each index is a polar vector (current,
field: R) or an axial vector (spin, torque: det(R) R); the tensor's time-reversal parity multiplies the
anti-unitary operations (spin conductivities are T-even, the anomalous Hall conductivity is T-odd).  So
the grid is reduced to its irreducible wedge with weights (:func:`irreducible_points`) and the result is
projected with P: identical to the full-grid result whenever the model has the symmetry.  The image of P
is the symmetry-allowed form of the tensor; components whose row of P vanishes must be zero
(:func:`allowed_form`, :func:`check_result`).

The group is never trusted blindly: :func:`verify` compares energies and the response integrand at k and
g k (a few random k, every g) and :func:`resolve` falls back to the full grid with a
:class:`SymmetryWarning` when the model breaks the claimed symmetry.  Hook: ``mesh.grid(n, symmetry=...)``.
The group itself (:class:`Structure`, :class:`MagneticGroup`, spglib, the model's magnetisation, representations
and :func:`symmetrized_model`) lives in :mod:`properspin.magnetic_group` and is re-exported here.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._numba import jit_enabled
from ._numba import njit as _cached_njit
from .magnetic_group import (  # noqa: F401 - re-exported: the group half of this module's API
    MAGNETIZATION_TOL,
    MagneticGroup,
    Operation,
    Structure,
    _species_numbers,
    group_label,
    magnetic_group,
    model_magnetization,
    representation,
    structure_from_win,
    symmetrized_model,
)
from .mesh import Explicit, Grid, Mesh, register_symmetric_grid
from .model import Model


class SymmetryWarning(UserWarning):
    """A claimed symmetry was not used (the model breaks it, or it does not fit the grid or response)."""


# ---------------------------------------------------------------------------------------------- laws
def law(response: Any) -> tuple[tuple[str, ...], int]:
    """Index kinds and T-parity of a response (name or :class:`~properspin.responses.Response`): its own
    :class:`~properspin.responses.Law`, with a leading ``"none"`` for a ``part`` dimension its parameters add."""
    from . import responses

    resp = responses.get(response)
    if resp.law is None:
        raise ValueError(f"response {resp.name!r} has no symmetry law (Response.law); symmetry cannot be used")
    if resp.params.get("degenerate") == "regulated_limit":
        raise ValueError("degenerate='regulated_limit' depends on the regulator direction m̂, which is not a symmetry "
                         "of the crystal: its parts are not symmetric and symmetry cannot be used (full grid)")
    parts = resp.parts(resp.params) if resp.parts is not None else None
    kinds = resp.law.indices
    return (("none",) + kinds if parts else kinds), resp.law.time_reversal  # parts: each transforms as the whole


_AXES = ("x", "y", "z")


def _index_matrix(kind: str, op: Operation, labels: Sequence[str]) -> np.ndarray:
    """The operation on one index, restricted to its labels (x, y of a 2D current; z of a 2D magnetisation)."""
    if kind == "none":
        return np.eye(len(labels))
    rot = op.rotation
    mat = rot * np.linalg.det(rot) if kind == "axial" else rot
    idx = [_AXES.index(str(v)) for v in labels]
    return mat[np.ix_(idx, idx)]


def law_matrices(response: Any, group: MagneticGroup, dim: int) -> np.ndarray:
    """L(g) for every operation: (|G|, ncomp, ncomp) acting on the flattened component tensor of ``response``
    (its coordinates in ``dim`` dimensions)."""
    from . import responses

    kinds, parity = law(response)
    labels = list(responses.get(response).coords(dim).values())
    if len(kinds) != len(labels):
        raise ValueError(f"response has {len(labels)} component dimensions, its law {len(kinds)}")
    out = []
    for op in group.operations:
        mat = np.ones((1, 1))
        for kind, lab in zip(kinds, labels, strict=True):
            mat = np.kron(mat, _index_matrix(kind, op, lab))
        out.append(mat * (parity if op.time_reversal else 1))
    return np.array(out)


def projector(response: Any, group: MagneticGroup, dim: int) -> np.ndarray:
    """P = (1/|G|) Σ_g L(g): projects a response tensor on its symmetry-allowed form."""
    p = law_matrices(response, group, dim).mean(axis=0)
    p[np.abs(p) < 1e-12] = 0.0
    return p


def _component_sizes(response: Any, dim: int) -> tuple[list[str], list[list[str]]]:
    from . import responses

    resp = responses.get(response)
    coords = resp.coords(dim)
    return list(coords), [list(v) for v in coords.values()]


def allowed_form(response: Any, group: MagneticGroup, dim: int = 3) -> dict[str, Any]:
    """The symmetry-allowed form of a response tensor under ``group``.

    Returns ``{"dims", "forbidden", "independent", "relations", "projector"}``: the component labels (``"z,y,x"``
    = σ^z_yx, in the order of ``dims``) that must vanish, the number of independent components (rank of P),
    relations expressing every other allowed component through independent ones (``"y,x = -1*[x,y]"``), and P.
    """
    dims, labels = _component_sizes(response, dim)
    p = projector(response, group, dim)
    names = [",".join(c) for c in _product(labels)]
    forbidden = [n for n, row in zip(names, p, strict=True) if not np.any(row)]
    u, sv, _ = np.linalg.svd(p)
    rank = int(np.sum(sv > 1e-9))
    basis = u[:, :rank]  # allowed subspace
    pivots: list[int] = []
    for j in range(len(names)):  # greedy: first components that are independent of the chosen ones
        if np.linalg.matrix_rank(basis[pivots + [j]], tol=1e-9) > len(pivots):
            pivots.append(j)
        if len(pivots) == rank:
            break
    coef = basis @ np.linalg.inv(basis[pivots]) if rank else np.zeros((len(names), 0))
    relations = []
    for i, n in enumerate(names):
        if i in pivots or n in forbidden:
            continue
        terms = [f"{c:+.6g}*[{names[j]}]" for c, j in zip(coef[i], pivots, strict=True) if abs(c) > 1e-9]
        relations.append(f"{n} = " + " ".join(terms))
    return {"dims": dims, "forbidden": forbidden, "independent": rank,
            "independent_components": [names[j] for j in pivots], "relations": relations, "projector": p}


def _product(labels: list[list[str]]) -> list[tuple[str, ...]]:
    import itertools

    return list(itertools.product(*labels))


def check_result(result: Any, group: MagneticGroup) -> dict[str, Any]:
    """How far a result is from the symmetry-allowed form: max |σ − Pσ| over Fermi energies (result units),
    relative to max |σ|, and the largest forbidden component."""
    dims = [d for d in result.dims if d not in ("temperature", "fermi")]
    dim = int(result.attrs.get("dim", len(result["field"]) if "field" in result.dims else 3))
    form = allowed_form(result.attrs.get("response", result.name), group, dim)
    values = result.transpose(*[d for d in result.dims if d not in dims], *dims).values
    flat = values.reshape(-1, form["projector"].shape[0])
    dev = float(np.abs(flat - flat @ form["projector"].T).max())
    scale = float(np.abs(flat).max())
    names = [",".join(c) for c in _product([[str(x) for x in result[d].values] for d in dims])]
    bad = [i for i, n in enumerate(names) if n in form["forbidden"]]
    return {"deviation": dev, "relative_deviation": dev / scale if scale else 0.0,
            "max_forbidden": float(np.abs(flat[:, bad]).max()) if bad else 0.0, "forbidden": form["forbidden"]}


# ---------------------------------------------------------------------------------------------- k-points
def _k_maps(group: MagneticGroup, reciprocal: np.ndarray, dim: int) -> np.ndarray:
    """Integer matrices of every operation on fractional k (rows: κ' = M κ), (|G|, dim, dim); ValueError if an
    operation does not map the reciprocal lattice of the model to itself."""
    out = []
    bt = reciprocal.T
    for op in group.operations:
        km = op.k_map[:dim, :dim]
        if dim < 3 and (np.abs(op.k_map[:dim, dim:]).max() > 1e-8 or np.abs(op.k_map[dim:, :dim]).max() > 1e-8):
            raise ValueError("a symmetry operation mixes the plane of a 2D model with its normal")
        m = np.linalg.solve(bt, km @ bt)
        if np.abs(m - np.round(m)).max() > 1e-6:
            raise ValueError("a symmetry operation does not map the model's reciprocal lattice to itself "
                             "(is the structure's lattice the model's lattice?)")
        out.append(np.round(m).astype(np.int64))
    return np.array(out)


def _grid_maps(n: Sequence[int], shift: Sequence[float], reciprocal: np.ndarray, group: MagneticGroup
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, C, K) of the grid ``(i + shift)/n``: every operation maps grid index i to ``(C i + K) mod n``
    (C: (|G|, dim, dim), K: (|G|, dim), integers); ValueError if the grid or its shift is not mapped to itself."""
    dim = len(n)
    nn = np.asarray(n, dtype=np.int64)
    maps = _k_maps(group, reciprocal, dim)
    # grid coordinates q = i + s (half-integers allowed): κ = q/n; image q' = n · M (q/n)
    two_s = np.round(2 * np.asarray(shift, dtype=float)).astype(np.int64)
    if np.abs(2 * np.asarray(shift) - two_s).max() > 1e-9:
        raise ValueError("symmetry needs a grid shift of 0 or 1/2 (in grid steps)")
    conv = [np.rint(np.diag(nn) @ m @ np.diag(1.0 / nn) * 1.0) for m in maps]
    for c, m in zip(conv, maps, strict=True):
        if np.abs(np.diag(nn) @ m @ np.diag(1.0 / nn) - c).max() > 1e-9:
            raise ValueError(f"the grid {list(n)} is not mapped to itself by the symmetry group "
                             "(use the same n along symmetry-equivalent directions)")
    conv = np.array(conv, dtype=np.int64)
    # doubled coordinates Q = 2i + 2s: C Q − 2s = 2 C i + (C 2s − 2s), whose constant part must be even
    off = conv @ two_s - two_s
    if np.any(off % 2):
        raise ValueError("the grid shift is not compatible with the symmetry group: use a Γ-centred grid")
    return nn, conv, off // 2


def _orbits_py(n: np.ndarray, conv: np.ndarray, off: np.ndarray, full: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Star by star in increasing flat index: the first unvisited point is its star's smallest, its images are
    marked visited (one byte per grid point) and, with ``full``, given its index.  Returns (representative of
    every point, or an empty array without ``full``; representatives; star sizes)."""
    dim = n.shape[0]
    total = 1
    for d in range(dim):
        total *= n[d]
    seen = np.zeros(total, dtype=np.uint8)
    rep = np.empty(total if full else 0, dtype=np.int64)
    cap = total // conv.shape[0] + 64
    idx = np.empty(cap, dtype=np.int64)
    star = np.empty(cap, dtype=np.int64)
    i = np.zeros(dim, dtype=np.int64)
    count = 0
    for f in range(total):
        if seen[f]:
            continue
        r = f
        for d in range(dim - 1, -1, -1):
            i[d] = r % n[d]
            r //= n[d]
        size = 0
        for g in range(conv.shape[0]):
            flat = 0
            for d in range(dim):
                j = off[g, d]
                for e in range(dim):
                    j += conv[g, d, e] * i[e]
                flat = flat * n[d] + j % n[d]
            if not seen[flat]:  # stars are disjoint: every unvisited image is new to this star
                seen[flat] = 1
                size += 1
                if full:
                    rep[flat] = f
        if count == cap:  # more stars than |grid|/|G| (points on symmetry elements): grow
            cap *= 2
            idx = np.concatenate((idx, np.empty(cap - count, dtype=np.int64)))
            star = np.concatenate((star, np.empty(cap - count, dtype=np.int64)))
        idx[count] = f
        star[count] = size
        count += 1
    return rep, idx[:count], star[:count]


@functools.cache
def _orbits() -> Any:
    """The compiled :func:`_orbits_py` (built on first use, so that ``import properspin`` does not load numba), or
    None without numba / under ``NUMBA_DISABLE_JIT=1``."""
    return _cached_njit(cache=True)(_orbits_py) if jit_enabled() else None


def irreducible_points(n: Sequence[int], shift: Sequence[float], reciprocal: np.ndarray,
                       group: MagneticGroup, chunk: int = 1 << 20,
                       full: bool = False) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Irreducible points of the grid ``(i + shift)/n`` under ``group``: flat indices and star sizes.

    A point represents its star (orbit) when its flat index is the smallest of the star; its weight is
    |G| / |stabiliser| (the star's size).  ValueError if the grid is not mapped to itself (e.g. unequal n along
    equivalent directions, or a shift that the group does not respect).  ``full=True`` returns instead, for
    every grid point, the flat index of its representative.  Compiled: each star is visited once (about |G|
    index maps per star instead of |G| per grid point: ~40× faster at Pt 136³, benchmarks/bench_wedge.py);
    without numba the numpy version (``chunk`` points at a time).
    """
    nn, conv, off = _grid_maps(n, shift, reciprocal, group)
    orbits = _orbits()
    if orbits is None:
        return _irreducible_numpy(nn, conv, off, chunk, full)
    rep, idx, star = orbits(nn, conv, off, full)
    return rep if full else (idx, star)


def _irreducible_numpy(nn: np.ndarray, conv: np.ndarray, off: np.ndarray, chunk: int = 1 << 20,
                       full: bool = False) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """:func:`irreducible_points` in numpy: every point against all its images (smallest index represents)."""
    reps, weights = [], []
    total = int(np.prod(nn))
    for start in range(0, total, chunk):
        idx = np.arange(start, min(total, start + chunk))
        i = np.stack(np.unravel_index(idx, tuple(nn)), axis=1)  # (N, dim)
        best = idx.copy()
        stab = np.zeros(len(idx), dtype=np.int64)
        for c, k in zip(conv, off, strict=True):
            j = np.mod(i @ c.T + k, nn)
            flat = np.ravel_multi_index(tuple(j.T), tuple(nn))
            best = np.minimum(best, flat)
            stab += flat == idx
        keep = best == idx
        reps.append(best if full else idx[keep])
        weights.append(len(conv) // stab[keep])
    return np.concatenate(reps) if full else (np.concatenate(reps), np.concatenate(weights))


# ---------------------------------------------------------------------------------------------- verification
@dataclass(frozen=True)
class Verification:
    """Result of :func:`verify`: the largest deviations found and whether they are within tolerance."""

    energy_error: float  # max |ε(gk) − ε(k)| / bandwidth
    integrand_error: float  # max |I(gk) − L(g) I(k)| / max(max |I|, 1e-6 max_m |Q_m|)
    tolerance: float
    bandwidth: float = 1.0  # eV: max ε − min ε at the sample k (energy_error × bandwidth is the largest shift in eV)

    @property
    def ok(self) -> bool:
        return self.energy_error <= self.tolerance and self.integrand_error <= self.tolerance


def _integrand(model: Model, response: Any, k: np.ndarray, energies: np.ndarray, kt: float) -> tuple[float, Any]:
    from . import responses

    resp = responses.get(response)
    g = resp.band_geometry(model, k, 1e-9)
    q = resp.formula(g, resp.params)
    ncomp = int(np.prod([len(v) for v in resp.coords(model.dim).values()]))
    q = q.reshape(-1, ncomp, *q.shape[-2:])  # (parts, ncomp, N, n): grand/surface parts each transform as the whole
    from scipy.special import expit

    occ = expit(-(g.energies[None] - energies[:, None, None]) / kt)  # (nE, N, n)
    return float(np.abs(q).max()), np.einsum("ekm,pckm->kepc", occ, q)  # (N, nE, parts, ncomp)


def verify(model: Model, group: MagneticGroup, response: Any, samples: int = 3, tol: float = 1e-3,
           seed: int = 7, radius: float | None = None) -> Verification:
    """Check that ``model`` has the symmetry of ``group`` for ``response``.

    At ``samples`` random k (in the cell of ``model.reciprocal``; with ``radius``, |k_i| < radius/2, e.g. inside
    a k·p model's cutoff) and every operation g: sorted energies ε(gk) against ε(k) (relative to the
    bandwidth) and the response integrand I(k) = Σ_m f(ε_mk − E) Q_mk (smooth Fermi function of width
    2 % of the bandwidth, three E inside the bands) against L(g) I(k) (relative to max |I|).  Occupation-
    weighted sums are invariant under rotations inside degenerate subspaces, so the check is gauge-free.
    """
    from . import responses

    dim = model.dim
    rng = np.random.default_rng(seed)
    cell = rng.random((samples, dim))
    k = cell @ model.reciprocal if radius is None else radius * (cell - 0.5)
    e0 = model.energies(k)
    width = float(e0.max() - e0.min()) or 1.0
    e_err = i_err = 0.0
    for op in group.operations:
        e1 = model.energies(k @ op.k_map[:dim, :dim].T)
        e_err = max(e_err, float(np.abs(e1 - e0).max()) / width)
    if response is None:
        return Verification(e_err, 0.0, tol, width)
    resp = responses.get(response)
    levels = np.quantile(e0, [0.3, 0.5, 0.7])
    mats = law_matrices(resp, group, dim)
    kt = 0.02 * width
    qmax, i0 = _integrand(model, resp, k, levels, kt)
    scale = max(float(np.abs(i0).max()), 1e-6 * qmax) or 1.0  # (per-band scale: sums that vanish by symmetry)
    for op, mat in zip(group.operations, mats, strict=True):
        _, i1 = _integrand(model, resp, k @ op.k_map[:dim, :dim].T, levels, kt)
        i_err = max(i_err, float(np.abs(i1 - i0 @ mat.T).max()) / scale)
    return Verification(e_err, i_err, tol, width)


# ---------------------------------------------------------------------------------------------- resolution
def group_for(model: Model, symmetry: Any, symprec: float = 1e-5) -> MagneticGroup:
    """The magnetic group of ``symmetry`` (a :class:`MagneticGroup`, a :class:`Structure` or a ``.win`` path)
    for ``model``: magnetisation from the structure, else from the model (:func:`model_magnetization`)."""
    if isinstance(symmetry, MagneticGroup):
        return symmetry
    if isinstance(symmetry, str | Path):
        symmetry = structure_from_win(symmetry)
    if not isinstance(symmetry, Structure):
        raise TypeError(f"symmetry must be a Structure, a MagneticGroup or a .win path, got {symmetry!r}")
    model_lattice = 2 * math.pi * np.linalg.inv(model.reciprocal).T
    lat = symmetry.lattice[: model.dim, : model.dim]
    if not np.allclose(lat, model_lattice, atol=1e-4 * np.abs(model_lattice).max()):
        raise ValueError("the structure's lattice differs from the model's lattice:\n"
                         f"{np.round(lat, 6).tolist()} vs {np.round(model_lattice, 6).tolist()}")
    direction = None if symmetry.magnetization is not None else model_magnetization(model)
    return magnetic_group(symmetry, direction, symprec)


def resolve(spec: Any, model: Model, response: Any, n: Sequence[int], shift: Sequence[float],
            tol: float = 1e-3) -> tuple[MagneticGroup | None, Verification | None, str]:
    """The group to use on ``grid(n, shift)`` for ``model`` and ``response``, or None with the reason.

    Never silent: when the model breaks the symmetry, the grid does not fit it, or the response has no
    known law, a :class:`SymmetryWarning` says so and the caller falls back to the full grid.
    """
    try:
        group = group_for(model, spec)
        if response is not None:
            law(response)
        _k_maps(group, model.reciprocal, model.dim)
        check = verify(model, group, response, tol=tol)
    except (ValueError, TypeError) as exc:
        _warn(f"symmetry not used: {exc}; the full grid is computed")
        return None, None, str(exc)
    if not check.ok:
        hint = ""
        if group.magnetization is None and not model.has_spin and not (isinstance(spec, Structure)
                                                                       and spec.magnetization is not None):
            hint = (" — the model has no spin operator to take a magnetisation from: for a magnet give it "
                    "(Structure(magnetization=...), [mesh.symmetry] magnetization)")
        _warn(f"symmetry not used: model '{model.name}' breaks the magnetic point group {group.label} "
              f"(max |ε(gk) − ε(k)| = {check.energy_error:.2g} × bandwidth = {check.energy_error * check.bandwidth:.2g}"
              f" eV, response integrand {check.integrand_error:.2g} relative, tolerance {check.tolerance:g}){hint}; "
              "the full grid is computed")
        return None, check, f"model breaks the magnetic point group {group.label}"
    return group, check, ""


def _warn(message: str) -> None:
    warnings.warn(message, SymmetryWarning, stacklevel=4)


# ---------------------------------------------------------------------------------------------- meshes
class SymmetricGrid(Mesh):
    """``mesh.grid(n, symmetry=...)`` before the model is known: resolved by :meth:`resolve_for`."""

    periodic = True

    def __init__(self, grid: Mesh, symmetry: Any, tol: float = 1e-3) -> None:
        if not isinstance(symmetry, Structure | MagneticGroup | str | Path):
            raise TypeError(f"symmetry must be a Structure, a MagneticGroup or a .win path, got {symmetry!r}")
        if not 0 < tol < 1:  # also NaN; errors are relative (to the bandwidth, to max |I|): 1 or more checks nothing
            raise ValueError(f"symmetry_tol must be a relative tolerance in (0, 1), got {tol!r}: the energy and "
                             "integrand deviations it bounds are relative, so a tolerance ≥ 1 accepts any model "
                             "(symmetry_tol=1e6 gave σ_xy = 0 instead of 28949 S/m)")
        self.grid, self.symmetry, self.tol = grid, symmetry, float(tol)

    @property
    def dim(self) -> int | None:
        return self.grid.dim

    @property
    def size(self) -> int:
        raise ValueError("a symmetry-reduced grid depends on the model: call mesh.resolve(mesh, model) first")

    def describe(self) -> dict[str, Any]:
        return {**self.grid.describe(), "symmetry": "requested"}

    def resolve_for(self, model: Model, response: Any = None) -> Mesh:
        """The irreducible mesh of this grid for ``model`` and ``response``, or the full grid (with a warning)."""
        from .mesh import resolve as resolve_mesh

        grid = resolve_mesh(self.grid, model)
        group, check, reason = resolve(self.symmetry, model, response, grid.n, grid.shift, self.tol)
        if group is None:
            return FullGrid(grid.n, grid.shift, f"not used: {reason}",
                            tuple(_check_attrs(check).items()) if check is not None else ())
        try:
            idx, star = irreducible_points(grid.n, grid.shift, model.reciprocal, group)
        except ValueError as exc:
            _warn(f"symmetry not used: {exc}; the full grid is computed")
            return FullGrid(grid.n, grid.shift, f"not used: {exc}")
        return IrreducibleMesh(grid, idx, star, group, check, model)


@dataclass(frozen=True)
class FullGrid(Grid):
    """The full grid, used when a requested symmetry could not be; ``note`` says why (also in the attrs)."""

    note: str = ""
    details: tuple[tuple[str, Any], ...] = ()  # the measured asymmetry when the model broke the group

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "symmetry": self.note, **dict(self.details)}


class SymmetrizedMesh(Explicit):
    """Points standing for whole stars (weights include the star size); :meth:`symmetrize` applies the
    projector P to the summed result (:func:`~properspin.conductivity` calls it)."""

    def __init__(self, k: np.ndarray, w: np.ndarray, group: MagneticGroup, label: str = "symmetrized") -> None:
        super().__init__(k, w, periodic=True, label=label)
        self.group = group

    def symmetrize(self, values: np.ndarray, response: Any, dim: int) -> np.ndarray:
        """P = (1/|G|) Σ_g L(g) on the trailing component axes of ``values``."""
        return apply_projector(values, response, self.group, dim)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.group.describe()}


class IrreducibleMesh(SymmetrizedMesh):
    """The irreducible points of a grid with their star weights: with P applied, the full-grid sum."""

    def __init__(self, grid: Grid, index: np.ndarray, star: np.ndarray, group: MagneticGroup,
                 check: Verification | None, model: Model) -> None:
        frac = np.stack(np.unravel_index(index, grid.n), axis=1).astype(float)
        frac = (frac + np.asarray(grid.shift)) / np.asarray(grid.n)
        cell = grid.points(model, 0, 1)[1][0]
        super().__init__(frac @ model.reciprocal, cell * star.astype(float), group, label="grid")
        self.grid, self.verification, self.index = grid, check, index  # not `check`: that is Mesh.check(model)

    def describe(self) -> dict[str, Any]:
        out = {**self.grid.describe(), "mesh_size": self.size, "mesh_full_size": self.grid.size,
               "symmetry": "irreducible wedge + projector", **self.group.describe(),
               "symmetry_reduction": round(self.grid.size / self.size, 3)}
        if self.verification is not None:
            out |= _check_attrs(self.verification)
        return out


def _check_attrs(check: Verification) -> dict[str, float]:
    return {"symmetry_energy_error": check.energy_error,
            "symmetry_energy_error_eV": check.energy_error * check.bandwidth,
            "symmetry_integrand_error": check.integrand_error, "symmetry_tolerance": check.tolerance}


def apply_projector(values: np.ndarray, response: Any, group: MagneticGroup, dim: int) -> np.ndarray:
    """P applied to the trailing component axes of ``values`` (any leading axes: temperature, Fermi energy)."""
    from . import responses

    resp = responses.get(response)
    sizes = [len(v) for v in resp.coords(dim).values()]
    p = projector(resp, group, dim)
    lead = values.shape[: values.ndim - len(sizes)]
    return (values.reshape(*lead, int(np.prod(sizes))) @ p.T).reshape(values.shape)


register_symmetric_grid(SymmetricGrid)  # mesh.grid(n, symmetry=...) builds one; mesh never imports this module
