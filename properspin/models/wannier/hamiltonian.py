"""The real-space Wannier Hamiltonian ``H_R``, ``r_R`` and the :class:`~properspin.Model` it defines.


A Wannier Hamiltonian is a set of lattice vectors R (integers, R = n1 a1 + n2 a2 + n3 a3) with
degeneracies d_R and matrices H_R[m, n] = <0m|H|Rn> (eV), optionally r_R[a, m, n] = <0m|r_a|Rn> (Å).
The Bloch Hamiltonian in the Wannier-90 convention (no orbital-position phases) is

    H(k) = Σ_R e^{ik·R} H_R / d_R,      ∂H/∂k_a = Σ_R i R_a e^{ik·R} H_R / d_R,

with R Cartesian (Å) and k Cartesian (Å⁻¹); the orbital-basis Berry connection is
A^W_a(k) = Σ_R e^{ik·R} r_R[a] / d_R (Wang et al., PRB 74, 195118).  All of them, and ∂_a A^W_b, come from
one evaluator, :class:`~.fourier.WannierSums` (one phase computation for any set of them); the Model holds
views of it.

"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...conventions import CYCLIC_PAIRS
from ...model import SPIN_HALF, Model
from .fourier import WannierSums, _PositionGradient
from .textfile import read_wsvec

Array = np.ndarray
PathLike = str | Path


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True, eq=False)
class WannierHamiltonian:
    """Real-space Wannier Hamiltonian as stored in ``_hr.dat`` / ``_tb.dat``.

    ``lattice`` (3, 3) rows a_i in Å; ``rvec`` (nR, 3) integer R; ``deg`` (nR,) degeneracies;
    ``ham`` (nR, n, n) = <0m|H|Rn> in eV (not divided by ``deg``); ``pos`` (nR, 3, n, n) =
    <0m|r_a|Rn> in Å or None; ``source`` names the file in error messages.
    """

    lattice: Array
    rvec: Array
    deg: Array
    ham: Array
    pos: Array | None = None
    header: str = ""
    source: str = "<memory>"

    def __post_init__(self) -> None:
        lat = np.asarray(self.lattice, dtype=float)
        rvec = np.asarray(self.rvec)
        ham = np.asarray(self.ham, dtype=complex)
        if lat.shape != (3, 3) or abs(np.linalg.det(lat)) < 1e-12:
            raise ValueError(f"{self.source}: lattice must be a non-singular (3, 3) array, got {lat.shape}")
        if rvec.ndim != 2 or rvec.shape[1] != 3 or not np.all(rvec == np.round(rvec)):
            raise ValueError(f"{self.source}: rvec must be (nR, 3) integers")
        nr = rvec.shape[0]
        if ham.ndim != 3 or ham.shape[0] != nr or ham.shape[1] != ham.shape[2]:
            raise ValueError(f"{self.source}: ham must have shape ({nr}, n, n), got {ham.shape}")
        deg = np.asarray(self.deg)
        if deg.shape != (nr,) or np.any(deg < 1):
            raise ValueError(f"{self.source}: deg must be {nr} positive integers")
        if len({tuple(r) for r in rvec.tolist()}) != nr:
            raise ValueError(f"{self.source}: duplicate R vectors")
        object.__setattr__(self, "lattice", lat)
        object.__setattr__(self, "rvec", rvec.astype(int))
        object.__setattr__(self, "deg", deg.astype(int))
        object.__setattr__(self, "ham", ham)
        if self.pos is not None:
            pos = np.asarray(self.pos, dtype=complex)
            n = ham.shape[1]
            if pos.shape != (nr, 3, n, n):
                raise ValueError(f"{self.source}: pos must have shape ({nr}, 3, {n}, {n}), got {pos.shape}")
            object.__setattr__(self, "pos", pos)

    @property
    def num_wann(self) -> int:
        """Number of Wannier functions n."""
        return self.ham.shape[1]

    @property
    def nrpts(self) -> int:
        """Number of R vectors."""
        return self.rvec.shape[0]

    def permuted(self, order: Sequence[int]) -> WannierHamiltonian:
        """The same model with orbitals reordered: new orbital i is old orbital ``order[i]``."""
        p = np.asarray(order, dtype=int)
        if sorted(p.tolist()) != list(range(self.num_wann)):
            raise ValueError(f"order must be a permutation of range({self.num_wann})")
        ix = np.ix_(p, p)
        ham = self.ham[:, ix[0], ix[1]]
        pos = None if self.pos is None else self.pos[:, :, ix[0], ix[1]]
        return replace(self, ham=ham, pos=pos)

    def with_wsvec(self, wsvec: PathLike | Mapping[tuple[int, ...], Array]) -> WannierHamiltonian:
        """Fold the minimal-distance replicas of ``seedname_wsvec.dat`` (``use_ws_distance``).

        Each element (R, m, n) is split equally among R + T over its listed shifts T, as in Wannier90
        (weight 1 / (d_R N_T)).  The result has new R vectors, the weights folded into ``ham``/``pos``,
        and all degeneracies 1.
        """
        table = read_wsvec(wsvec) if isinstance(wsvec, str | Path) else wsvec
        where = str(wsvec) if isinstance(wsvec, str | Path) else "wsvec"
        blocks = [self.ham] if self.pos is None else [self.ham, self.pos]
        rnew, folded = fold_ws_shifts(self.rvec, self.deg, blocks, table, where, self.source)
        pos = None if self.pos is None else folded[1]
        out = replace(self, rvec=rnew, deg=np.ones(len(rnew), dtype=int), ham=folded[0], pos=pos)
        _check_hermitian(out)
        return out

    def hermiticity_error(self) -> float:
        """max |H(k) − H(k)†| (eV) at a few random k (0 for a valid file up to rounding)."""
        return _hermiticity_error(self.rvec, self.ham / self.deg[:, None, None])

    def to_model(
        self,
        spinor_order: str | None = None,
        spin: Array | None = None,
        use_position: bool = True,
        dim: int = 3,
        name: str | None = None,
        parameters: dict[str, Any] | None = None,
        info: dict[str, Any] | None = None,
        operators: Mapping[str, Array] | None = None,
    ) -> Model:
        """The periodic :class:`Model` (see :func:`wannier90` for the arguments).

        ``dim`` < 3 keeps the first ``dim`` directions (needs R and lattice vectors in that plane).
        Positions are made Hermitian, A^W → (A^W + A^W†)/2; the discarded anti-Hermitian part
        (finite-difference noise of Wannier90's position matrix) is recorded in ``info``.  ``operators``: further
        named blocks (nR, ..., n, n) on ``rvec``, already divided by ``deg`` (a run's S, SH, SR, SHR), summed by
        the same evaluator as H (one phase computation per batch of k): ``model.hamiltonian.evaluator.function(name)``.
        """
        n = self.num_wann
        spin_op = _spin_operator(n, spinor_order, spin, self.source)
        if dim not in (1, 2, 3):
            raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
        if np.any(self.rvec[:, dim:] != 0) or not np.allclose(self.lattice[:dim, dim:], 0.0):
            raise ValueError(f"{self.source}: cannot reduce to dim={dim}: R vectors leave the plane")
        lat = self.lattice[:dim, :dim]
        # one R set for every sum: R ∪ −R (H keeps zero blocks where its file has no −R)
        rall, hall, _ = _hermitize(self.rvec, (self.ham / self.deg[:, None, None])[:, None], symmetrize=False)
        rc = rall[:, :dim] @ lat
        blocks = {"h": hall[:, 0], "dh": 1j * rc[:, :, None, None] * hall}  # ∂_a H = Σ_R i R_a e^{ik·R} H_R
        notes = {
            "source": self.source,
            "header": self.header,
            "num_wann": n,
            "nrpts": self.nrpts,
            "convention": "Wannier90: H(k) = sum_R exp(ik.R) H_R / deg_R, no orbital-position phases",
            "spinor_order": spinor_order if spin is None else "user",
        }
        if use_position and self.pos is not None:
            _, pall, anti = _hermitize(self.rvec, self.pos / self.deg[:, None, None, None])
            grad = 1j * rc[:, :, None, None, None] * pall[:, None, :dim]  # ∂_a A^W_b = Σ_R i R_a e^{ik·R} r_R,b
            blocks |= {"pos": pall[:, :dim], "dpos": grad}
            if dim in CYCLIC_PAIRS:  # ∂_a A_b − ∂_b A_a directly: one sum per c instead of the dim² of the gradient
                blocks["curl"] = np.stack([grad[:, a, b] - grad[:, b, a] for a, b in CYCLIC_PAIRS[dim]], axis=1)
            notes["position_antihermitian_max_angstrom"] = anti
        for key, block in (operators or {}).items():  # on the same R ∪ −R set (zero blocks where R has no −R)
            if key in blocks:
                raise ValueError(f"operator name {key!r} is taken by the model's own sums")
            blocks[key] = _hermitize(self.rvec, np.asarray(block), symmetrize=False)[1]
        sums = WannierSums(rc, blocks, lattice=lat)
        position = sums.function("pos") if "pos" in blocks else None
        position_gradient = _PositionGradient(sums, "dpos") if "pos" in blocks else None
        return Model(
            hamiltonian=sums.function("h"),
            gradient=sums.function("dh"),
            spin=spin_op,
            dim=dim,
            reciprocal=2 * np.pi * np.linalg.inv(lat).T,
            position=position,
            position_gradient=position_gradient,
            name=name or f"wannier90:{Path(self.source).name}",
            parameters=dict(parameters or {}),
            info={**notes, **(info or {})},
        )


def fold_ws_shifts(rvec: Array, deg: Array, blocks: Sequence[Array], table: Mapping[tuple[int, ...], Array],
                   where: str = "wsvec", source: str = "model") -> tuple[Array, list[Array]]:
    """Split every element (R, m, n) of each block equally among R + T over its shifts T (``use_ws_distance``).

    ``blocks`` have shape (nR, ..., n, n); ``table`` maps (R1, R2, R3, m, n) (m, n from 1) to an (N_T, 3) integer
    array of shifts T.  Returns the new R vectors and the blocks on them with the weights 1/(d_R N_T) folded in
    (degeneracies become 1), as Wannier90's Fourier sums with ``use_ws_distance``.
    """
    n = blocks[0].shape[-1]
    index = {tuple(r): i for i, r in enumerate(np.asarray(rvec).tolist())}
    ir, mm, nn, rnew, wt = [], [], [], [], []
    for (r1, r2, r3, m, k), shifts in table.items():
        i = index.get((r1, r2, r3))
        if i is None or not (1 <= m <= n and 1 <= k <= n):
            raise ValueError(f"{where}: entry R=({r1}, {r2}, {r3}) m={m} n={k} not in {source}")
        t = np.asarray(shifts, dtype=int).reshape(-1, 3)
        ir += [i] * len(t)
        mm += [m - 1] * len(t)
        nn += [k - 1] * len(t)
        rnew.append(np.asarray(rvec)[i] + t)
        wt += [1.0 / len(t)] * len(t)
    ir, mm, nn, wt = (np.asarray(a) for a in (ir, mm, nn, wt))
    hits = np.bincount((ir * n + mm) * n + nn, weights=wt, minlength=len(rvec) * n * n)
    if not np.allclose(hits, 1.0):
        raise ValueError(f"{where}: does not list every (R, m, n) of {source} exactly once")
    uniq, inv = np.unique(np.concatenate(rnew), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    w = wt / np.asarray(deg)[ir]
    folded = []
    for b in blocks:
        moved = np.moveaxis(np.asarray(b), (-2, -1), (1, 2))  # (nR, n, n, ...)
        out = np.zeros((len(uniq),) + moved.shape[1:], dtype=complex)
        np.add.at(out, (inv, mm, nn), moved[ir, mm, nn] * w.reshape((-1,) + (1,) * (moved.ndim - 3)))
        folded.append(np.moveaxis(out, (1, 2), (-2, -1)))
    return uniq, folded


def _hermiticity_error(rvec: Array, blocks: Array, samples: int = 4) -> float:
    rng = np.random.default_rng(12345)
    kf = rng.random((samples, 3))
    h = np.einsum("kr,rij->kij", np.exp(2j * np.pi * kf @ rvec.T), blocks)
    return float(np.max(np.abs(h - h.conj().transpose(0, 2, 1)))) if h.size else 0.0


def _check_hermitian(wh: WannierHamiltonian) -> None:
    """ValueError naming the file and the worst R / −R pair if H(k) is not Hermitian."""
    hw = wh.ham / wh.deg[:, None, None]
    err = _hermiticity_error(wh.rvec, hw)
    tol = 1e-6 * wh.nrpts + 1e-9 * float(np.sum(np.abs(hw)))
    if err <= tol:
        return
    rall, hall, _ = _hermitize(wh.rvec, hw[:, None], symmetrize=False)
    index = {tuple(r): i for i, r in enumerate(rall.tolist())}
    bad = [
        (float(np.max(np.abs(hall[i, 0] - hall[index[tuple((-r).tolist())], 0].conj().T))), tuple(r))
        for i, r in enumerate(rall)
    ]
    worst, r = max(bad)
    raise ValueError(
        f"{wh.source}: H(k) is not Hermitian (max |H - H†| = {err:.3g} eV at random k); "
        f"worst pair: H(R)/deg - [H(-R)/deg]† = {worst:.3g} eV at R = {r}"
    )


def _hermitize(rvec: Array, blocks: Array, symmetrize: bool = True) -> tuple[Array, Array, float]:
    """Extend to the R ∪ −R set and (optionally) make Σ_R e^{ik·R} B_R Hermitian.

    Returns (R, B, max anti-Hermitian part) with B[R] ← (B[R] + B[−R]†)/2.
    """
    rall, inv = np.unique(np.concatenate([rvec, -rvec]), axis=0, return_inverse=True)
    inv = inv.reshape(-1)[: len(rvec)]
    b = np.zeros((len(rall),) + blocks.shape[1:], dtype=complex)
    b[inv] = blocks
    index = {tuple(r): i for i, r in enumerate(rall.tolist())}
    partner = np.array([index[tuple((-r).tolist())] for r in rall], dtype=int)
    dagger = b[partner].conj().swapaxes(-1, -2)
    anti = float(np.max(np.abs(b - dagger)) / 2) if b.size else 0.0
    return rall, ((b + dagger) / 2 if symmetrize else b), anti


# ---------------------------------------------------------------------------------------------- spin
def spinor_spin(num_wann: int, order: str) -> Array:
    """Spin operators 1_orb ⊗ σ/2 (units of ħ) for ``"interleaved"`` (↑↓ per orbital) or ``"block"``."""
    if order not in ("interleaved", "block"):
        raise ValueError(f"spinor_order must be 'interleaved' or 'block', got {order!r}")
    if num_wann % 2:
        raise ValueError(f"spinor_order={order!r} needs an even number of Wannier functions, got {num_wann}")
    eye = np.eye(num_wann // 2)
    if order == "interleaved":
        return np.stack([np.kron(eye, s) for s in SPIN_HALF])
    return np.stack([np.kron(s, eye) for s in SPIN_HALF])


def _spin_operator(n: int, order: str | None, spin: Array | None, source: str) -> Array | None:
    if order is not None and spin is not None:
        raise ValueError("give either spinor_order or spin, not both")
    if spin is not None:
        s = np.asarray(spin, dtype=complex)
        if s.shape != (3, n, n):
            raise ValueError(f"{source}: spin must have shape (3, {n}, {n}), got {s.shape}")
        return s
    if order is None:
        return None
    try:
        return spinor_spin(n, order)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None


def random_wannier_hamiltonian(
    num_wann: int, lattice: Array, rmax: int = 1, decay: float = 1.0, position_scale: float = 0.1, seed: int = 0
) -> WannierHamiltonian:
    """A synthetic Hermitian Wannier Hamiltonian, for tests and benchmarks: random complex H_R and r_R on every
    R ∈ {−rmax..rmax}³ (``(2 rmax + 1)³`` vectors, deg 1), scaled by e^{−decay·|R|} (|R| in lattice units), with
    H_{−R} = H_R† and r_{−R} = r_R† so that H(k) and A^W(k) are Hermitian; the R = 0 position block is
    Hermitian with its diagonal as Wannier centres."""
    import itertools

    rng = np.random.default_rng(seed)
    n = int(num_wann)
    rvec = np.array(list(itertools.product(range(-rmax, rmax + 1), repeat=3)))
    index = {tuple(r): i for i, r in enumerate(rvec.tolist())}

    def cplx(*shape: int) -> Array:
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)

    ham = np.zeros((len(rvec), n, n), complex)
    pos = np.zeros((len(rvec), 3, n, n), complex)
    for i, r in enumerate(rvec.tolist()):
        j = index[tuple(-x for x in r)]
        scale = np.exp(-decay * float(np.linalg.norm(r)))
        if i < j:
            ham[i], pos[i] = scale * cplx(n, n), position_scale * scale * cplx(3, n, n)
            ham[j], pos[j] = ham[i].conj().T, pos[i].conj().transpose(0, 2, 1)
        elif i == j:
            h, p = cplx(n, n), position_scale * cplx(3, n, n)
            ham[i], pos[i] = h + h.conj().T, p + p.conj().transpose(0, 2, 1)
    return WannierHamiltonian(np.asarray(lattice, dtype=float), rvec, np.ones(len(rvec), int), ham, pos,
                              f"random Wannier model ({n} bands, {len(rvec)} R vectors, seed {seed})")
