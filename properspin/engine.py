"""The engine: where chunks run.  It streams a mesh in chunks, runs each (:func:`properspin.chunk.run_chunk`:
what a chunk computes) in this process, local worker processes, an executor, Dask or MPI, and adds the
partial Fermi sums.

A chunk is a contiguous range of mesh indices.  Its result is a list of partial-sum arrays (one per
temperature, see :mod:`properspin.sweep`) plus degeneracy diagnostics; partials are added in chunk
order, so the result does not depend on the chunk size or on where chunks ran (to round-off).
Memory is bounded by the chunk size whatever the mesh size.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import functools
import math
import multiprocessing as mp
import os
import pickle
import signal
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from . import _system
from .chunk import ChunkResult, Job, run_chunk
from .fingerprint import fingerprint, sums_digest
from .validate import positive_int

if TYPE_CHECKING:
    pass

__all__ = ["ChunkResult", "Engine", "Job", "default_chunk_size", "run_chunk", "run_chunk_limited"]


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
    max_kpoints
        Largest mesh accepted (default 10⁹ k-points); a larger one is refused before the first k-point with an
        estimate of its CPU time and memory.  ``None`` lifts the limit.  A mesh whose chunks would not fit in
        the machine's memory is refused whatever this says (lower ``chunk_size``).

    Local worker processes die with this process (also on SIGKILL), and SIGTERM stops a run as Ctrl-C does:
    finished chunks stay in the checkpoint, and running again resumes to the identical result.
    """

    chunk_size: int = 20_000
    workers: int | None = None
    executor: cf.Executor | None = None
    scheduler: Any = None
    checkpoint: str | Path | None = None
    progress: bool | None = None
    blas_threads: int | None = 1
    max_kpoints: int | None = 10**9

    def __post_init__(self) -> None:
        if self.max_kpoints is not None:
            positive_int(self.max_kpoints, "max_kpoints (or None)")
        positive_int(self.chunk_size, "chunk_size")  # before: chunk_size=inf raised a bare OverflowError
        if self.workers is not None:
            positive_int(self.workers, "workers (or None)")
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
        _check_size(self, job, ranges)
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
        results = self._results(job, todo)
        try:
            with threadpool_limits(self.blas_threads), _sigterm_as_interrupt():
                for count, part in results:  # in chunk order: deterministic sums
                    total = _merge(total, part)
                    done += count
                    if ckpt:
                        ckpt.save(done, total)
                    bar.update(count)
        except BrokenProcessPool:
            raise _worker_died(job, ranges, done, ckpt) from None
        except MemoryError:
            kept = f"; the {done} finished chunks are kept in {ckpt.path}" if ckpt and done else ""
            raise MemoryError(f"out of memory computing {job.response.name} in chunks of up to {ranges[0][1]} "
                              f"k-points ({_gigabytes(_chunk_bytes(self, job, ranges))} per process estimated): "
                              f"lower Engine(chunk_size=...), the number of workers or of Fermi energies{kept}"
                              ) from None
        finally:
            results.close()  # stops and reaps local workers at once when the run is interrupted
            bar.close()
        if total is None:  # an empty range list cannot happen (meshes have ≥ 1 point); be explicit anyway
            raise ValueError("the mesh has no k-points")
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


def _worker_died(job: Job, ranges: list[tuple[int, int]], done: int, ckpt: _Checkpoint | None) -> RuntimeError:
    """The error for a local worker that died (killed by a signal or the out-of-memory killer): which chunk, what
    is kept and how to resume, instead of a BrokenProcessPool traceback."""
    a, b = ranges[min(done, len(ranges) - 1)]
    if ckpt:
        kept = (f"the {done} finished chunks are kept in the checkpoint {ckpt.path}: run the same calculation again "
                "to resume from there")
    else:
        kept = "no checkpoint was set: Engine(checkpoint=PATH) ([calculation] checkpoint in a run file) keeps " \
               "finished chunks for a resume"
    return RuntimeError(f"a worker process died (killed by a signal or the out-of-memory killer?) while computing "
                        f"{job.response.name} around chunk {done + 1} of {len(ranges)} (k-points {a}–{b - 1}); {kept}. "
                        "If memory ran out, lower Engine(chunk_size=...) or the number of workers")


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
    """Chunks on local worker processes (fork), which die with this process (see :func:`_worker_start`).

    Stopped early (an exception, Ctrl-C, SIGTERM, or the consumer closing this generator), the workers are
    killed and reaped before it returns, instead of finishing every queued chunk first.
    """
    global _FORKED_JOB
    _FORKED_JOB = job  # workers inherit it at fork: models built from closures need no pickling
    pool = cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_worker_start,
                                  initargs=(os.getpid(),))
    finished = False
    try:
        futures = [pool.submit(_run_forked, a, b) for a, b in todo]
        yield from (f.result() for f in futures)
        finished = True
    finally:
        if not finished:
            kill_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)


