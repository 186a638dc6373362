"""The crystal's magnetic point group: structure, spglib's operations, the model's magnetisation and the
representations of the group on a model (:func:`symmetrized_model`).

Split from :mod:`properspin.symmetry` (which re-exports every name here): this module knows crystals and models,
the other what a group does to a k-mesh and a response tensor.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .model import Model


# ---------------------------------------------------------------------------------------------- structure
@dataclass(frozen=True, eq=False)
class Structure:
    """Crystal structure for the symmetry search.

    Parameters
    ----------
    lattice
        (3, 3) lattice vectors as rows (Å; for a 2D model the third row is the stacking/vacuum direction,
        and a (2, 2) lattice is padded with a 10 Å vacuum vector along z).
    positions
        (N, 3) fractional atomic positions (N, 2 for a 2D lattice).
    species
        N labels (element symbols or integers); atoms with equal labels are equivalent.
    magnetization
        ``None``: taken from the model at run time (direction of Σ_k Tr H(k) s, all atoms parallel; no spin
        or a vanishing value: non-magnetic, group G × {1, T}); a 3-vector: a collinear ferromagnet along it
        (any length, zero = non-magnetic); an (N, 3) array: the moment of each atom (axial vectors).
    """

    lattice: np.ndarray
    positions: np.ndarray
    species: Sequence[Any]
    magnetization: Any = None

    def __post_init__(self) -> None:
        lat = np.asarray(self.lattice, dtype=float)
        pos = np.atleast_2d(np.asarray(self.positions, dtype=float))
        if lat.shape == (2, 2):
            lat = np.block([[lat, np.zeros((2, 1))], [np.zeros((1, 2)), np.full((1, 1), 10.0)]])
            pos = np.hstack([pos, np.zeros((len(pos), 1))]) if pos.shape[1] == 2 else pos
        if lat.shape != (3, 3) or not np.all(np.isfinite(lat)) or abs(np.linalg.det(lat)) < 1e-12:
            raise ValueError(f"Structure.lattice must be a non-singular (3, 3) array of rows (Å), got {lat.shape}")
        if pos.ndim != 2 or pos.shape[1] != 3 or not np.all(np.isfinite(pos)):
            raise ValueError(f"Structure.positions must be (N, 3) fractional coordinates, got {pos.shape}")
        if len(self.species) != len(pos):
            raise ValueError(f"Structure.species needs one label per atom ({len(pos)}), got {len(self.species)}")
        mag = self.magnetization
        if mag is not None:
            mag = np.asarray(mag, dtype=float)
            if mag.shape not in ((3,), (len(pos), 3)) or not np.all(np.isfinite(mag)):
                raise ValueError("Structure.magnetization must be None, a 3-vector or one 3-vector per atom, "
                                 f"got shape {mag.shape}")
        object.__setattr__(self, "lattice", lat)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "species", tuple(self.species))
        object.__setattr__(self, "magnetization", mag)

    def magmoms(self, direction: np.ndarray | None) -> np.ndarray:
        """(N, 3) moments: the given ones, or ``direction`` on every atom (zeros when None)."""
        mag = self.magnetization if self.magnetization is not None else direction
        if mag is None:
            return np.zeros((len(self.positions), 3))
        mag = np.asarray(mag, dtype=float)
        return np.tile(mag, (len(self.positions), 1)) if mag.shape == (3,) else mag

    def describe(self) -> dict[str, Any]:
        return {"lattice": self.lattice.tolist(), "positions": self.positions.tolist(),
                "species": [str(s) for s in self.species]}


def structure_from_win(path: str | Path, magnetization: Any = None) -> Structure:
    """A :class:`Structure` from the ``unit_cell_cart`` and ``atoms_frac``/``atoms_cart`` blocks of ``seedname.win``."""
    from .models.wannier.textfile import BOHR_ANGSTROM, read_win_lattice  # imports nothing of properspin

    path = Path(path)
    lattice = read_win_lattice(path)
    blocks: dict[str, list[str]] = {}
    current = None
    for raw in path.read_text().splitlines():
        s = raw.split("!")[0].split("#")[0].strip()
        key = " ".join(s.lower().split())
        if key.startswith("begin "):
            current = key[6:]
            blocks[current] = []
        elif key.startswith("end "):
            current = None
        elif current is not None and s:
            blocks[current].append(s)
    kind = "atoms_frac" if "atoms_frac" in blocks else "atoms_cart" if "atoms_cart" in blocks else None
    if kind is None:
        raise ValueError(f"{path}: no 'atoms_frac' or 'atoms_cart' block")
    rows = blocks[kind]
    scale = 1.0
    if rows and rows[0].lower() in ("bohr", "ang", "angstrom"):
        scale = BOHR_ANGSTROM if rows[0].lower() == "bohr" else 1.0
        rows = rows[1:]
    species, coords = [], []
    for row in rows:
        parts = row.split()
        try:
            species.append(parts[0])
            coords.append([float(x) for x in parts[1:4]])
        except (IndexError, ValueError):
            raise ValueError(f"{path}: bad {kind} line {row!r}") from None
        if len(coords[-1]) != 3:
            raise ValueError(f"{path}: bad {kind} line {row!r}")
    xyz = np.array(coords)
    frac = xyz if kind == "atoms_frac" else (xyz * scale) @ np.linalg.inv(lattice)
    return Structure(lattice, frac, species, magnetization)


# ---------------------------------------------------------------------------------------------- the group
@dataclass(frozen=True)
class Operation:
    """One element of a magnetic point group: Cartesian rotation R (acting on r) and time reversal."""

    rotation: np.ndarray
    time_reversal: bool

    @property
    def k_map(self) -> np.ndarray:
        """Cartesian action on k: R, or −R with time reversal."""
        return -self.rotation if self.time_reversal else self.rotation


@dataclass(frozen=True, eq=False)
class MagneticGroup:
    """A magnetic point group: its operations, the lattice they act on and a label."""

    operations: tuple[Operation, ...]
    lattice: np.ndarray
    label: str
    magnetization: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> int:
        return len(self.operations)

    def describe(self) -> dict[str, Any]:
        return {"symmetry_group": self.label, "symmetry_order": self.order,
                "symmetry_magnetization": None if self.magnetization is None else self.magnetization.tolist(),
                **self.info}


def group_label(operations: list[tuple[np.ndarray, bool]]) -> str:
    """Magnetic point group symbol of (rotation, time reversal) pairs: ``G`` (no time reversal), ``G1'`` (grey:
    every rotation also with time reversal) or ``G(H)`` (H the unitary subgroup of a black-and-white group)."""
    unitary = [np.asarray(r) for r, tr in operations if not tr]
    every = {tuple(np.asarray(r).ravel()) for r, _ in operations}
    full = _rotation_label([np.array(r).reshape(3, 3) for r in every])
    if len(unitary) == len(operations):
        return full
    if 2 * len(unitary) == len(operations) and len(every) == len(unitary):
        return full + "1'"
    return f"{full}({_rotation_label(unitary)})"


def _rotation_label(rot: Sequence[np.ndarray]) -> str:
    import spglib

    if not len(rot):
        return "1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return str(spglib.get_pointgroup(np.array(rot, dtype="intc"))[0]).strip()


def magnetic_group(structure: Structure, magnetization: Any = None, symprec: float = 1e-5) -> MagneticGroup:
    """The magnetic point group of ``structure`` (spglib), with ``magnetization`` for atoms without given moments.

    The label is ``"G"`` for a group G of unitary operations, ``"G1'"`` for a grey group (non-magnetic:
    every operation also with T) and ``"G(H)"`` for a black-and-white group with unitary halving subgroup H
    (e.g. ``4/mmm(4/m)`` is 4/mm'm', bcc Fe with m ∥ z).
    """
    import spglib

    direction = None if magnetization is None else np.asarray(magnetization, dtype=float)
    moments = structure.magmoms(direction)
    numbers = _species_numbers(structure.species)
    cell = (structure.lattice, structure.positions, numbers, moments)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # spglib's notice about its error handling
        sym = spglib.get_magnetic_symmetry(cell, symprec=symprec, is_axial=True)
    if sym is None:
        raise ValueError("spglib found no symmetry for this structure (check lattice, positions and symprec)")
    lat_t = structure.lattice.T
    inv = np.linalg.inv(lat_t)
    ops: dict[tuple[Any, ...], Operation] = {}
    for rot, tr in zip(sym["rotations"], sym["time_reversals"], strict=True):
        key = (tuple(np.asarray(rot).ravel().tolist()), bool(tr))
        if key not in ops:  # point group: translations (and lattice centring) dropped
            cart = lat_t @ rot @ inv
            cart[np.abs(cart) < 1e-12] = 0.0  # exact zeros: forbidden components come out exactly 0
            ops[key] = Operation(cart, bool(tr))
    operations = tuple(ops.values())
    label = group_label([(np.array(k[0]).reshape(3, 3), k[1]) for k in ops])
    mag = None if not np.any(moments) else moments[0] / max(np.linalg.norm(moments[0]), 1e-300)
    return MagneticGroup(operations, structure.lattice, label, mag, {"symmetry_symprec": symprec})


def _species_numbers(species: Sequence[Any]) -> list[int]:
    table: dict[Any, int] = {}
    return [table.setdefault(s, len(table) + 1) for s in species]


#: Σ_k Tr[H(k) s] below this fraction of max|H| · n counts as zero: the interpolated bands of a non-magnetic Wannier90
#: run (Pt: Kramers pairs split by up to 40 meV) give 4e-9, a 1 meV exchange field on a 1 eV model about 1e-4.
MAGNETIZATION_TOL = 1e-7


def model_magnetization(model: Model, n: int = 4) -> np.ndarray | None:
    """Direction of Σ_k Tr[H(k) s(k)] over an n^d grid (the exchange field seen by the spin; s(k) = ``spin_k`` of a
    Wannier90 run), None if it vanishes (below :data:`MAGNETIZATION_TOL` relative) or the model has no spin."""
    if not model.has_spin or not model.periodic:
        return None
    idx = np.stack(np.meshgrid(*[np.arange(n)] * model.dim, indexing="ij"), -1).reshape(-1, model.dim)
    k = (idx / n) @ model.reciprocal
    h = model.h(k)
    m = np.einsum("kij,lkji->l", h, model.spin_at(k)).real / len(h)
    scale = np.abs(h).max() * model.nbands
    return None if np.linalg.norm(m) <= MAGNETIZATION_TOL * scale else m / np.linalg.norm(m)


# ---------------------------------------------------------------------------------------------- representations
def symmetrized_model(model: Model, group: MagneticGroup) -> Model:
    """A copy of ``model`` made exactly invariant under ``group``: H_s(k) = (1/|G|) Σ_g D_g† H(g k) D_g (complex
    conjugated for anti-unitary g), with each representation D_g found numerically from H (k-independent:
    Wannier functions centred on atoms at fixed points, e.g. one atom per cell).  A k-dependent spin ``spin_k``
    is averaged alike, S^m_s(k) = (1/|G|) Σ_g [D_g† Σ_l R̃_lm S^l(g k) D_g] (conjugated for anti-unitary g;
    R̃ = ±det(R) R, − with time reversal), so that it transforms as an axial, T-odd vector.

    For models whose file carries small numerical asymmetry (Fe_tb.dat: ~2e-6 eV) and for tests; each k costs
    |G| evaluations.  Tight-binding part only: ValueError for a model with position matrix elements or an
    ab-initio spin current (``spin_current``, a native Wannier90 run: its Wannier functions are not atom-centred).
    """
    if model.position is not None:
        raise ValueError("symmetrized_model needs a model without position matrix elements (use_position=False)")
    if model.spin_current is not None:
        raise ValueError("symmetrized_model cannot average an ab-initio spin current (Model.spin_current, Qiao et "
                         "al.); use the irreducible wedge on the model as it is (mesh.grid(n, symmetry=...))")
    dim = model.dim
    reps = [representation(model, op) for op in group.operations]
    maps = [op.k_map[:dim, :dim] for op in group.operations]
    anti = [op.time_reversal for op in group.operations]
    axial = [_spin_rotation(op) for op in group.operations]
    h0, g0, s0 = model.hamiltonian, model.dh, model.spin_k

    def hamiltonian(k: np.ndarray) -> np.ndarray:
        acc = 0
        for d, m, t in zip(reps, maps, anti, strict=True):
            h = d.conj().T @ h0(k @ m.T) @ d
            acc = acc + (h.conj() if t else h)
        return acc / len(reps)

    def gradient(k: np.ndarray) -> np.ndarray:
        acc = 0
        for d, m, t in zip(reps, maps, anti, strict=True):
            g = np.einsum("ba,bkij->akij", m, g0(k @ m.T))  # ∂_a H(Mk) = Σ_b M_ba (∂_b H)(Mk)
            g = d.conj().T @ g @ d
            acc = acc + (g.conj() if t else g)
        return acc / len(reps)

    def spin_k(k: np.ndarray) -> np.ndarray:
        acc = 0
        for d, m, t, rot in zip(reps, maps, anti, axial, strict=True):
            s = d.conj().T @ np.einsum("lm,lkij->mkij", rot, np.asarray(s0(k @ m.T))) @ d
            acc = acc + (s.conj() if t else s)
        return acc / len(reps)

    from dataclasses import replace

    return replace(model, hamiltonian=hamiltonian, gradient=gradient, spin_k=None if s0 is None else spin_k,
                   name=f"{model.name} (symmetrised {group.label})", info={**model.info, "symmetrised": group.label})


def _spin_rotation(op: Operation) -> np.ndarray:
    """R̃ with D s^m(k) D† = Σ_l R̃_lm s^l(g k) (s(k)* on the left for anti-unitary g): det(R) R, negated with T."""
    return op.rotation * np.linalg.det(op.rotation) * (-1 if op.time_reversal else 1)


def representation(model: Model, op: Operation, samples: int = 3, seed: int = 3) -> np.ndarray:
    """Unitary D with H(g k) = D H(k) D† (anti-unitary g: D H(k)* D†), by least squares over random k; with a spin
    operator also D s^m(k) D† = Σ_l R̃_lm s^l(g k) (constant ``spin`` or k-dependent ``spin_k``, at the same k)."""
    rng = np.random.default_rng(seed)
    dim, n = model.dim, model.nbands
    k = rng.random((samples, dim)) @ model.reciprocal
    kg = k @ op.k_map[:dim, :dim].T
    h = model.h(k)
    hg = model.h(kg)
    if op.time_reversal:
        h = h.conj()
    eye = np.eye(n)
    # D h − hg D = 0 with vec(A D B) = (A ⊗ Bᵀ) vec(D) for row-major vec(D) = D.ravel()
    rows = [np.kron(eye, hk.T) - np.kron(hgk, eye) for hk, hgk in zip(h, hg, strict=True)]
    if model.has_spin:  # spin covariance, enforced strongly
        rot = _spin_rotation(op)
        if model.spin is not None:
            pairs = [(model.spin, model.spin)]
        else:  # (3, N, n, n) at k and at g k → one pair per sample k
            pairs = list(zip(model.spin_at(k).swapaxes(0, 1), model.spin_at(kg).swapaxes(0, 1), strict=True))
        scale = max(float(np.abs(pairs[0][0]).max()), 1e-300)
        weight = 1e6 * float(np.abs(h).max()) / scale
        for s_k, s_g in pairs:
            s = s_k.conj() if op.time_reversal else s_k
            rows += [weight * (np.kron(eye, s[m].T) - np.kron(np.einsum("l,lij->ij", rot[:, m], s_g), eye))
                     for m in range(3)]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # (n² unknowns: a single thread is fastest on a busy machine)
        _, sv, vh = np.linalg.svd(np.concatenate(rows), full_matrices=False)  # null vector of the stacked system
    d = vh[-1].conj().reshape(n, n)
    u, _, w = np.linalg.svd(d)
    d = u @ w
    err = max(float(np.abs(d @ hk @ d.conj().T - hgk).max()) for hk, hgk in zip(h, hg, strict=True))
    if err > 1e-3 * float(np.abs(h).max()) or (len(sv) > 1 and sv[-2] < 1e-8 * sv[0]):
        raise ValueError(f"no unique k-independent representation of this operation (residual {err:.2g} eV)")
    return d
