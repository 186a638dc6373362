"""The k-mesh stage: k-points and integration weights.

Every mesh is index-addressable: ``mesh.points(model, start, stop)`` returns the k-points with flat
indices ``start ≤ i < stop`` and their weights, so the engine can stream any mesh in chunks (and
resume from a checkpoint) without holding it in memory.  Weights include the ``1/(2π)^d``:
``Σ_i w_i g(k_i) ≈ ∫ d^dk/(2π)^d g(k)``.

* :func:`grid` — Monkhorst–Pack grid over the reciprocal cell of a periodic model (conventions §4).
* :func:`disk`, :func:`sphere`, :func:`cylinder` — cutoff meshes for continuum k·p models:
  Gauss–Legendre in the radial (and polar / axial) directions, uniform in the azimuth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _system
from .model import Model
from .validate import check_size, finite_float, positive_int, real_array


def _positive_int(value: Any, name: str) -> int:
    return positive_int(value, name)


#: Largest number of k-points accepted by default: ``Engine(max_kpoints=...)`` for conductivities; for
#: :mod:`properspin.filling` and :mod:`properspin.adaptive` (which hold every point or eigenvalue) raise this
#: module constant if you mean it.
MAX_KPOINTS = 10**9

#: Most Gauss–Legendre points per direction of a cutoff mesh (the rule costs O(n²) to build; exponential
#: convergence makes more than a few hundred pointless).
MAX_GAUSS = 10_000


def _positive_float(value: Any, name: str) -> float:
    return finite_float(value, name, positive=True)


#: The constructor behind ``grid(n, symmetry=...)``: :class:`properspin.symmetry.SymmetricGrid`, registered by
#: :mod:`properspin.symmetry` when it is imported (``import properspin`` imports it), so that this earlier stage
#: never imports the symmetry stage (issue 23: no import circle).
_symmetric_grid: Callable[[Mesh, Any, float], Mesh] | None = None


def register_symmetric_grid(factory: Callable[[Mesh, Any, float], Mesh]) -> None:
    """Install the constructor of ``grid(n, symmetry=...)`` (called once by :mod:`properspin.symmetry`)."""
    global _symmetric_grid
    _symmetric_grid = factory


_SAMPLE_FRACTIONS = (0.1372, 0.4193, 0.7331, 0.9713, 0.2857, 0.6180)


class Mesh:
    """Base class: a finite, index-addressable set of k-points with weights."""

    periodic: bool
    dim: int | None

    @property
    def size(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def points(self, model: Model, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover

    def _public_name(self) -> str:
        """The mesh as the user made it (``mesh.grid(n)``, ``mesh.disk(...)``), never a private class name."""
        return f"mesh.{getattr(self, 'kind', None) or type(self).__name__.lstrip('_').removesuffix('Spec').lower()}"

    def check(self, model: Model) -> None:
        """Refuse a periodic mesh on a continuum model, a cutoff mesh on a lattice model, or a wrong dim."""
        if self.periodic and not model.periodic:
            raise ValueError(
                f"{self._public_name()} is a periodic Brillouin-zone mesh but model '{model.name}' is a "
                "continuum k·p model (reciprocal=None): use mesh.disk/sphere/cylinder with a cutoff"
            )
        if not self.periodic and model.periodic:
            raise ValueError(
                f"{self._public_name()} is a cutoff mesh for continuum models but model '{model.name}' "
                "is periodic: use mesh.grid(n) over the Brillouin zone"
            )
        if self.dim is not None and self.dim != model.dim:
            raise ValueError(f"{self._public_name()} is {self.dim}-dimensional, model is {model.dim}D")

    def sample(self, model: Model, count: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """A few k-points (and weights) at fixed, generic positions of the index range: probes for checks."""
        size = self.size
        index = sorted({min(size - 1, int(f * size)) for f in _SAMPLE_FRACTIONS[:count]})
        parts = [self.points(model, i, i + 1) for i in index]
        return np.concatenate([k for k, _ in parts]), np.concatenate([w for _, w in parts])

    def all_points(self, model: Model) -> tuple[np.ndarray, np.ndarray]:
        """Every k-point and weight at once (small meshes, plotting, tests)."""
        self.check(model)
        return self.points(model, 0, self.size)

    def contains(self, model: Model, point: np.ndarray, atol: float = 1e-10) -> bool:
        """Whether ``point`` (Cartesian k) is one of the mesh's k-points (modulo reciprocal vectors when periodic);
        streamed in chunks."""
        point = np.asarray(point, dtype=float)
        for start in range(0, self.size, 200_000):
            k = self.points(model, start, min(self.size, start + 200_000))[0] - point
            if model.periodic:
                frac = k @ np.linalg.inv(model.reciprocal)
                k = (frac - np.round(frac)) @ model.reciprocal
            if np.any(np.all(np.abs(k) < atol, axis=1)):
                return True
        return False


# ---------------------------------------------------------------------------- periodic grid
@dataclass(frozen=True)
class Grid(Mesh):
    """Monkhorst–Pack grid ``k = Σ_a (i_a + shift_a)/n_a b_a`` over the reciprocal cell (conventions §4).

    ``shift`` in units of the grid step (0: Γ-centred; 0.5: the classic MP offset for even n), at most 1 in
    magnitude: shifts that differ by an integer give the same grid, and a large one would swamp the index
    ``i_a`` in floating point (``shift = 1e17`` made every k-point the same).
    """

    n: tuple[int, ...]
    shift: tuple[float, ...]
    periodic = True

    @property
    def dim(self) -> int:
        return len(self.n)

    @property
    def size(self) -> int:
        return int(np.prod(self.n))

    def points(self, model: Model, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.arange(start, stop)
        frac = np.stack(np.unravel_index(idx, self.n), axis=1).astype(float)
        frac = (frac + np.asarray(self.shift)) / np.asarray(self.n)
        k = frac @ model.reciprocal
        vol = abs(np.linalg.det(model.reciprocal)) / (2 * math.pi) ** self.dim
        return k, np.full(len(idx), vol / self.size)

    def describe(self) -> dict[str, Any]:
        return {"mesh": "grid", "mesh_n": list(self.n), "mesh_shift": list(self.shift), "mesh_size": self.size}

    def contains(self, model: Model, point: np.ndarray, atol: float = 1e-10) -> bool:
        """Exact test: fractional coordinates ``(i + shift)/n`` modulo 1."""
        frac = np.asarray(point, dtype=float) @ np.linalg.inv(model.reciprocal)
        i = frac * np.asarray(self.n) - np.asarray(self.shift)
        return bool(np.all(np.abs(i - np.round(i)) < atol * np.asarray(self.n)))


def grid(n: int | tuple[int, ...], dim: int | None = None, shift: float | tuple[float, ...] = 0.0,
         symmetry: Any = None, symmetry_tol: float = 1e-3) -> Mesh:
    """Monkhorst–Pack grid with ``n`` points per reciprocal vector (an int, or one per dimension).

    With an int ``n`` the dimension is taken from the model at run time (``dim`` fixes it here).
    ``symmetry``: a :class:`~properspin.symmetry.Structure` (or its ``MagneticGroup``, or a ``.win`` path) —
    only the irreducible wedge is computed and the result is symmetrised (:mod:`properspin.symmetry`); the
    model is checked for the symmetry first (tolerance ``symmetry_tol``) and the full grid used, with a
    warning, when it breaks it.
    """
    if symmetry is not None:
        if _symmetric_grid is None:  # pragma: no cover - import properspin registers it
            raise RuntimeError("grid(symmetry=...) needs properspin.symmetry: import properspin first")
        return _symmetric_grid(grid(n, dim, shift), symmetry, symmetry_tol)
    if np.ndim(n) == 0:
        _check_shift(np.ravel(np.asarray(shift, dtype=float)).tolist(), shift)
        return _GridSpec(_positive_int(n, "grid n"), dim, shift)
    ns = tuple(_positive_int(x, "grid n") for x in n)
    check_size(math.prod(ns), "k-points", f"grid n = {list(ns)}", "use a coarser mesh")
    shifts = (float(shift),) * len(ns) if np.ndim(shift) == 0 else tuple(float(s) for s in shift)
    if len(shifts) != len(ns):
        raise ValueError("grid shift must be a number or one per dimension")
    _check_shift(shifts, shift)
    return Grid(ns, shifts)


def _check_shift(shifts: Any, given: Any) -> None:
    if not all(math.isfinite(s) and abs(s) <= 1 for s in shifts):
        raise ValueError(f"grid shift must be finite and at most 1 in magnitude (units of the grid step; shifts "
                         f"differing by an integer give the same grid), got {given!r}")


@dataclass(frozen=True)
class _GridSpec(Mesh):
    """A grid whose dimension follows the model (``grid(40)``)."""

    n_per_dim: int
    fixed_dim: int | None
    shift_value: float | tuple[float, ...]
    periodic = True

    @property
    def dim(self) -> int | None:
        return self.fixed_dim

    def resolve(self, model: Model) -> Grid:
        d = self.fixed_dim or model.dim
        return grid((self.n_per_dim,) * d, shift=self.shift_value)  # type: ignore[return-value]

    @property
    def size(self) -> int:
        if self.fixed_dim is None:
            raise ValueError("grid(n) size depends on the model dimension: call mesh.resolve(model) first")
        return self.n_per_dim**self.fixed_dim

    def describe(self) -> dict[str, Any]:
        return {"mesh": "grid", "mesh_n": self.n_per_dim}


def resolve(mesh: Mesh, model: Model, response: Any = None) -> Mesh:
    """Fix a model-dependent mesh (``grid(n)``; ``grid(n, symmetry=...)`` for ``response``) to the model and
    check compatibility."""
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a properspin.mesh mesh (grid, disk, sphere, cylinder), got {mesh!r}")
    mesh.check(model)
    if hasattr(mesh, "resolve_for"):
        return mesh.resolve_for(model, response)
    if isinstance(mesh, _GridSpec):
        mesh = mesh.resolve(model)
        mesh.check(model)
    return mesh


# ---------------------------------------------------------------------------- explicit points
class Explicit(Mesh):
    """Given k-points and weights (adaptive refinement, user meshes).  ``periodic`` says which models it fits."""

    def __init__(self, k: np.ndarray, weights: np.ndarray, periodic: bool, label: str = "explicit") -> None:
        k, w = real_array(k, "explicit mesh k"), real_array(weights, "explicit mesh weights")
        if k.ndim != 2 or w.shape != (k.shape[0],):
            raise ValueError(f"explicit mesh needs finite k of shape (N, dim) and weights of shape (N,), got "
                             f"{k.shape} and {w.shape}")
        if k.shape[0] == 0:
            raise ValueError("explicit mesh has no k-points (k of shape (0, dim)): give at least one")
        self.k, self.w, self.periodic, self.label = k, w, bool(periodic), label

    @property
    def dim(self) -> int:
        return self.k.shape[1]

    @property
    def size(self) -> int:
        return len(self.w)

    def points(self, model: Model, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        return self.k[start:stop], self.w[start:stop]

    def describe(self) -> dict[str, Any]:
        return {"mesh": self.label, "mesh_size": self.size}

    def boundary(self, n: int = 0) -> np.ndarray:
        raise ValueError("an explicit continuum mesh has no known cutoff surface; check convergence yourself")


def explicit(k: np.ndarray, weights: np.ndarray, periodic: bool, label: str = "explicit") -> Mesh:
    """A mesh of given k-points and weights (weights include 1/(2π)^d: Σ w ≈ ∫ d^dk/(2π)^d)."""
    return Explicit(k, weights, periodic, label)


# ---------------------------------------------------------------------------- continuum cutoffs
def _gauss(n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre rule of ``n`` points on [a, b]; numpy's up to 1000 points, scipy's O(n²) one above
    (numpy's companion-matrix eigenvalues cost O(n³) time and O(n²) memory: nk = 20000 never finished)."""
    if n > MAX_GAUSS:
        raise ValueError(f"{n} Gauss–Legendre points in one direction: at most {MAX_GAUSS} are supported (the rule "
                         "converges exponentially; a few hundred points resolve any cutoff mesh)")
    if n <= 1000:
        x, w = np.polynomial.legendre.leggauss(n)
    else:
        from scipy.special import roots_legendre

        x, w = roots_legendre(n)
    return 0.5 * (b - a) * x + 0.5 * (b + a), 0.5 * (b - a) * w


