"""What a chunk computes: a range of mesh points → partial Fermi sums and degeneracy diagnostics.

A :class:`Job` holds everything a chunk needs (model, mesh, response, sweeps, degeneracy tolerance);
:func:`run_chunk` evaluates it on mesh indices ``[start, stop)`` and returns a :class:`ChunkResult`.  Where
chunks run (processes, executors, Dask, MPI, checkpoints) is :mod:`properspin.engine`'s business.

Two routes give the same numbers (to round-off; tested to 1e-12):

* :func:`numpy_chunk`, the reference path, written once and used by the engine, by adaptive refinement
  (:func:`states`) and by the kernel tests: :func:`~properspin.geometry.band_geometry` → the response's
  formula (``(*components, N, n)``) → ``w_k``-weighted per-state values → :meth:`Sweep.accumulate
  <properspin.sweep.Sweep.accumulate>` for every sweep → :func:`degeneracy_report`;
* the fused numba kernel (:func:`properspin.kernels.kernel_chunk`), used when ``response.fused_mode`` is set
  (the response and its parameters are covered) and the model and values allow it; it returns ``None``
  otherwise and :func:`evaluate` falls back to the numpy path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import geometry as geo
from .sweep import Sweep

if TYPE_CHECKING:
    from .mesh import Mesh
    from .model import Model
    from .responses import Response


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to evaluate one chunk (picklable when the model is)."""

    model: Model
    mesh: Mesh
    response: Response
    sweeps: tuple[Sweep, ...]
    degeneracy_tol: float

    @property
    def ncomp(self) -> int:
        return int(np.prod([len(v) for v in self.response.coords(self.model.dim).values()]))


@dataclass
class ChunkResult:
    """Partial sums of a chunk, one ``(sweep.nbins, ncomp)`` array per sweep, and the degeneracy diagnostics:
    k-points with a gauge-dependent near-degenerate pair, and those pairs (m, n), m < n (conventions §3)."""

    partials: list[np.ndarray]
    degenerate_kpoints: int = 0
    degenerate_bands: set[tuple[int, int]] = field(default_factory=set)


def run_chunk(job: Job, start: int, stop: int) -> ChunkResult:
    """Evaluate ``job`` on mesh indices ``[start, stop)``: the hot path."""
    k, w = job.mesh.points(job.model, start, stop)
    return evaluate(job.model, job.response, k, w, job.sweeps, job.degeneracy_tol)


def evaluate(model: Model, response: Response, k: np.ndarray, w: np.ndarray, sweeps: Sequence[Sweep],
             degeneracy_tol: float) -> ChunkResult:
    """Partial sums over k-points ``k`` with weights ``w``: the fused kernel where it applies, else numpy."""
    if response.fused_mode is not None:
        from . import kernels  # compiled on first use

        fast = kernels.kernel_chunk(response, model, k, w, sweeps, degeneracy_tol)
        if fast is not None:
            return fast
    return numpy_chunk(model, response, k, w, sweeps, degeneracy_tol)


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
    """The numpy reference path of a chunk (the numbers the fused kernel must reproduce)."""
    g, q = states(model, response, k, degeneracy_tol)
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
