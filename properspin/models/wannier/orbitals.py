"""Wannier90 projections and their representation matrices under rotations, inversion and time reversal.

The ``projections`` block of ``seedname.win`` (``Pt: l=0;l=1;l=2``, ``Fe: sp3d2;dxy;dxz;dyz``, ``Ga: s;p:z=1,1,0``)
defines the angular character of each Wannier function: a combination of Wannier90's real spherical harmonics
(user guide, Tables 3.1–3.2: s; pz, px, py; dz2, dxz, dyz, dx2-y2, dxy; fz3, …; hybrids sp … sp3d2) in the local
axes ``z=``/``x=`` of the projection.  A symmetry operation x → S x + t acts on a function as (g f)(x) = f(g⁻¹x), so
an orbital Y on atom a becomes Σ_m' D_m'm(S) Y_m' on atom g(a), D_m'm(S) = ∫ Y_m'(x) Y_m(S⁻¹x) dΩ — computed
here by a quadrature exact for the degree-6 products of l ≤ 3.  With ``spinors = true`` each orbital carries
(↑, ↓) along z in Wannier90's order (orbital outer, spin inner); a proper rotation by θ about n acts on the spinor
as exp(−iθ n·σ/2), inversion not at all, and time reversal is −iσ_y K.  Within one projection line Wannier90 orders
the orbitals by l (hybrids first, l = −5 … 3) and then by mr, for each atom of the species in turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

Array = np.ndarray

#: Wannier90's orbital names → (l, mr) (user guide, Table 3.1; negative l are the hybrids of Table 3.2)
ORBITALS: dict[str, list[tuple[int, int]]] = {
    "s": [(0, 1)], "p": [(1, m) for m in (1, 2, 3)], "pz": [(1, 1)], "px": [(1, 2)], "py": [(1, 3)],
    "d": [(2, m) for m in range(1, 6)], "dz2": [(2, 1)], "dxz": [(2, 2)], "dyz": [(2, 3)], "dx2-y2": [(2, 4)],
    "dxy": [(2, 5)], "f": [(3, m) for m in range(1, 8)], "fz3": [(3, 1)], "fxz2": [(3, 2)], "fyz2": [(3, 3)],
    "fz(x2-y2)": [(3, 4)], "fxyz": [(3, 5)], "fx(x2-3y2)": [(3, 6)], "fy(3x2-y2)": [(3, 7)],
    "sp": [(-1, m) for m in (1, 2)], "sp2": [(-2, m) for m in (1, 2, 3)], "sp3": [(-3, m) for m in range(1, 5)],
    "sp3d": [(-4, m) for m in range(1, 6)], "sp3d2": [(-5, m) for m in range(1, 7)],
}
NMR = {0: 1, 1: 3, 2: 5, 3: 7, -1: 2, -2: 3, -3: 4, -4: 5, -5: 6}
_OFFSET = {0: 0, 1: 1, 2: 4, 3: 9}  # index of (l, mr=1) among the 16 real harmonics l ≤ 3
_S, _PZ, _PX, _PY, _DZ2, _DX2Y2 = 0, 1, 2, 3, 4, 7
_R2, _R3, _R6, _R12 = np.sqrt(2), np.sqrt(3), np.sqrt(6), np.sqrt(12)
#: hybrids (user guide, Table 3.2): {l: rows of (harmonic index, coefficient)}
_HYBRIDS: dict[int, list[list[tuple[int, float]]]] = {
    -1: [[(_S, 1 / _R2), (_PX, 1 / _R2)], [(_S, 1 / _R2), (_PX, -1 / _R2)]],
    -2: [[(_S, 1 / _R3), (_PX, -1 / _R6), (_PY, 1 / _R2)], [(_S, 1 / _R3), (_PX, -1 / _R6), (_PY, -1 / _R2)],
         [(_S, 1 / _R3), (_PX, 2 / _R6)]],
    -3: [[(_S, .5), (_PX, .5), (_PY, .5), (_PZ, .5)], [(_S, .5), (_PX, .5), (_PY, -.5), (_PZ, -.5)],
         [(_S, .5), (_PX, -.5), (_PY, .5), (_PZ, -.5)], [(_S, .5), (_PX, -.5), (_PY, -.5), (_PZ, .5)]],
    -4: [[(_S, 1 / _R3), (_PX, -1 / _R6), (_PY, 1 / _R2)], [(_S, 1 / _R3), (_PX, -1 / _R6), (_PY, -1 / _R2)],
         [(_S, 1 / _R3), (_PX, 2 / _R6)], [(_PZ, 1 / _R2), (_DZ2, 1 / _R2)], [(_PZ, -1 / _R2), (_DZ2, 1 / _R2)]],
    -5: [[(_S, 1 / _R6), (_PX, -1 / _R2), (_DZ2, -1 / _R12), (_DX2Y2, .5)],
         [(_S, 1 / _R6), (_PX, 1 / _R2), (_DZ2, -1 / _R12), (_DX2Y2, .5)],
         [(_S, 1 / _R6), (_PY, -1 / _R2), (_DZ2, -1 / _R12), (_DX2Y2, -.5)],
         [(_S, 1 / _R6), (_PY, 1 / _R2), (_DZ2, -1 / _R12), (_DX2Y2, -.5)],
         [(_S, 1 / _R6), (_PZ, -1 / _R2), (_DZ2, 1 / _R3)], [(_S, 1 / _R6), (_PZ, 1 / _R2), (_DZ2, 1 / _R3)]],
}


def _harmonics(x: Array) -> Array:
    """The 16 unnormalised real harmonics (Wannier90 order, l ≤ 3) at unit vectors x (N, 3): (16, N)."""
    a, b, c = x.T
    r2 = a * a + b * b + c * c
    return np.array([
        np.ones_like(a), c, a, b,
        3 * c * c - r2, a * c, b * c, a * a - b * b, a * b,
        c * (5 * c * c - 3 * r2), a * (5 * c * c - r2), b * (5 * c * c - r2), c * (a * a - b * b), a * b * c,
        a * (a * a - 3 * b * b), b * (3 * a * a - b * b),
    ])


def _quadrature() -> tuple[Array, Array]:
    """Points on the unit sphere and weights, exact for polynomials of degree ≤ 7 (8 × 16 points)."""
    mu, wmu = np.polynomial.legendre.leggauss(8)
    phi = 2 * np.pi * (np.arange(16) + 0.5) / 16
    st = np.sqrt(1 - mu * mu)
    pts = np.stack([np.outer(st, np.cos(phi)), np.outer(st, np.sin(phi)), np.outer(mu, np.ones_like(phi))], -1)
    return pts.reshape(-1, 3), np.repeat(wmu, 16) * (2 * np.pi / 16)


_PTS, _WTS = _quadrature()
_NORM = 1.0 / np.sqrt(np.sum(_harmonics(_PTS) ** 2 * _WTS, axis=1))


def harmonics(x: Array) -> Array:
    """Orthonormal real harmonics (Wannier90's signs and order, l ≤ 3) at unit vectors x (N, 3): (16, N)."""
    return _harmonics(np.asarray(x, dtype=float)) * _NORM[:, None]


def harmonic_rotation(rot: Array) -> Array:
    """D(S) (16, 16), block-diagonal in l: D_m'm = ∫ Y_m'(x) Y_m(S⁻¹x) dΩ for a Cartesian orthogonal S."""
    y = harmonics(_PTS)
    ys = harmonics(_PTS @ np.asarray(rot, dtype=float))  # row i: x_i S = S^T x_i = S⁻¹ x_i
    out = (y * _WTS) @ ys.T
    out[np.abs(out) < 1e-14] = 0.0
    return out


def spinor_rotation(rot: Array) -> Array:
    """SU(2) matrix exp(−iθ n·σ/2) of the proper part det(S)·S of a Cartesian orthogonal S (sign fixed by q0 ≥ 0)."""
    p = np.asarray(rot, dtype=float) * np.sign(np.linalg.det(rot))
    q0 = 0.5 * np.sqrt(max(1.0 + np.trace(p), 0.0))
    if q0 > 1e-6:
        q = np.array([p[2, 1] - p[1, 2], p[0, 2] - p[2, 0], p[1, 0] - p[0, 1]]) / (4 * q0)
    else:  # rotation by π: n n^T = (P + 1)/2
        nn = 0.5 * (p + np.eye(3))
        i = int(np.argmax(np.diag(nn)))
        q = nn[i] / np.sqrt(nn[i, i])
    sx, sy, sz = np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])
    return q0 * np.eye(2) - 1j * (q[0] * sx + q[1] * sy + q[2] * sz)