@dataclass(frozen=True)
class _ProductMesh(Mesh):
    """Tensor product of 1D rules, mapped to Cartesian k by ``_to_cartesian``."""

    axes: tuple[tuple[np.ndarray, np.ndarray], ...]
    params: tuple[tuple[str, Any], ...]
    periodic = False

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(x) for x, _ in self.axes)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def points(self, model: Model, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.unravel_index(np.arange(start, stop), self.shape)
        coords = [x[i] for (x, _), i in zip(self.axes, idx, strict=True)]
        weight = np.prod([w[i] for (_, w), i in zip(self.axes, idx, strict=True)], axis=0)
        k, jac = self._to_cartesian(*coords)
        return k, weight * jac / (2 * math.pi) ** k.shape[1]

    def _to_cartesian(self, *coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover

    def describe(self) -> dict[str, Any]:
        return {"mesh": self.kind, **dict(self.params), "mesh_size": self.size}

    def boundary(self, n: int = 64) -> np.ndarray:
        """k-points on the cutoff surface, used to check that no Fermi surface crosses the cutoff."""
        raise NotImplementedError  # pragma: no cover


def _azimuth(nphi: int) -> tuple[np.ndarray, np.ndarray]:
    check_size(nphi, "azimuthal points", f"nphi = {nphi}", "the azimuthal rule converges exponentially")
    phi = 2 * math.pi * (np.arange(nphi) + 0.5) / nphi
    return phi, np.full(nphi, 2 * math.pi / nphi)


class Disk(_ProductMesh):
    """2D disk |k| ≤ radius: Gauss–Legendre in |k| (weight k dk), uniform in φ."""

    kind = "disk"
    dim = 2

    def _to_cartesian(self, r, phi):
        return np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1), r

    def boundary(self, n: int = 64) -> np.ndarray:
        r = dict(self.params)["radius"]
        phi = 2 * math.pi * np.arange(n) / n
        return r * np.stack([np.cos(phi), np.sin(phi)], axis=1)


class Sphere(_ProductMesh):
    """3D ball |k| ≤ radius: Gauss–Legendre in |k| (weight k² dk) and in cos θ, uniform in φ."""

    kind = "sphere"
    dim = 3

    def _to_cartesian(self, r, cos_t, phi):
        sin_t = np.sqrt(1 - cos_t**2)
        k = np.stack([r * sin_t * np.cos(phi), r * sin_t * np.sin(phi), r * cos_t], axis=1)
        return k, r**2

    def boundary(self, n: int = 24) -> np.ndarray:
        r = dict(self.params)["radius"]
        ct = np.linspace(-1, 1, n)
        phi = 2 * math.pi * np.arange(2 * n) / (2 * n)
        ct, phi = np.meshgrid(ct, phi, indexing="ij")
        st = np.sqrt(1 - ct**2)
        return r * np.stack([st * np.cos(phi), st * np.sin(phi), ct], axis=-1).reshape(-1, 3)


class Cylinder(_ProductMesh):
    """3D cylinder k∥ ≤ radius, |k_z| ≤ half_height: Gauss–Legendre in k∥ (weight k∥) and k_z."""

    kind = "cylinder"
    dim = 3

    def _to_cartesian(self, r, kz, phi):
        return np.stack([r * np.cos(phi), r * np.sin(phi), kz], axis=1), r

    def boundary(self, n: int = 24) -> np.ndarray:
        p = dict(self.params)
        r, h = p["radius"], p["half_height"]
        phi = 2 * math.pi * np.arange(2 * n) / (2 * n)
        kz = np.linspace(-h, h, n)
        side = np.stack([np.repeat(r * np.cos(phi), n), np.repeat(r * np.sin(phi), n), np.tile(kz, 2 * n)], 1)
        rr = np.linspace(0, r, n)
        rr, ph = np.meshgrid(rr, phi, indexing="ij")
        cap = np.stack([(rr * np.cos(ph)).ravel(), (rr * np.sin(ph)).ravel(), np.full(rr.size, h)], 1)
        cap2 = cap * np.array([1, 1, -1])
        return np.concatenate([side, cap, cap2])


def disk(radius: float, nk: int, nphi: int) -> Mesh:
    """Disk of radius ``radius`` (Å⁻¹) with ``nk`` Gauss–Legendre radial and ``nphi`` azimuthal points."""
    radius = _positive_float(radius, "disk radius")
    nk, nphi = _positive_int(nk, "nk"), _positive_int(nphi, "nphi")
    params = (("radius", radius), ("nk", nk), ("nphi", nphi))
    check_size(nk * nphi, "k-points", f"disk nk × nphi = {nk} × {nphi}", "use a coarser mesh")
    return Disk((_gauss(nk, 0, radius), _azimuth(nphi)), params)


def sphere(radius: float, nk: int, ntheta: int, nphi: int) -> Mesh:
    """Ball of radius ``radius`` (Å⁻¹): ``nk`` radial and ``ntheta`` polar (in cos θ) GL points."""
    radius = _positive_float(radius, "sphere radius")
    nk, nt, nphi = (_positive_int(v, n) for v, n in ((nk, "nk"), (ntheta, "ntheta"), (nphi, "nphi")))
    params = (("radius", radius), ("nk", nk), ("ntheta", nt), ("nphi", nphi))
    check_size(nk * nt * nphi, "k-points", f"sphere nk × ntheta × nphi = {nk} × {nt} × {nphi}", "use a coarser mesh")
    return Sphere((_gauss(nk, 0, radius), _gauss(nt, -1, 1), _azimuth(nphi)), params)


def cylinder(radius: float, half_height: float, nk: int, nz: int, nphi: int) -> Mesh:
    """Cylinder k∥ ≤ ``radius``, |k_z| ≤ ``half_height`` (Å⁻¹), GL in k∥ and k_z, uniform in φ."""
    radius = _positive_float(radius, "cylinder radius")
    half_height = _positive_float(half_height, "cylinder half_height")
    nk, nz, nphi = (_positive_int(v, n) for v, n in ((nk, "nk"), (nz, "nz"), (nphi, "nphi")))
    params = (("radius", radius), ("half_height", half_height), ("nk", nk), ("nz", nz), ("nphi", nphi))
    check_size(nk * nz * nphi, "k-points", f"cylinder nk × nz × nphi = {nk} × {nz} × {nphi}", "use a coarser mesh")
    return Cylinder((_gauss(nk, 0, radius), _gauss(nz, -half_height, half_height), _azimuth(nphi)), params)


def check_points(count: int, bytes_per_point: float, what: str) -> None:
    """Refuse ``count`` k-points above :data:`MAX_KPOINTS`, or whose arrays (``bytes_per_point`` each) would
    not fit in the machine's memory, before anything is computed."""
    need, total = count * bytes_per_point, _system.physical_memory()
    if count > MAX_KPOINTS:
        raise ValueError(f"{what}: {count:.4g} k-points, more than properspin.mesh.MAX_KPOINTS = {MAX_KPOINTS:.4g} "
                         f"(≈ {need / 1e9:.3g} GB held at once): use a coarser mesh")
    if total and need > total:
        raise ValueError(f"{what}: {count:.4g} k-points need ≈ {need / 1e9:.3g} GB at once, more than this "
                         f"machine's {total / 1e9:.3g} GB: use a coarser mesh")


#: A Fermi energy at temperature T occupies states within this many k_BT of it (e^-20 ≈ 2e-9): the thermal window
#: must stay clear of the cutoff as a Fermi surface must.
CUTOFF_MARGIN_KT = 20.0


def check_cutoff(mesh: Mesh, model: Model, fermi: np.ndarray, temperature: float = 0.0) -> None:
    """Refuse a cutoff that a Fermi surface, or its thermal window, crosses (conventions §4).

    A band must be either entirely above the highest or entirely below the lowest requested Fermi
    energy on the cutoff surface; otherwise states cut off by the mesh would be occupied for some
    E_F and the result would depend on the cutoff.  (Bands filled at the cutoff are fine: they are
    the filled valence bands whose contribution the cutoff defines — but not all of them: a Fermi
    energy above every band on the cutoff surface is refused too.)  At ``temperature`` > 0 (kelvin) the
    Fermi range is widened by :data:`CUTOFF_MARGIN_KT` k_BT on each side (before: T = 1e30 K gave −0.4995 e/8π).
    """
    if mesh.periodic or (isinstance(mesh, Explicit) and type(mesh).boundary is Explicit.boundary):
        return  # a lattice, or explicit points without a known cutoff surface (panels have one: checked)
    from .units import K_B_EV

    margin = CUTOFF_MARGIN_KT * K_B_EV * float(temperature)
    window = f" widened by {CUTOFF_MARGIN_KT:g} k_BT = {margin:.4g} eV (T = {float(temperature):g} K)" if margin else ""
    e = model.energies(mesh.boundary())
    lo, hi = float(np.min(fermi)) - margin, float(np.max(fermi)) + margin
    top = float(e.max())
    if hi > top:
        raise ValueError(
            f"cutoff too small: the Fermi energy {float(np.max(fermi)):.4g} eV"
            + (f" with its thermal window{window} reaches {hi:.4g} eV, which" if margin else "")
            + f" lies above every band on the cutoff surface "
            f"({mesh.describe()['mesh']}, radius {dict(mesh.params)['radius']} Å⁻¹; highest band there {top:.4g} eV): "
            "every band would be filled at the cutoff and the occupied states extend beyond it. Increase the "
            "cutoff radius or lower the Fermi energies" + (" or the temperature." if margin else ".")
        )
    for m in range(e.shape[1]):
        emin, emax = float(e[:, m].min()), float(e[:, m].max())
        if emax >= lo and emin <= hi:
            raise ValueError(
                f"cutoff too small: band {m} spans [{emin:.4g}, {emax:.4g}] eV on the cutoff surface "
                f"({mesh.describe()['mesh']}, radius {dict(mesh.params)['radius']} Å⁻¹), overlapping the "
                f"requested Fermi energies [{lo:.4g}, {hi:.4g}] eV{window}: the Fermi surface "
                + ("or its thermal window " if margin else "") + "crosses the cutoff. Increase the cutoff radius "
                "or narrow the Fermi range" + (" or lower the temperature." if margin else ".")
            )


# ---------------------------------------------------------------------------- degeneracies no mesh sees
def special_points(model: Model) -> np.ndarray:
    """Points where symmetry makes bands touch: the cutoff centre k = 0 of a continuum model, the 2^d
    time-reversal-invariant momenta ½ Σ n_a b_a (n_a ∈ {0, 1}) of a periodic one."""
    if not model.periodic:
        return np.zeros((1, model.dim))
    import itertools

    frac = np.array(list(itertools.product((0.0, 0.5), repeat=model.dim)))
    return frac @ model.reciprocal


def isolated_degeneracies(mesh: Mesh, model: Model, fermi_max: float, tol: float) -> list[dict[str, Any]]:
    """Band touchings at :func:`special_points` that are split all around (isolated points), lie at or
    below ``fermi_max`` and may be missed by the mesh (conventions §3).

    A pair of consecutive bands closer than ``max(tol, 1e-9)`` eV at a special point counts as isolated when
    it is split by more than that at every one of 2·dim probes at distance δ (1 % of the cutoff radius, or of
    the shortest reciprocal vector).  Each entry: ``k`` (Å⁻¹), ``bands``, ``energy_eV``, ``on_mesh``.
    """
    thr = max(float(tol), 1e-9)
    scale = (float(np.min(np.linalg.norm(model.reciprocal, axis=1))) if model.periodic
             else float(dict(getattr(mesh, "params", ())).get("radius", 1.0)))
    delta = 1e-2 * scale
    dirs = np.concatenate([np.eye(model.dim), np.random.default_rng(0).normal(size=(model.dim, model.dim))])
    dirs /= np.linalg.norm(dirs, axis=1)[:, None]
    found = []
    for p in special_points(model):
        e = model.energies(p[None])[0]
        gaps = np.diff(e)
        near = model.energies(p[None] + delta * dirs)
        for m in np.flatnonzero(gaps < thr):
            if e[m] > fermi_max or np.any(near[:, m + 1] - near[:, m] <= thr):
                continue
            found.append({"k": [float(x) for x in p], "bands": [int(m), int(m + 1)], "energy_eV": float(e[m]),
                          "on_mesh": bool(mesh.contains(model, p))})
    return found