def kill_workers(pool: cf.ProcessPoolExecutor) -> None:
    """SIGKILL the pool's processes and reap them (they hold no state worth keeping: the sums are here)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    for proc in procs:
        proc.join(timeout=5)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _worker_start(parent: int) -> None:
    """Start-up of a local worker: die with the parent, leave signals to it.

    * ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (Linux): the kernel kills the worker when the parent dies, even by
      SIGKILL; a parent already gone before that call is caught by comparing ``getppid()``;
    * a watchdog thread polls ``getppid()`` as a fallback (other systems, or a death signal lost);
    * SIGINT is ignored (Ctrl-C reaches the whole process group; the parent stops and kills its workers) and
      SIGTERM is the default again (the parent's handler, inherited at fork, raises KeyboardInterrupt).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="properspin-watchdog", daemon=True).start()


def _watch_parent(parent: int, period: float = 0.5) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(period)
    os._exit(1)  # orphaned: nobody will read the result


class Terminated(KeyboardInterrupt):
    """SIGTERM during :meth:`Engine.run`: a clean stop as Ctrl-C (checkpoint kept, workers killed)."""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while chunks run (main thread, default handler only)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) \
            is not signal.SIG_DFL:
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated("terminated (SIGTERM)")

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: Rough single-core cost of one k-point with n bands, µs (the fused kernel, measured on the development
#: machine for 2–36 bands; a Wannier model with many R vectors costs more): 3 + 0.6 n² + 0.005 n³.
def _microseconds_per_kpoint(n: int) -> float:
    return 3.0 + 0.6 * n**2 + 0.005 * n**3


def _chunk_bytes(engine: Engine, job: Job, ranges: list[tuple[int, int]]) -> float:
    """Memory of one process while it runs a chunk, estimated for the numpy path (the kernel needs less):
    the (N, n, n) complex band-basis matrices, the per-state values and the partial sums."""
    n, dim, ncomp = job.model.nbands, job.model.dim, job.ncomp
    chunk = max((b - a for a, b in ranges), default=0)
    matrices = chunk * n * n * 16 * (2 * dim + 12)
    values = chunk * n * max(ncomp, 1) * 8 * 3
    return float(matrices + values + _partial_bytes(job))


def _partial_bytes(job: Job) -> float:
    """The running sums and one chunk's partial sums (every temperature)."""
    return float(sum(s.nbins for s in job.sweeps) * max(job.ncomp, 1) * 8 * 2)


_PROCESS_BYTES = 50e6  # a worker process of its own (interpreter, numpy, numba) beyond what fork shares


def _gigabytes(nbytes: float) -> str:
    return f"{nbytes / 1e9:.3g} GB"


def _check_size(engine: Engine, job: Job, ranges: list[tuple[int, int]]) -> None:
    """Refuse, before the first k-point, a mesh above ``max_kpoints`` or chunks that cannot fit in memory."""
    size, n = job.mesh.size, job.model.nbands
    hours = size * _microseconds_per_kpoint(n) * 1e-6 / 3600
    local = min(engine.nworkers, len(ranges)) if engine.executor is None and engine.scheduler is None else 1
    need = _chunk_bytes(engine, job, ranges) * max(local, 1)
    if local > 1:  # forked workers, and the parent holding the running sums
        need += local * _PROCESS_BYTES + _partial_bytes(job)
    estimate = (f"estimated ≈ {hours:.3g} CPU-hours at ≈ {_microseconds_per_kpoint(n):.3g} µs per k-point for "
                f"{n} bands, and ≈ {_gigabytes(need)} of memory for {max(local, 1)} process(es)")
    if engine.max_kpoints is not None and size > engine.max_kpoints:
        raise ValueError(f"the mesh has {size:.4g} k-points, more than max_kpoints = {engine.max_kpoints:.4g} "
                         f"({estimate}): use a coarser mesh, or Engine(max_kpoints=None) ([calculation] max_kpoints "
                         "in a run file) if you mean it")
    total = _system.physical_memory()
    if total and need > total:
        raise ValueError(f"chunks of up to {max(b - a for a, b in ranges)} k-points need ≈ {_gigabytes(need)} of "
                         f"memory, more than this machine's {_gigabytes(total)} ({estimate}): lower "
                         "Engine(chunk_size=...), the number of workers, Fermi energies or temperatures")


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
    """Running partial sums of a calculation, keyed on its content (:mod:`properspin.fingerprint`).

    The file keeps the fingerprint's key and description, its probe of the model's operators (which must agree to
    1e-9: two custom models, both called "custom", or differing only in ``spin_k``, differ there), and a digest
    of the sums, the ``done`` count and the diagnostics: a hand-edited count or sum is refused.  So is a
    checkpoint whose counts are out of range, whose sums are not finite or have the wrong shape, and any
    unreadable file.
    """

    def __init__(self, path: str | Path, job: Job, ranges: list[tuple[int, int]]) -> None:
        from .io import check_target

        self.path = Path(path)
        try:  # before the first k-point: a directory in the way, no permission, a NUL byte
            check_target(self.path)
        except OSError as exc:
            raise type(exc)(exc.errno, f"checkpoint: {exc.strerror}") from None
        except ValueError as exc:
            raise ValueError(f"checkpoint: {exc}") from None
        self.job, self.ranges = job, ranges
        self.identity = fingerprint(job, ranges)
        self.key = self.identity.key
        self._warned = False

    def _corrupt(self, what: str) -> ValueError:
        return ValueError(f"checkpoint {self.path} is corrupt or unreadable ({what}); delete it to start over")

    def load(self) -> tuple[int, ChunkResult | None]:
        if not self.path.exists():
            return 0, None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                arrays = {name: f[name] for name in f.files}
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a corrupt checkpoint
            raise self._corrupt(str(exc)) from None
        missing = {"key", "done", "nsweeps", "degenerate_kpoints", "degenerate_bands", "probe", "digest"} - set(arrays)
        if missing:
            raise self._corrupt(f"no {', '.join(sorted(missing))}; written by an older version?")
        if str(arrays["key"]) != self.key:
            stored = str(arrays["desc"]) if "desc" in arrays else ""
            raise ValueError(f"checkpoint {self.path} belongs to a different calculation "
                             f"({self.identity.difference(stored)} differ); delete it or choose another path")
        if not self.identity.matches(arrays["probe"]):
            raise ValueError(f"checkpoint {self.path} belongs to a different calculation (the model's H(k), ∂H/∂k, "
                             "spin (spin or spin_k), position matrix or spin current differ at the probe k-points, "
                             "although its name and parameters agree); delete it or choose another path")
        return self._validated(arrays)

    def _validated(self, a: dict[str, np.ndarray]) -> tuple[int, ChunkResult]:
        def integer(name: str, lo: int, hi: int) -> int:
            v = a[name]
            if v.shape != () or v.dtype.kind not in "iu" or not lo <= int(v) <= hi:
                raise self._corrupt(f"{name} = {v.tolist()!r} is not an integer in [{lo}, {hi}]")
            return int(v)

        done = integer("done", 1, len(self.ranges))
        integer("nsweeps", len(self.job.sweeps), len(self.job.sweeps))
        partials = []
        for i, sweep in enumerate(self.job.sweeps):
            p = a.get(f"partial{i}")
            shape = (sweep.nbins, self.job.ncomp)
            if p is None or p.shape != shape or p.dtype != np.float64:
                raise self._corrupt(f"partial sum {i} is {None if p is None else (p.shape, str(p.dtype))}, "
                                    f"expected float64 of shape {shape}")
            if not np.all(np.isfinite(p)):
                raise self._corrupt(f"partial sum {i} contains NaN or inf")
            partials.append(p)
        kpts = integer("degenerate_kpoints", 0, self.job.mesh.size)
        bands = a["degenerate_bands"]
        n = self.job.model.nbands
        if bands.dtype.kind not in "iu" or bands.ndim != 2 or bands.shape[1] != 2 or np.any(bands < 0) \
                or np.any(bands >= n):
            raise self._corrupt(f"degenerate_bands is not a list of band pairs in [0, {n})")
        if str(a["digest"]) != sums_digest(self.key, done, partials, kpts, bands):
            raise self._corrupt("its sums, done count or diagnostics do not match their digest: edited by hand or "
                                "damaged")
        return done, ChunkResult(partials, kpts, {(int(m), int(k)) for m, k in bands})

    def save(self, done: int, total: ChunkResult) -> None:
        """Write atomically; a failure (disk full, directory gone) warns once and the run goes on."""
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")  # two runs on one path do not mix
        arrays = {f"partial{i}": p for i, p in enumerate(total.partials)}
        bands = np.array(sorted(total.degenerate_bands), dtype=np.int64).reshape(-1, 2)
        digest = sums_digest(self.key, done, total.partials, total.degenerate_kpoints, bands)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.savez(fh, key=self.key, desc=self.identity.text, probe=self.identity.probe, done=done,
                         nsweeps=len(total.partials), degenerate_kpoints=total.degenerate_kpoints,
                         degenerate_bands=bands, digest=digest, **arrays)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if not self._warned:
                self._warned = True
                warnings.warn(f"checkpoint {self.path} could not be written ({exc.strerror or exc}); the run goes on, "
                              "but an interruption now loses the chunks since the last checkpoint", RuntimeWarning,
                              stacklevel=3)

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
