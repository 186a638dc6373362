"""The engine: stream a mesh in chunks, evaluate a response per chunk, add the partial Fermi sums.

A chunk is a contiguous range of mesh indices.  Its result is a list of partial-sum arrays (one per
temperature, see :mod:`properspin.sweep`) plus degeneracy diagnostics; partials are added in chunk
order, so the result does not depend on the chunk size or on where chunks ran (to round-off).
Memory is bounded by the chunk size whatever the mesh size.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import functools
import hashlib
import json
import math
import multiprocessing as mp
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
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
    """Evaluate ``job`` on mesh indices ``[start, stop)``: the hot path.

    The fused numba kernel (:mod:`properspin.kernels`) covers proper/conventional spin, torque dipole and
    charge; the numpy formulas of :mod:`properspin.geometry` (the reference it is tested against) do the rest.
    """
    k, w = job.mesh.points(job.model, start, stop)
    from . import kernels  # compiled fused kernel (numba); None for what it does not cover

    resp = job.response
    if resp.fused_mode is not None:
        fast = kernels.kernel_chunk(resp.name, job.model, k, w, job.sweeps, job.degeneracy_tol,
                                    resp.params.get("broadening", 0.0))
        if fast is not None:
            return ChunkResult(*fast)
    g = geo.band_geometry(job.model, k, job.degeneracy_tol, with_spin=resp.needs_spin)
    q = resp.formula(g, resp.params)  # (*comp, N, n)
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
    """How to run a calculation: chunk size, workers or executor, checkpoint and progress display.

    Parameters
    ----------
    chunk_size
        k-points per chunk (memory ~ chunk_size × n² × components, whatever the mesh size).
    workers
        Local worker processes (fork) when no ``executor``/``scheduler`` is given.  ``None`` (default): one
        per available core whenever the mesh spans more than one chunk; 1 runs in this process.  Models built
        from closures need no pickling: workers inherit the job at fork.
    executor
        Any :class:`concurrent.futures.Executor` (e.g. a Dask ``client.get_executor()`` or
        ``mpi4py.futures.MPIPoolExecutor``); its workers must be able to unpickle the model.
    scheduler
        A distributed engine instead of local processes: a Dask scheduler address (``"tcp://host:8786"``)
        or ``dask.distributed.Client`` (extra ``properspin[dask]``; the job is scattered once, models are
        sent with cloudpickle), or ``"mpi"`` for ``mpi4py.futures.MPIPoolExecutor`` (extra
        ``properspin[mpi]``; run under ``mpiexec -n N python -m mpi4py.futures script.py``).
    checkpoint
        File holding the running sum after each finished chunk (written atomically).  Running again with
        the same arguments resumes after the last finished chunk and gives the identical result; a
        checkpoint of a different calculation is refused.  Removed when the run completes.
    progress
        Progress bar on stderr (``None``: only when stderr is a terminal).
    blas_threads
        BLAS threads per process while chunks run (1: parallelism comes from workers, not BLAS).
    """

    chunk_size: int = 20_000
    workers: int | None = None
    executor: cf.Executor | None = None
    scheduler: Any = None
    checkpoint: str | Path | None = None
    progress: bool | None = None
    blas_threads: int | None = 1

    def __post_init__(self) -> None:
        if isinstance(self.chunk_size, bool) or int(self.chunk_size) != self.chunk_size or self.chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {self.chunk_size!r}")
        if self.workers is not None and (isinstance(self.workers, bool) or int(self.workers) != self.workers
                                         or self.workers < 1):
            raise ValueError(f"workers must be a positive integer or None, got {self.workers!r}")
        if self.executor is not None and not isinstance(self.executor, cf.Executor):
            raise TypeError(f"executor must be a concurrent.futures.Executor or None, got {self.executor!r}")
        if self.scheduler is not None and self.executor is not None:
            raise ValueError("give either an executor or a scheduler, not both")

    def ranges(self, size: int) -> list[tuple[int, int]]:
        """Chunks of at most ``chunk_size`` k-points.  A mesh that spans several chunks and runs on several
        local processes gets at least four chunks per process (not below 1000 k-points), so that no process
        idles while the last, long chunk finishes."""
        chunk = int(self.chunk_size)
        if size > chunk and self.executor is None and self.scheduler is None and self.nworkers > 1:
            chunk = min(chunk, max(_BALANCED_MIN, -(-size // (4 * self.nworkers))))
        return [(a, min(size, a + chunk)) for a in range(0, size, chunk)]

    def run(self, job: Job) -> ChunkResult:
        ranges = self.ranges(job.mesh.size)
        show = _show_progress(self.progress)
        if show and not self.checkpoint and len(ranges) < _BAR_STEPS and job.mesh.size >= 2 * _BAR_MIN:
            # a bar that can move: a mesh that fits one chunk is split into ~20 (results change only by round-off)
            step = max(_BAR_MIN, -(-job.mesh.size // _BAR_STEPS))
            ranges = [(a, min(job.mesh.size, a + step)) for a in range(0, job.mesh.size, step)]
        ckpt = _Checkpoint(self.checkpoint, job, ranges) if self.checkpoint else None
        done, total = ckpt.load() if ckpt else (0, None)
        bar = _progress(len(ranges), show, job)
        bar.update(done)
        todo = ranges[done:]
        try:
            with threadpool_limits(self.blas_threads):
                for count, part in self._results(job, todo):  # in chunk order: deterministic sums
                    total = _merge(total, part)
                    done += count
                    if ckpt:
                        ckpt.save(done, total)
                    bar.update(count)
        finally:
            bar.close()
        assert total is not None
        if ckpt:
            ckpt.remove()
        return total

    def _results(self, job: Job, todo: list[tuple[int, int]]) -> Iterator[tuple[int, ChunkResult]]:
        """(number of chunks, their summed result), in chunk order."""
        if isinstance(self.scheduler, str) and self.scheduler.lower() == "mpi":
            yield from _mpi_results(job, todo, self.blas_threads)
            return
        if self.scheduler is not None:
            parts = _dask_results(self.scheduler, job, todo, self.blas_threads)
        elif self.executor is not None:
            futures = [self.executor.submit(run_chunk_limited, job, a, b, self.blas_threads) for a, b in todo]
            parts = (f.result() for f in futures)
        elif self.nworkers > 1 and len(todo) > 1:
            parts = _forked_results(job, todo, min(self.nworkers, len(todo)))
        else:
            parts = (run_chunk(job, a, b) for a, b in todo)
        yield from ((1, part) for part in parts)

    @property
    def nworkers(self) -> int:
        """Worker processes used for a multi-chunk mesh."""
        if self.workers is not None:
            return int(self.workers)
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    def describe(self) -> dict[str, Any]:
        if self.scheduler is not None:
            kind = "mpi4py.futures" if self.scheduler == "mpi" else "dask.distributed"
        elif self.executor is not None:
            kind = type(self.executor).__name__
        else:
            kind = f"up to {self.nworkers} processes" if self.nworkers > 1 else "serial"
        return {"chunk_size": self.chunk_size, "executor": kind}


_FORKED_JOB: Job | None = None
_BALANCED_MIN = 1000  # k-points: smallest chunk made for load balance


def run_chunk_limited(job: Job, start: int, stop: int, blas_threads: int | None) -> ChunkResult:
    """:func:`run_chunk` in a process of someone else's pool (Dask, MPI, an executor): the BLAS thread limit
    of :meth:`Engine.run` holds only in this process and its forks, so it is set here, and the allocator is
    kept from page-faulting every array afresh (see :func:`_steady_allocator`)."""
    with threadpool_limits(blas_threads), _steady_allocator():
        return run_chunk(job, start, stop)


@contextmanager
def _steady_allocator() -> Iterator[None]:
    """glibc: while a chunk runs, let freed arrays be reused instead of returned to the system.

    Dask workers set ``MALLOC_TRIM_THRESHOLD_``; any such variable switches off glibc's adaptive mmap
    threshold, so every array above 128 KiB is mmapped and page-faulted afresh, which made chunks about
    twice as slow in a Dask worker as in a local process.  Only when one of those variables is set, the
    thresholds are raised for the chunk and put back (from the same variables) with a trim afterwards.
    """
    names = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")
    libc = _glibc() if any(n in os.environ for n in names) else None
    if libc is None:
        yield
        return
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    libc.mallopt(_M_MMAP_THRESHOLD, 1 << 25)
    try:
        yield
    finally:
        for opt, name in ((_M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_"), (_M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_")):
            try:
                libc.mallopt(opt, int(os.environ.get(name, 128 * 1024)))
            except ValueError:
                libc.mallopt(opt, 128 * 1024)
        libc.malloc_trim(0)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


@functools.cache
def _glibc() -> Any:
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc if hasattr(libc, "gnu_get_libc_version") else None
    except (OSError, AttributeError):
        return None


def _dask_results(scheduler: Any, job: Job, todo: list[tuple[int, int]], blas: int | None) -> Iterator[ChunkResult]:
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("scheduler= needs Dask: pip install 'properspin[dask]'") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        shared = client.scatter(job, broadcast=True)
        futures = [client.submit(run_chunk_limited, shared, a, b, blas, pure=False) for a, b in todo]
        yield from (f.result() for f in futures)
    finally:
        if client is not scheduler:
            client.close()


def _forked_results(job: Job, todo: list[tuple[int, int]], workers: int) -> Iterator[ChunkResult]:
    global _FORKED_JOB
    _FORKED_JOB = job  # workers inherit it at fork: models built from closures need no pickling
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        futures = [pool.submit(_run_forked, a, b) for a, b in todo]
        yield from (f.result() for f in futures)


def _mpi_results(job: Job, todo: list[tuple[int, int]], blas: int | None) -> Iterator[tuple[int, ChunkResult]]:
    """Chunks on ``mpi4py.futures`` workers, in groups of consecutive chunks (about four per worker), each
    group summed on its worker in chunk order.

    The job travels once per worker (initializer).  Every task's result message costs milliseconds per
    100 kB there (measured with MPICH 5.0, shared memory), so a group returns one summed partial, not one
    per chunk; the sum differs from the serial one by round-off only, and a checkpoint is saved per group.
    """
    try:
        import cloudpickle
        from mpi4py import MPI
        from mpi4py.futures import MPIPoolExecutor
    except ImportError:
        raise ImportError("scheduler='mpi' needs mpi4py and cloudpickle: pip install 'properspin[mpi]'") from None
    MPI.pickle.__init__(cloudpickle.dumps, pickle.loads)  # closures travel; workers load with plain pickle
    with MPIPoolExecutor(initializer=_set_worker_job, initargs=(job, blas)) as pool:
        per = max(1, len(todo) // (4 * max(1, pool.num_workers)))
        groups = [todo[i : i + per] for i in range(0, len(todo), per)]
        futures = [pool.submit(_run_worker_chunks, g) for g in groups]
        yield from ((len(g), f.result()) for g, f in zip(groups, futures, strict=True))


_WORKER_JOB: tuple[Job, int | None] | None = None


def _set_worker_job(job: Job, blas: int | None) -> None:
    global _WORKER_JOB
    _WORKER_JOB = (job, blas)


def _run_worker_chunks(ranges: list[tuple[int, int]]) -> ChunkResult:
    assert _WORKER_JOB is not None
    job, blas = _WORKER_JOB
    total = None
    with threadpool_limits(blas), _steady_allocator():
        for a, b in ranges:
            total = _merge(total, run_chunk(job, a, b))
    assert total is not None
    return total


def _run_forked(start: int, stop: int) -> ChunkResult:
    assert _FORKED_JOB is not None
    return run_chunk(_FORKED_JOB, start, stop)


class _Checkpoint:
    """Running partial sums of a calculation, keyed by a fingerprint of everything that determines them."""

    def __init__(self, path: str | Path, job: Job, ranges: list[tuple[int, int]]) -> None:
        self.path = Path(path)
        desc = {"response": job.response.name, "params": job.response.params, "model": job.model.describe(),
                "mesh": job.mesh.describe(),
                "fermi": [s.fermi.tolist() for s in job.sweeps], "T": [s.temperature for s in job.sweeps],
                "tol": job.degeneracy_tol,
                "chunks": [len(ranges), ranges[0][1] if ranges else 0]}
        self.key = hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()

    def load(self) -> tuple[int, ChunkResult | None]:
        if not self.path.exists():
            return 0, None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                key, done = str(f["key"]), int(f["done"])
                partials = [f[f"partial{i}"] for i in range(int(f["nsweeps"]))]
                kpts, bands = int(f["degenerate_kpoints"]), f["degenerate_bands"]
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a corrupt checkpoint
            raise ValueError(f"checkpoint {self.path} is corrupt or unreadable ({exc}); delete it to start over"
                             ) from None
        if key != self.key:
            raise ValueError(f"checkpoint {self.path} belongs to a different calculation (model, mesh, response, "
                             "Fermi energies, temperature or chunk size differ); delete it or choose another path")
        return done, ChunkResult(partials, kpts, {(int(a), int(b)) for a, b in bands.reshape(-1, 2)})

    def save(self, done: int, total: ChunkResult) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        arrays = {f"partial{i}": p for i, p in enumerate(total.partials)}
        with open(tmp, "wb") as fh:
            np.savez(fh, key=self.key, done=done, nsweeps=len(total.partials),
                     degenerate_kpoints=total.degenerate_kpoints,
                     degenerate_bands=np.array(sorted(total.degenerate_bands), dtype=np.int64).reshape(-1, 2),
                     **arrays)
        os.replace(tmp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


_BAR_STEPS, _BAR_MIN = 20, 256  # a shown bar gets about 20 steps, chunks of at least 256 k-points


def _show_progress(show: bool | None) -> bool:
    """``progress=None``: a bar exactly when stderr is a terminal."""
    import sys

    return bool(sys.stderr.isatty()) if show is None else bool(show)


def _progress(total: int, show: bool, job: Job) -> Any:
    import sys

    if not show or total < 2:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{job.response.name} ({job.model.name})", unit="chunk", file=sys.stderr,
                leave=False, mininterval=0.5)


def default_chunk_size(nbands: int) -> int:
    """Chunk size keeping the (N, n, n) complex temporaries to ~ 50 MB."""
    return max(256, min(50_000, int(2e6 / max(1, nbands) ** 2 / math.sqrt(max(1, nbands) / 4))))
