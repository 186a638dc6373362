"""Symmetric wedges of the reproduction's cutoff meshes: compute 1/|G| of a symmetric ball or disk, restore the rest
by the response's transformation law.

For a model with a magnetic point group G whose k-action maps the mesh onto itself, the sum over the mesh is
``Σ_k Q(k) = |G_k| P Σ_{k ∈ wedge} Q(k)``, ``P = (1/|G|) Σ_g L(g)`` (:mod:`properspin.symmetry`): identical to
the full mesh to round-off.  Used here:

* Bi2Se3, Eq. (10), |m| along x, y, z or m = 0: the eight sign flips of k (the D2h operations, each combined with
  time reversal where it reverses m) map the ball onto itself (cos θ Gauss–Legendre nodes are symmetric, ntheta
  even; nphi a multiple of 4): the octant kx, ky, kz > 0 (:func:`sphere_octant`, :func:`sign_group`);
* the same model with m ∥ z or m = 0 is axial (rotations about z with the spin): the integrand of a rank-2 (Σ^{c,l})
  or rank-3 (conventional) tensor is a trigonometric polynomial of degree ≤ 3 in φ, which the uniform φ rule
  integrates exactly from 4 points (:func:`axial_nphi`);
* the hole well, Eq. (11)–(12) and solved in z: C4v, with time reversal on the vertical mirrors (they reverse
  m_z): the wedge 0 < φ < π/4 (:func:`disk_wedge`, :func:`c4v_group`).

Each use is checked at run time (:func:`check`: energies and the response integrand at k and g k) and by tests
against the full mesh (tests/test_paper.py).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import xarray as xr

from .. import Engine, conductivity
from ..mesh import Disk, Sphere
from ..model import Model
from ..quadrature import RadialPanels
from ..symmetry import MagneticGroup, Operation, apply_projector, verify

#: The engine of the reproduction's runs (``None``: the conductivity's default; :func:`.reproduce.run` makes it
#: serial inside its section processes).
ENGINE: Engine | None = None

#: Points of the uniform φ rule that integrate a rank-≤3 tensor of an axial model exactly (harmonics |n| ≤ 3).
AXIAL_NPHI = 4


def _group(rotations: list[np.ndarray], m: np.ndarray, label: str) -> MagneticGroup:
    """The operations R (with time reversal where R reverses the axial vector m: det(R) R m = −m) that keep m."""
    ops = []
    for rot in rotations:
        image = np.linalg.det(rot) * rot @ m
        if np.allclose(image, m, atol=1e-15):
            ops.append(Operation(rot, False))
        if np.allclose(image, -m, atol=1e-15):
            ops.append(Operation(rot, True))
    return MagneticGroup(tuple(ops), np.eye(3), label, m if np.any(m) else None)


def sign_group(magnetization: Any) -> MagneticGroup:
    """D2h (k → (±kx, ±ky, ±kz)) with time reversal where an operation reverses m; m along an axis or 0."""
    m = np.asarray(magnetization, dtype=float)
    if np.count_nonzero(m) > 1:
        raise ValueError(f"sign_group needs m along x, y or z (or 0), got {m.tolist()}")
    rots = [np.diag(s).astype(float) for s in itertools.product((1.0, -1.0), repeat=3)]
    return _group(rots, m, "mmm (sign flips)")


def c4v_group(mz: float) -> MagneticGroup:
    """C4v about z (four rotations, four vertical mirrors), time reversal on the mirrors when m_z ≠ 0."""
    rots = []
    for q in range(4):
        c, s = round(math.cos(q * math.pi / 2)), round(math.sin(q * math.pi / 2))
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        rots += [rot, rot @ np.diag([1.0, -1.0, 1.0])]
    return _group(rots, np.array([0.0, 0.0, float(mz)]), "4mm (C4v)")


def axial_nphi(nphi: int, magnetization: Any) -> int:
    """:data:`AXIAL_NPHI` azimuths when m ∥ z or m = 0 (axial model), else ``nphi``."""
    m = np.asarray(magnetization, dtype=float)
    return AXIAL_NPHI if m[0] == 0 and m[1] == 0 else nphi


def sphere_octant(mesh: Sphere) -> Sphere:
    """The octant kx, ky, kz > 0 of a ball (or shell) with weights × 8: cos θ > 0 (× 2), 0 < φ < π/2 (× 4)."""
    (r, ct, phi), params = mesh.axes, dict(mesh.params)
    if len(ct[0]) % 2 or params["nphi"] % 4:
        raise ValueError(f"the octant of a sphere needs an even ntheta and nphi a multiple of 4, got {params}")
    up = ct[0] > 0
    quad = phi[0] < math.pi / 2
    axes = (r, (ct[0][up], 2 * ct[1][up]), (phi[0][quad], 4 * phi[1][quad]))
    return Sphere(axes, (*mesh.params, ("wedge", "octant kx, ky, kz > 0, weights x 8")))


def disk_wedge(mesh: Disk) -> Disk:
    """The wedge 0 < φ < π/4 of a disk with weights × 8 (nphi a multiple of 8: no point on a mirror line)."""
    (r, phi), params = mesh.axes, dict(mesh.params)
    if params["nphi"] % 8:
        raise ValueError(f"the C4v wedge of a disk needs nphi a multiple of 8, got {params['nphi']}")
    keep = phi[0] < math.pi / 4
    return Disk((r, (phi[0][keep], 8 * phi[1][keep])), (*mesh.params, ("wedge", "0 < phi < pi/4, weights x 8")))


def panels_wedge(pm: RadialPanels) -> RadialPanels:
    """Radial panels built on the rays 0 < φ < π/4 only (``quadrature.panels(..., rays=nphi // 8)``), weights × 8."""
    p = dict(pm.params)
    if p["nphi"] % 8 or p.get("rays") != p["nphi"] // 8:
        raise ValueError(f"the C4v wedge of radial panels needs nphi a multiple of 8 and rays = nphi // 8, got {p}")
    return RadialPanels(pm.k, 8 * pm.w, (*pm.params, ("wedge", "0 < phi < pi/4, weights x 8")), pm.found)


def check(model: Model, group: MagneticGroup, response: str, radius: float, samples: int = 3,
          tol: float = 1e-6, seed: int = 5) -> float:
    """Largest relative deviation of the energies and of the response integrand Σ_m f Q_m between k and g k (a few
    random k with |k_i| < radius/2, every g; :func:`properspin.symmetry.verify`); raises ValueError above ``tol``:
    the model lacks the symmetry."""
    found = verify(model, group, response, samples, tol, seed, radius=radius)
    worst = max(found.energy_error, found.integrand_error)
    if worst > tol:
        raise ValueError(f"model '{model.name}' lacks the symmetry {group.label} for {response} (relative deviation "
                         f"{worst:.2g} > {tol:g}): compute the full mesh")
    return worst


def conductivity_wedge(model: Model, response: str, group: MagneticGroup, wedge: Sphere | Disk | RadialPanels,
                       **kwargs: Any) -> xr.DataArray:
    """``conductivity`` on ``wedge`` (weights already × the fold), projected by the law of ``response`` under
    ``group`` (:func:`~properspin.symmetry.apply_projector`): the full mesh's result to round-off.  The group
    is checked first (:func:`check`); attrs record the group and the check."""
    worst = check(model, group, response, float(dict(wedge.params)["radius"]))
    res = conductivity(model, response, mesh=wedge, **({"engine": ENGINE} | kwargs))
    comp = [d for d in ("spin", "current", "field") if d in res.dims]
    order = res.dims
    res = res.transpose(*[d for d in order if d not in comp], *comp)
    out = res.copy(data=apply_projector(res.values, response, group, model.dim)).transpose(*order)
    out.attrs |= {"mesh_symmetry": f"wedge + projector, {group.label}, order {group.order}",
                  "mesh_symmetry_check": worst}
    return out
