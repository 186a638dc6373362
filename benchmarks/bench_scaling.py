"""Speed-up with 1 and 2 workers, three ways, and peak memory against mesh size (issue 5, items 4–5).

Times one ``conductivity`` call (4-band model, 1000 Fermi energies, same k-points) with

* local worker processes, ``Engine(workers=1)`` and ``Engine(workers=2)``;
* a Dask ``LocalCluster`` of 1 and 2 single-threaded workers (``Engine(scheduler=client)``; the cluster is
  started and every worker has run a warm-up calculation before the clock, so that loading the compiled code
  (≈ 0.5 s per process) is not timed; the job's scatter and the chunk traffic are);
* MPI through ``mpi4py.futures`` (``mpiexec -n W+1``: rank 0 submits, W ranks work; the ``conductivity`` call
  is timed inside the job, not the ``mpiexec`` start-up);

then the peak resident memory of a fresh process for meshes growing 10× and 100×.  Dask and MPI parts are
skipped with a message when their extras are not installed.  Usage:
``python benchmarks/bench_scaling.py [--nk 1000000] [--chunk 20000]``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import properspin as ps
from properspin import mesh


def model() -> ps.Model:
    return ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))


def timed(n: int, chunk: int, **engine) -> float:
    t = time.perf_counter()
    ps.conductivity(model(), "proper_spin", fermi=np.linspace(-3, 3, 1000), mesh=mesh.grid(n),
                    engine=ps.Engine(chunk_size=chunk, **engine))
    return time.perf_counter() - t


def line(label: str, t1: float, t2: float) -> str:
    return (f"  {label:<22s} 1 worker {t1:6.2f} s, 2 workers {t2:6.2f} s: speed-up {t1 / t2:.2f}, "
            f"efficiency {t1 / t2 / 2:.2f}")


def dask_times(n: int, chunk: int) -> tuple[float, float] | None:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("  Dask: not installed (pip install 'properspin[dask]'), skipped")
        return None
    out = []
    for w in (1, 2):
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                Client(cl) as client:
            timed(300, 1000, scheduler=client)  # warm-up: 90 chunks, so every worker loads the compiled code
            out.append(timed(n, chunk, scheduler=client))
    return out[0], out[1]


def mpi_times(n: int, chunk: int) -> tuple[float, float] | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        print("  MPI: mpi4py not installed (pip install 'properspin[mpi]'), skipped")
        return None
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    if mpiexec is None:
        print("  MPI: no mpiexec on PATH, skipped")
        return None
    out = []
    for w in (1, 2):
        cmd = [mpiexec, "-n", str(w + 1), sys.executable, "-m", "mpi4py.futures", __file__, "--mpi-job",
               str(n), str(chunk)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        lines = [s for s in res.stdout.splitlines() if s.startswith("MPITIME ")]
        if res.returncode or not lines:
            print(f"  MPI: run failed (exit {res.returncode}): {res.stderr[-500:]}")
            return None
        out.append(float(lines[-1].split()[1]))
    return out[0], out[1]


def mpi_job(n: int, chunk: int) -> None:
    timed(300, 1000, scheduler="mpi")  # warm-up: 90 chunks, so every worker imports and loads the compiled code
    print(f"MPITIME {timed(n, chunk, scheduler='mpi')}")


def peak_rss_mb(n: int, chunk: int) -> float:
    code = ("import numpy as np, properspin as ps, resource\n"
            "m = ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))\n"
            f"ps.conductivity(m, 'proper_spin', fermi=np.linspace(-3, 3, 1000), mesh=ps.mesh.grid({n}),"
            f" engine=ps.Engine(chunk_size={chunk}))\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nk", type=int, default=1_000_000)
    p.add_argument("--chunk", type=int, default=20_000)
    p.add_argument("--mpi-job", nargs=2, type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.mpi_job:
        mpi_job(*a.mpi_job)
        return
    n = round(a.nk ** 0.5)
    timed(8, a.chunk, workers=1)  # warm-up: imports and the compiled-kernel cache
    print(f"{n * n} k-points, 4 bands, 1000 Fermi energies, chunks of {a.chunk} k-points")
    print(line("local processes", timed(n, a.chunk, workers=1), timed(n, a.chunk, workers=2)))
    for label, times in (("Dask LocalCluster", dask_times(n, a.chunk)),
                         ("MPI (mpi4py.futures)", mpi_times(n, a.chunk))):
        if times:
            print(line(label, *times))
    base = max(10, n // 10)
    for factor in (1, 10, 100):
        nn = round(base * factor ** 0.5)
        print(f"  mesh {nn * nn:>9d} k-points: peak RSS {peak_rss_mb(nn, a.chunk):7.1f} MB")
    print(f"  (this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())  # with the largest finished child: the forked 2-worker runs