#: time reversal on a (↑, ↓) spinor: −iσ_y (then complex conjugation)
TIME_REVERSAL_SPINOR = np.array([[0.0, -1.0], [1.0, 0.0]], dtype=complex)


@dataclass(frozen=True)
class Projection:
    """The Wannier functions of one atom: coefficients (16 or 32, n_a) on real harmonics (⊗ spin) and labels."""

    atom: int
    coefficients: Array
    labels: tuple[str, ...]
    order: tuple[int, ...]  # global Wannier-function index of each column


def _local_axes(options: list[str], line: str) -> Array:
    """A (3, 3) with rows x̂, ŷ, ẑ of the projection's local axes (default: the Cartesian axes)."""
    axes = {"z": np.array([0.0, 0, 1]), "x": np.array([1.0, 0, 0])}
    for opt in options:
        key, _, val = opt.partition("=")
        key = key.strip().lower()
        if key in ("z", "x"):
            axes[key] = np.array([float(v) for v in val.split(",")])
        elif key == "y" or key.startswith("(") or key.startswith("["):
            raise ValueError(f"projection {line!r}: option {opt!r} (y-axis, spin selection or quantisation axis) "
                             "cannot be symmetrised; give z= and x= only, both spins, quantisation along z")
        elif key not in ("r", "zona"):
            raise ValueError(f"projection {line!r}: unknown option {opt!r}")
    z = axes["z"] / np.linalg.norm(axes["z"])
    x = axes["x"] / np.linalg.norm(axes["x"])
    if abs(z @ x) > 1e-6:
        raise ValueError(f"projection {line!r}: the local axes z= and x= are not orthogonal")
    return np.array([x, np.cross(z, x), z])


