"""A small builder for hand-written tight-binding models, plus the Haldane and QWZ lattice models.

Conventions (the Wannier90 ones, so every model can be written as ``_hr.dat``/``_tb.dat``):
``add_hopping(t, i, j, R)`` sets <i, 0|H|j, R> = t (and the Hermitian partner <j, 0|H|i, −R> = t*),
H(k) = Σ_R e^{ik·R} H_R with R = Σ n_i a_i Cartesian — no orbital-position phases in H.  The orbital
centres τ_i enter instead through the Wannier position matrix <0i|r|0i> = τ_i, which
:meth:`TightBinding.to_model` passes on as ``Model.position`` (constant diagonal A^W = diag τ), so
Berry curvatures are those of the usual orbital-phase convention.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..model import PAULI, Model
from .wannier import WannierHamiltonian, spinor_spin

Array = np.ndarray


class TightBinding:
    """Hopping-list builder for a periodic tight-binding model in 1, 2 or 3 dimensions.

    List the onsite energies and hoppings <i, 0|H|j, R> (R in integer multiples of the lattice vectors), then
    :meth:`to_model` gives the :class:`~properspin.Model` (or :meth:`to_wannier` a Wannier90 file)::

        tb = TightBinding([[1, 0], [0.5, 3**0.5 / 2]], [[1/3, 1/3], [2/3, 2/3]])
        tb.set_onsite([0.1, -0.1]).add_hopping(1.0, 0, 1, (0, 0)).add_hopping(1.0, 0, 1, (-1, 0))
        model = tb.to_model()

    **k is Cartesian**: the model's ``H(k)`` takes Cartesian k (Å⁻¹, or 1/a when the lattice is in units of a),
    H(k) = Σ_R e^{ik·R} H_R with the Cartesian R = Σ_i n_i a_i; a point in fractional (reduced) coordinates κ
    is k = κ @ model.reciprocal.

    Parameters
    ----------
    lattice
        (dim, dim) lattice vectors as rows (Å, or the lattice constant for dimensionless models).
    orbital_positions
        (n, dim) orbital centres, fractional (in units of the lattice vectors) unless
        ``fractional=False`` (Cartesian, same unit as ``lattice``).
    spin
        ``None`` (spinless), ``"interleaved"`` / ``"block"`` (1_orb ⊗ σ/2 in that spinor order), or a
        (3, n, n) array of spin operators in units of ħ.
    """

    def __init__(
        self,
        lattice: Array,
        orbital_positions: Array,
        *,
        fractional: bool = True,
        spin: str | Array | None = None,
        name: str = "tight-binding",
        parameters: dict[str, Any] | None = None,
    ) -> None:
        lat = np.atleast_2d(np.asarray(lattice, dtype=float))
        dim = lat.shape[0]
        if lat.shape != (dim, dim) or dim not in (1, 2, 3) or abs(np.linalg.det(lat)) < 1e-12:
            raise ValueError(f"lattice must be a non-singular (dim, dim) array with dim 1-3, got {lat.shape}")
        pos = np.asarray(orbital_positions, dtype=float).reshape(-1, dim)
        self.lattice = lat
        self.positions = pos @ lat if fractional else pos  # Cartesian
        self.dim, self.norb = dim, pos.shape[0]
        self.spin = spinor_spin(self.norb, spin) if isinstance(spin, str) else spin
        self.name, self.parameters = name, dict(parameters or {})
        self._blocks: dict[tuple[int, ...], Array] = {}

    # ------------------------------------------------------------------ building
    def _block(self, r: tuple[int, ...]) -> Array:
        return self._blocks.setdefault(r, np.zeros((self.norb, self.norb), dtype=complex))

    def _vector(self, r: Any) -> tuple[int, ...]:
        rv = tuple(int(x) for x in np.atleast_1d(r))
        if len(rv) != self.dim:
            raise ValueError(f"R must have {self.dim} integer components, got {r!r}")
        return rv

    def set_onsite(self, energy: float | Array, i: int | None = None) -> TightBinding:
        """Onsite energy of orbital ``i``, or of all orbitals when ``i`` is None (energy: a list)."""
        h0 = self._block((0,) * self.dim)
        if i is None:
            e = np.asarray(energy, dtype=float).reshape(self.norb)
            h0[np.diag_indices(self.norb)] = e
        else:
            h0[i, i] = float(energy)
        return self

    def add_hopping(self, t: complex, i: int, j: int, R: Any) -> TightBinding:
        """Add <i, 0|H|j, R> += t and the Hermitian partner <j, 0|H|i, −R> += t*."""
        r = self._vector(R)
        if not (0 <= i < self.norb and 0 <= j < self.norb):
            raise ValueError(f"orbital indices must lie in 0..{self.norb - 1}, got {i}, {j}")
        if i == j and not any(r):
            raise ValueError("an onsite term is not a hopping: use set_onsite")
        self._block(r)[i, j] += t
        self._block(tuple(-x for x in r))[j, i] += np.conj(t)
        return self

    def add_block(self, block: Array, R: Any) -> TightBinding:
        """Add a whole matrix <·, 0|H|·, R> += T (and T† at −R; at R = 0, T must be Hermitian)."""
        r = self._vector(R)
        t = np.asarray(block, dtype=complex)
        if t.shape != (self.norb, self.norb):
            raise ValueError(f"block must have shape ({self.norb}, {self.norb}), got {t.shape}")
        if not any(r):
            if not np.allclose(t, t.conj().T):
                raise ValueError("the R = 0 block must be Hermitian")
            self._block(r)[:] += t
        else:
            self._block(r)[:] += t
            self._block(tuple(-x for x in r))[:] += t.conj().T
        return self

    # ------------------------------------------------------------------ output
    def to_wannier(self, vacuum: float = 10.0) -> WannierHamiltonian:
        """The model as a :class:`WannierHamiltonian`, ready for ``write_hr``/``write_tb``.

        Lower-dimensional models are embedded in 3D with extra lattice vectors ``vacuum`` × unit
        vectors; positions are <0i|r|0i> = τ_i (Cartesian), all other position elements zero.
        """
        if not self._blocks:
            raise ValueError("empty model: add onsite energies or hoppings first")
        d, n = self.dim, self.norb
        keys = sorted(self._blocks)
        rvec = np.zeros((len(keys), 3), dtype=int)
        rvec[:, :d] = keys
        lattice = np.eye(3) * vacuum
        lattice[:d, :d] = self.lattice
        pos = np.zeros((len(keys), 3, n, n), dtype=complex)
        zero = keys.index((0,) * d) if (0,) * d in self._blocks else None
        if zero is None:  # no onsite block yet: add an empty one to carry the centres
            keys.append((0,) * d)
            rvec = np.vstack([rvec, np.zeros((1, 3), dtype=int)])
            pos = np.concatenate([pos, np.zeros((1, 3, n, n), dtype=complex)])
            zero = len(keys) - 1
        for a in range(d):
            pos[zero, a] = np.diag(self.positions[:, a])
        ham = np.stack([self._blocks.get(k, np.zeros((n, n), dtype=complex)) for k in keys])
        header = f"properspin tight-binding model {self.name} {self.parameters}"
        return WannierHamiltonian(lattice, rvec, np.ones(len(keys), dtype=int), ham, pos, header, self.name)

    def to_model(self, name: str | None = None, parameters: dict[str, Any] | None = None) -> Model:
        """The periodic :class:`Model` (dim = len(lattice)); ``position`` = diag τ unless all τ = 0."""
        use_position = bool(np.any(self.positions != 0))
        return self.to_wannier().to_model(
            spin=self.spin,
            use_position=use_position,
            dim=self.dim,
            name=name or self.name,
            parameters={**self.parameters, **(parameters or {})},
            info={"orbital_positions_cartesian": self.positions.tolist()},
        )


# ---------------------------------------------------------------------------------------------- models
def haldane(t1: float = 1.0, t2: float = 0.1, phi: float = math.pi / 2, M: float = 0.0) -> TightBinding:
    """Haldane model on the honeycomb lattice (a1 = (1, 0), a2 = (1/2, √3/2), lattice constant 1).

    Orbitals A at (1/3, 1/3) and B at (2/3, 2/3) (fractional), onsite +M on A and −M on B,
    nearest-neighbour hopping t1, next-nearest t2 e^{±iφ} (PythTB's sign pattern).  Chern insulator
    for |M| < 3√3 |t2 sin φ|.  Spinless.
    """
    from ..validate import finite_float

    t1, t2, phi, M = (finite_float(v, n) for v, n in ((t1, "t1"), (t2, "t2"), (phi, "phi"), (M, "M")))  # noqa: N806
    lat = [[1.0, 0.0], [0.5, math.sqrt(3.0) / 2]]
    tb = TightBinding(lat, [[1 / 3, 1 / 3], [2 / 3, 2 / 3]], name="haldane",
                      parameters={"t1": t1, "t2": t2, "phi": phi, "M": M})
    tb.set_onsite([M, -M])
    for r in ((0, 0), (-1, 0), (0, -1)):
        tb.add_hopping(t1, 0, 1, r)
    t2p = t2 * complex(math.cos(phi), math.sin(phi))
    for i, j, r, t in ((0, 0, (1, 0), t2p), (1, 1, (1, -1), t2p), (1, 1, (0, 1), t2p),
                       (1, 1, (1, 0), t2p.conjugate()), (0, 0, (1, -1), t2p.conjugate()),
                       (0, 0, (0, 1), t2p.conjugate())):
        tb.add_hopping(t, i, j, r)
    return tb


def qwz_lattice(u: float) -> TightBinding:
    """Qi–Wu–Zhang model H = sin kx σx + sin ky σy + (u + cos kx + cos ky) σz on a square lattice, a = 1.

    One site at the origin with two (pseudo)spin orbitals; ``spin`` = σ/2.  Lower-band Chern number
    −1 for 0 < u < 2, +1 for −2 < u < 0, 0 for |u| > 2 (conventions §6).
    """
    sx, sy, sz = PAULI
    tb = TightBinding(np.eye(2), [[0.0, 0.0], [0.0, 0.0]], spin="interleaved", name="qwz_lattice",
                      parameters={"u": u})
    tb.add_block(u * sz, (0, 0))
    tb.add_block((sz - 1j * sx) / 2, (1, 0))  # e^{ikx} T + h.c. = cos kx σz + sin kx σx
    tb.add_block((sz - 1j * sy) / 2, (0, 1))
    return tb


def haldane_model(t1: float = 1.0, t2: float = 0.1, phi: float = math.pi / 2, M: float = 0.0) -> Model:
    """The Haldane model (:func:`haldane`) as a :class:`~properspin.Model` (the registry's ``haldane``)."""
    return haldane(t1, t2, phi, M).to_model()
