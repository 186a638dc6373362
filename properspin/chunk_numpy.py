"""The numpy reference path of a chunk (:func:`numpy_chunk`) and what any chunk returns (:class:`ChunkResult`).

Below both :mod:`properspin.chunk` (which dispatches to the fused kernel or here) and
:mod:`properspin.kernels` (which falls back here and checks itself against it); both import this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import geometry as geo
from .sweep import Sweep

if TYPE_CHECKING:
    from .model import Model
    from .responses import Response


@dataclass
class ChunkResult:
    """Partial sums of a chunk, one ``(sweep.nbins, ncomp)`` array per sweep, and the degeneracy diagnostics:
    k-points with a gauge-dependent near-degenerate pair, and those pairs (m, n), m < n (conventions §3)."""

    partials: list[np.ndarray]
    degenerate_kpoints: int = 0
    degenerate_bands: set[tuple[int, int]] = field(default_factory=set)


def states(model: Model, response: Response, k: np.ndarray, degeneracy_tol: float
           ) -> tuple[geo.BandGeometry, np.ndarray]:
    """The band geometry at ``k`` and the per-state values ``Q`` of ``response``, shape ``(ncomp, N, n)``.

    The response is ``factor · Σ_k w_k Σ_m f(ε_mk) Q_mk`` with the components flattened in C order.
    """
    g = response.band_geometry(model, k, degeneracy_tol)
    q = response.formula(g, response.params)  # (*components, N, n)
    return g, q.reshape(-1, *g.energies.shape)


def numpy_chunk(model: Model, response: Response, k: np.ndarray, w: np.ndarray, sweeps: Sequence[Sweep],
                degeneracy_tol: float) -> ChunkResult:
    """The numpy reference path of a chunk (the numbers the fused kernel must reproduce); a response's companion
    sums (:attr:`Response.companions <properspin.responses.Response.companions>`) are columns after its own."""
    g, q = states(model, response, k, degeneracy_tol)
    if response.companions:  # their per-state columns after the response's own: the same k-point visit
        q = np.concatenate([q] + [c.formula(g, c.params).reshape(-1, *g.energies.shape)
                                  for c in response.companion_responses])
    values = (q * w[None, :, None]).reshape(q.shape[0], -1).T  # (N·n, ncomp)
    energies = g.energies.reshape(-1)
    partials = []
    for sweep in sweeps:
        partial = sweep.empty(values.shape[1])
        sweep.accumulate(partial, energies, values)
        partials.append(partial)
    nbad, pairs = degeneracy_report(response, g)
    return ChunkResult(partials, nbad, pairs)


def degeneracy_report(response: Response, g: geo.BandGeometry) -> tuple[int, set[tuple[int, int]]]:
    """For a response that uses the band-diagonal spin: the number of k-points with a gauge-dependent
    near-degenerate pair and those pairs (m < n) (:func:`~properspin.geometry.degenerate_contributions`)."""
    if not response.uses_diagonal_spin:
        return 0, set()
    bad = geo.degenerate_contributions(g)
    if not bad.any():
        return 0, set()
    rows, cols = np.nonzero(bad.any(axis=0))
    return int(bad.any(axis=(1, 2)).sum()), {(int(m), int(n)) for m, n in zip(rows, cols, strict=True) if m < n}