def _states(spec: str, line: str) -> list[tuple[int, int]]:
    """(l, mr) of one ';'-item: a name (``sp3d2``, ``dxy``) or ``l=2`` / ``l=2,mr=1,4``."""
    s = spec.strip().lower().replace(" ", "")
    if s in ORBITALS:
        return ORBITALS[s]
    m = re.fullmatch(r"l=(-?\d)(?:,mr=([\d,]+))?", s)
    if not m or int(m.group(1)) not in NMR:
        raise ValueError(f"projection {line!r}: orbital {spec!r} is not one of Wannier90's s, p, d, f, sp, sp2, sp3, "
                         "sp3d, sp3d2 (or l=…,mr=…) that can be symmetrised")
    lval = int(m.group(1))
    mrs = [int(x) for x in m.group(2).split(",") if x] if m.group(2) else list(range(1, NMR[lval] + 1))
    if any(not 1 <= x <= NMR[lval] for x in mrs):
        raise ValueError(f"projection {line!r}: mr out of range for l = {lval}")
    return [(lval, x) for x in mrs]


def _coefficient(lval: int, mr: int) -> Array:
    c = np.zeros(16)
    if lval >= 0:
        c[_OFFSET[lval] + mr - 1] = 1.0
    else:
        for idx, val in _HYBRIDS[lval][mr - 1]:
            c[idx] = val
    return c


def parse_projections(lines: list[str], species: list[str], spinors: bool) -> list[Projection]:
    """The Wannier functions of a ``projections`` block: one :class:`Projection` per atom that carries any.

    ``species`` are the atom labels of the structure (``atoms_frac``), in order.  Wannier function j is column
    ``order.index(j)`` of its atom's coefficients; the returned ``Projection.labels`` name each column.  Only
    projections on atoms (by species label), with both spins along z, can be represented: anything else (``f=``,
    ``c=`` centres, ``random``, spin selections, other quantisation axes) is refused.
    """
    per_atom: dict[int, list[tuple[int, Array, str]]] = {}
    counter = 0
    labels = [s.lower() for s in species]
    for raw in lines:
        line = raw.strip()
        if not line or line.lower() in ("ang", "bohr", "angstrom"):
            continue
        site, sep, rest = line.partition(":")
        if not sep or site.strip().lower() == "random" or "=" in site:
            raise ValueError(f"projection {line!r}: only projections on atoms given by their species label can be "
                             "symmetrised (not random, f= or c= centres)")
        atoms = [i for i, s in enumerate(labels) if s == site.strip().lower()]
        if not atoms:
            raise ValueError(f"projection {line!r}: no atom of species {site.strip()!r} in atoms_frac/atoms_cart")
        parts = rest.split(":")
        axes = _local_axes(parts[1:], line)
        states = sorted({st for item in parts[0].split(";") if item.strip() for st in _states(item, line)})
        local = harmonic_rotation(axes.T)  # orbital in the local frame: Y(A x) = Σ D(Aᵀ)_m'm Y_m'(x)
        for atom in atoms:
            for lval, mr in states:
                coef = local @ _coefficient(lval, mr)
                for spin in ((0, 1) if spinors else (None,)):
                    name = f"{site.strip()}{atom + 1}:l={lval},mr={mr}" + ("" if spin is None else "↑↓"[spin])
                    full = coef if spin is None else np.kron(coef, np.eye(2)[spin])
                    per_atom.setdefault(atom, []).append((counter, full, name))
                    counter += 1
    out = []
    for atom, items in sorted(per_atom.items()):
        coef = np.array([c for _, c, _ in items]).T
        gram = coef.T @ coef
        if np.abs(gram - np.eye(len(items))).max() > 1e-8:
            raise ValueError(f"projections on atom {atom + 1} ({species[atom]}) are not orthonormal: an orbital "
                             "given twice in different lines?")
        out.append(Projection(atom, coef, tuple(n for _, _, n in items), tuple(j for j, _, _ in items)))
    return out


def wannier_order(projections: list[Projection]) -> list[tuple[int, int]]:
    """(atom, column) of every Wannier function in Wannier90's order."""
    table: dict[int, tuple[int, int]] = {}
    for p in projections:
        for col, j in enumerate(p.order):
            table[j] = (p.atom, col)
    return [table[j] for j in range(len(table))]


def operation_matrix(rot: Array, time_reversal: bool, spinors: bool) -> Array:
    """The action (16 or 32 square) of x → S x (+ t) [· T] on real harmonics (⊗ spinor): D(S) ⊗ U(S) [· (−iσ_y)]."""
    d = harmonic_rotation(rot).astype(complex)
    if not spinors:
        return d
    u = spinor_rotation(rot)
    if time_reversal:
        u = u @ TIME_REVERSAL_SPINOR
    return np.kron(d, u)
