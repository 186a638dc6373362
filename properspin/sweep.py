"""The Fermi-sweep stage: occupations for many Fermi energies from one pass over k (conventions §4).

A sweep turns per-state values ``(ε_s, q_s)`` into ``σ(E_F) = Σ_s f(ε_s − E_F) q_s`` for every
requested E_F at a cost independent of the number of Fermi energies:

* T = 0: each state is binned by how many Fermi energies lie below it; a cumulative sum over the
  bins gives every ``σ(E_F) = Σ_{ε_s ≤ E_F} q_s`` exactly.
* T > 0: states are deposited on an auxiliary energy grid of spacing ``k_B T / 50`` by linear
  (cloud-in-cell) interpolation, which keeps their weight and mean energy; the grid histogram is then
  folded with the Fermi–Dirac function.  The error is O((δ/k_BT)²) ≈ 1e-4 of the Fermi-surface part.
  States below the grid are fully occupied for every E_F; states above it (> 40 k_BT above the
  highest E_F) carry f < 4e-18 and are dropped.

Partial sums are plain arrays, so chunks computed anywhere can be added in a fixed order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.special import expit

from .units import K_B_EV

#: Grid spacing of the T > 0 fold in units of k_B T, and its half-width in units of k_B T.
FOLD_STEP = 1 / 50
FOLD_WINDOW = 40.0


def _bin_sum(bins: np.ndarray, weights: np.ndarray, nbins: int, values: np.ndarray) -> np.ndarray:
    """``out[b] = Σ_{s: bins_s = b} weights_s values_s`` for values (M, ncomp) → (nbins, ncomp)."""
    mat = sparse.csr_matrix((weights, (bins, np.arange(len(bins)))), shape=(nbins, len(bins)))
    return np.asarray(mat @ values)


class Sweep:
    """Fermi–Dirac sweep at one temperature over sorted Fermi energies."""

    def __init__(self, fermi: np.ndarray, temperature: float) -> None:
        fermi = np.asarray(fermi, dtype=float)
        if fermi.ndim != 1 or fermi.size == 0 or not np.all(np.isfinite(fermi)):
            raise ValueError("fermi must be a non-empty 1D array of finite energies (eV)")
        if np.any(np.diff(fermi) <= 0):
            raise ValueError("Sweep needs strictly increasing Fermi energies")
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be ≥ 0 K, got {temperature!r}")
        self.fermi = fermi
        self.temperature = float(temperature)
        self.kt = K_B_EV * self.temperature
        if self.kt > 0:
            step = FOLD_STEP * self.kt
            lo = fermi[0] - FOLD_WINDOW * self.kt
            n = int(np.ceil((fermi[-1] - fermi[0] + 2 * FOLD_WINDOW * self.kt) / step)) + 1
            if n > 4_000_000:
                raise ValueError(
                    f"temperature {temperature} K is too low for a Fermi range of {fermi[-1] - fermi[0]:.3g} eV "
                    f"({n} fold-grid points): use T = 0 or a narrower range"
                )
            self.grid = lo + step * np.arange(n)
            self.step = step
        else:
            self.grid = None

    @property
    def nbins(self) -> int:
        """Rows of the partial-sum array."""
        return len(self.fermi) + 1 if self.grid is None else len(self.grid) + 1

    def empty(self, ncomp: int) -> np.ndarray:
        return np.zeros((self.nbins, ncomp))

    @property
    def binning(self) -> Binning:
        """This sweep's binning rule in numbers (what :meth:`accumulate` does, for a compiled loop).

        T = 0: ``first``/``last`` are the lowest/highest Fermi energy and ``table[b] = searchsorted(fermi,
        first + b/scale, 'left')`` (b < ``2·len(fermi)`` buckets, capped at 2²⁰; ``table[-1] = len(fermi)``)
        brackets the row of a state, so that its bin is found by a search between two table entries.
        T > 0: ``first``/``last`` are the ends of the fold grid and ``scale`` its step.
        """
        if self.grid is not None:
            empty = np.zeros(0)
            return Binning(1, float(self.grid[0]), float(self.step), float(self.grid[-1]), len(self.grid), empty,
                           np.zeros(0, dtype=np.int64), self.nbins)
        f = self.fermi
        if len(f) > 1:
            nb = int(min(2 * len(f), 1 << 20))
            scale = nb / (f[-1] - f[0])
            edges = f[0] + np.arange(nb) / scale
        else:
            scale, edges = 0.0, f[:1]
        table = np.append(np.searchsorted(f, edges, side="left"), len(f)).astype(np.int64)
        return Binning(0, float(f[0]), float(scale), float(f[-1]), len(f), f, table, self.nbins)

    def accumulate(self, partial: np.ndarray, energies: np.ndarray, values: np.ndarray) -> None:
        """Add states (energies (M,), values (M, ncomp)) into ``partial`` in place."""
        if self.grid is None:
            keep = energies <= self.fermi[-1]
            e, v = energies[keep], values[keep]
            bins = np.searchsorted(self.fermi, e, side="left")  # first E_F ≥ ε
            partial += _bin_sum(bins, np.ones(len(e)), self.nbins, v)
            return
        # row 0: states below the grid (always occupied); rows 1..: grid nodes
        keep = energies <= self.grid[-1]
        e, v = energies[keep], values[keep]
        x = (e - self.grid[0]) / self.step
        below = x < 0
        i0 = np.clip(np.floor(x).astype(np.int64), 0, len(self.grid) - 2)
        t = np.clip(x - i0, 0.0, 1.0)
        rows = np.concatenate([np.where(below, 0, i0 + 1), np.where(below, 0, i0 + 2)])
        w = np.concatenate([np.where(below, 1.0, 1 - t), np.where(below, 0.0, t)])
        partial += _bin_sum(rows, w, self.nbins, np.concatenate([v, v]))

    def finish_surface(self, partial: np.ndarray, grand: bool = False) -> np.ndarray:
        """``Σ f(ε − E_F) q_f + Σ (−f'(ε − E_F)) q_d`` for columns in two equal parts ``(q_f, q_d)``
        (``grand``: four parts ``(q_f, q_G, ε q_G, q_d)``, the first three as :meth:`finish` with ``grand``).

        ``−f' = f(1 − f)/k_BT`` is the Fermi-surface δ of width ~k_BT (the Fermi-surface terms of the conserved
        spin current in metals, :mod:`properspin.conserved_metal`).  At T = 0 the surface part is dropped: the
        caller must make sure that no state lies at E_F (E_F in a gap).
        """
        n = partial.shape[1] // (4 if grand else 2)
        out = self.finish(partial[:, : 3 * n], grand=True) if grand else self.finish(partial[:, :n])
        if self.grid is None:
            return out
        block = max(1, 20_000_000 // len(self.grid))
        for s in range(0, len(self.fermi), block):
            occ = expit(-(self.grid[None, :] - self.fermi[s : s + block, None]) / self.kt)
            out[s : s + block] += (occ * (1 - occ) / self.kt) @ partial[1:, -n:]
        return out

    def finish(self, partial: np.ndarray, grand: bool = False) -> np.ndarray:
        """σ(E_F) for every Fermi energy: (nfermi, ncomp).

        ``grand``: the columns are three equal parts ``(q_f, q_G, ε q_G)`` and the result is
        ``Σ f(ε − E_F) q_f + Σ G(ε − E_F) q_G`` with ``G(x) = k_BT ln(1 + e^{−x/k_BT})`` (the grand-potential
        occupation, ``dG/dE_F = f``; ``(E_F − ε) θ(E_F − ε)`` at T = 0), e.g. the ``(μ − ε)Ω`` term of the orbital
        magnetisation.  T = 0 is exact; at T > 0 states below the fold grid get ``E_F − ε`` exactly and the grid
        histogram of q_G (cloud-in-cell, weight and mean energy kept) is folded with G.
        """
        if grand:
            n = partial.shape[1] // 3
            out = self.finish(partial[:, :n])
            q, eq = partial[:, n : 2 * n], partial[:, 2 * n :]
            if self.grid is None:
                nf = len(self.fermi)
                return out + self.fermi[:, None] * np.cumsum(q, axis=0)[:nf] - np.cumsum(eq, axis=0)[:nf]
            out += self.fermi[:, None] * q[0][None] - eq[0][None]  # below the grid: G = E_F − ε
            block = max(1, 20_000_000 // len(self.grid))
            for s in range(0, len(self.fermi), block):
                x = (self.grid[None, :] - self.fermi[s : s + block, None]) / self.kt
                out[s : s + block] += self.kt * np.logaddexp(0.0, -x) @ q[1:]  # G(ε − E_F)
            return out
        if self.grid is None:
            return np.cumsum(partial, axis=0)[: len(self.fermi)]
        out = np.empty((len(self.fermi), partial.shape[1]))
        block = max(1, 20_000_000 // len(self.grid))
        for s in range(0, len(self.fermi), block):
            ef = self.fermi[s : s + block, None]
            occ = expit(-(self.grid[None, :] - ef) / self.kt)  # f(ε − E_F), (block, ngrid)
            out[s : s + block] = partial[0][None, :] + occ @ partial[1:]
        return out


class Binning(NamedTuple):
    """How one sweep bins a state of energy ε (:attr:`Sweep.binning`; the rule of :meth:`Sweep.accumulate`).

    ``kind`` 0 (T = 0): states with ε > ``last`` are dropped, the others go to row ``searchsorted(fermi, ε,
    'left')``; ``kind`` 1 (T > 0): states with ε > ``last`` are dropped, those below ``first`` go to row 0,
    the others are split between rows ``i + 1`` and ``i + 2`` with ``x = (ε − first)/scale``, ``i = ⌊x⌋``
    (clipped to the grid), weights ``1 − (x − i)`` and ``x − i`` (cloud-in-cell).
    """

    kind: int
    first: float
    scale: float  # T = 0: bucket-table buckets per eV; T > 0: fold-grid step (eV)
    last: float
    nodes: int  # Fermi energies (T = 0) or fold-grid nodes (T > 0)
    fermi: np.ndarray  # the Fermi energies (T = 0), empty for T > 0
    table: np.ndarray  # bucket table (T = 0), empty for T > 0
    nbins: int


class SweepSpec(NamedTuple):
    """Several sweeps' :class:`Binning` in flat arrays, their partial sums stacked by rows (:func:`sweep_spec`).

    Per sweep s: ``kind[s]``, ``first[s]``, ``scale[s]``, ``last[s]``, ``nodes[s]`` as in :class:`Binning`;
    ``row[s]`` its first row in the stacked partial sums, ``rows[s]`` its number of rows; its Fermi energies
    are ``fermi[foff[s] : foff[s] + nodes[s]]`` and its bucket table ``table[toff[s] : toff[s] + nbuckets[s] + 1]``
    (T = 0 only).
    """

    kind: np.ndarray
    first: np.ndarray
    scale: np.ndarray
    last: np.ndarray
    nodes: np.ndarray
    row: np.ndarray
    rows: np.ndarray
    foff: np.ndarray
    toff: np.ndarray
    nbuckets: np.ndarray
    fermi: np.ndarray
    table: np.ndarray


def sweep_spec(sweeps: Sequence[Sweep]) -> SweepSpec:
    """The :class:`SweepSpec` of ``sweeps`` (partial sums stacked in this order)."""
    bins = [sw.binning for sw in sweeps]
    ints = np.array([(b.kind, b.nodes, b.nbins, len(b.fermi), max(len(b.table) - 1, 0)) for b in bins],
                    dtype=np.int64).reshape(-1, 5)
    floats = np.array([(b.first, b.scale, b.last) for b in bins], dtype=float).reshape(-1, 3)
    starts = np.concatenate([[0], np.cumsum(ints[:, 2])]).astype(np.int64)
    foff = np.concatenate([[0], np.cumsum(ints[:, 3])]).astype(np.int64)
    toff = np.concatenate([[0], np.cumsum([len(b.table) for b in bins])]).astype(np.int64)
    fermi = np.concatenate([b.fermi for b in bins] + [np.zeros(1)])
    table = np.concatenate([b.table for b in bins] + [np.zeros(1, dtype=np.int64)])
    return SweepSpec(ints[:, 0].copy(), floats[:, 0].copy(), floats[:, 1].copy(), floats[:, 2].copy(),
                     ints[:, 1].copy(), starts[:-1].copy(), ints[:, 2].copy(), foff[:-1].copy(), toff[:-1].copy(),
                     ints[:, 4].copy(), fermi, table)
