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

The numpy path and :class:`ChunkResult` live in :mod:`properspin.chunk_numpy`, below both this module and the
kernels (which fall back to it), so the deferred import of the kernels here closes no import circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .chunk_numpy import ChunkResult, degeneracy_report, numpy_chunk, states  # re-exported: the chunk API
from .sweep import Sweep

__all__ = ["ChunkResult", "Job", "degeneracy_report", "evaluate", "numpy_chunk", "run_chunk", "states"]

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
        """Columns of every partial sum: the response's components, then its companions' (one pass for all)."""
        return int(sum(self.response.columns(self.model.dim)))


def run_chunk(job: Job, start: int, stop: int) -> ChunkResult:
    """Evaluate ``job`` on mesh indices ``[start, stop)``: the hot path."""
    k, w = job.mesh.points(job.model, start, stop)
    return evaluate(job.model, job.response, k, w, job.sweeps, job.degeneracy_tol)


def evaluate(model: Model, response: Response, k: np.ndarray, w: np.ndarray, sweeps: Sequence[Sweep],
             degeneracy_tol: float) -> ChunkResult:
    """Partial sums over k-points ``k`` with weights ``w``: the fused kernel where it applies, else numpy."""
    if response.fused_mode is not None:
        from . import kernels  # numba loads on first use; kernels imports chunk_numpy, never this module

        fast = kernels.kernel_chunk(response, model, k, w, sweeps, degeneracy_tol)
        if fast is not None:
            return fast
    return numpy_chunk(model, response, k, w, sweeps, degeneracy_tol)
