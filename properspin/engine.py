"""The engine: stream a mesh in chunks, evaluate a response per chunk, add the partial Fermi sums.

A chunk is a contiguous range of mesh indices.  Its result is a list of partial-sum arrays (one per
temperature, see :mod:`properspin.sweep`) plus degeneracy diagnostics; partials are added in chunk
order, so the result does not depend on the chunk size or on where chunks ran (to round-off).
Memory is bounded by the chunk size whatever the mesh size.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from . import geometry as geo
from .mesh import Mesh
from .model import Model
from .responses import Response
from .sweep import Sweep


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to evaluate one chunk (picklable when the model is)."""

    model: Model
    mesh: Mesh
    response: Response
    sweeps: tuple[Sweep, ...]
    broadening: float
    degeneracy_tol: float

    @property
    def ncomp(self) -> int:
        return int(np.prod([len(v) for v in self.response.coords(self.model.dim).values()]))


@dataclass
class ChunkResult:
    partials: list[np.ndarray]
    degenerate_kpoints: int = 0
    degenerate_bands: set[tuple[int, int]] = field(default_factory=set)


def run_chunk(job: Job, start: int, stop: int) -> ChunkResult:
    """Evaluate ``job`` on mesh indices ``[start, stop)``: the hot path."""
    k, w = job.mesh.points(job.model, start, stop)
    g = geo.band_geometry(job.model, k, job.degeneracy_tol)
    q = job.response.formula(g, job.broadening)  # (*comp, N, n)
    nk, nb = g.energies.shape
    q = q.reshape(-1, nk, nb) * w[None, :, None]
    values = q.reshape(q.shape[0], -1).T  # (N*n, ncomp)
    energies = g.energies.reshape(-1)
    out = ChunkResult([])
    for sweep in job.sweeps:
        partial = sweep.empty(values.shape[1])
        sweep.accumulate(partial, energies, values)
        out.partials.append(partial)
    if job.response.kind == "spin" and job.response.name != "conventional_spin":
        bad = geo.degenerate_contributions(g)
        if bad.any():
            out.degenerate_kpoints = int(bad.any(axis=(1, 2)).sum())
            rows, cols = np.nonzero(bad.any(axis=0))
            out.degenerate_bands = {(int(m), int(n)) for m, n in zip(rows, cols, strict=True) if m < n}
    return out


def _merge(total: ChunkResult | None, part: ChunkResult) -> ChunkResult:
    if total is None:
        return part
    for a, b in zip(total.partials, part.partials, strict=True):
        a += b
    total.degenerate_kpoints += part.degenerate_kpoints
    total.degenerate_bands |= part.degenerate_bands
    return total


@dataclass(frozen=True)
class Engine:
    """How to run a calculation: chunk size, executor and progress display.

    Parameters
    ----------
    chunk_size
        k-points per chunk (memory ~ chunk_size × n² × components).
    executor
        ``None`` runs chunks in this process; any :class:`concurrent.futures.Executor` runs them
        there (its workers must be able to unpickle the model).
    progress
        Show a progress bar on stderr (``None``: only when stderr is a terminal).
    blas_threads
        BLAS threads per process while chunks run (1 avoids oversubscription with many workers).
    """

    chunk_size: int = 20_000
    executor: cf.Executor | None = None
    progress: bool | None = None
    blas_threads: int | None = 1

    def __post_init__(self) -> None:
        if isinstance(self.chunk_size, bool) or int(self.chunk_size) != self.chunk_size or self.chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {self.chunk_size!r}")
        if self.executor is not None and not isinstance(self.executor, cf.Executor):
            raise TypeError(f"executor must be a concurrent.futures.Executor or None, got {self.executor!r}")

    def ranges(self, size: int) -> Iterator[tuple[int, int]]:
        for start in range(0, size, self.chunk_size):
            yield start, min(size, start + self.chunk_size)

    def run(self, job: Job) -> ChunkResult:
        ranges = list(self.ranges(job.mesh.size))
        bar = _progress(len(ranges), self.progress, job)
        total: ChunkResult | None = None
        try:
            with threadpool_limits(self.blas_threads):
                if self.executor is None:
                    for start, stop in ranges:
                        total = _merge(total, run_chunk(job, start, stop))
                        bar.update()
                else:
                    futures = [self.executor.submit(run_chunk, job, a, b) for a, b in ranges]
                    for fut in futures:  # fixed order: deterministic sums
                        total = _merge(total, fut.result())
                        bar.update()
        finally:
            bar.close()
        assert total is not None
        return total

    def describe(self) -> dict[str, Any]:
        return {"chunk_size": self.chunk_size, "executor": type(self.executor).__name__ if self.executor else "serial"}


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, show: bool | None, job: Job) -> Any:
    import sys

    if show is None:
        show = sys.stderr.isatty() and total > 1
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{job.response.name} ({job.model.name})", unit="chunk", file=sys.stderr,
                leave=False, mininterval=0.5)


def default_chunk_size(nbands: int) -> int:
    """Chunk size keeping the (N, n, n) complex temporaries to ~ 50 MB."""
    return max(256, min(50_000, int(2e6 / max(1, nbands) ** 2 / math.sqrt(max(1, nbands) / 4))))
