"""Speed-up of local worker processes and peak memory against mesh size (issue 5, items 4–5).

Prints the wall time of one ``conductivity`` call with 1 and 2 worker processes (same k-points) and the
peak resident memory of a child process for meshes growing 10× and 100×.  Usage:
``python benchmarks/bench_scaling.py [--nk 250000]``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np

import properspin as ps
from properspin import mesh


def timed(workers: int, n: int) -> float:
    model = ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))
    t = time.perf_counter()
    ps.conductivity(model, "proper_spin", fermi=np.linspace(-3, 3, 1000), mesh=mesh.grid(n),
                    engine=ps.Engine(chunk_size=20_000, workers=workers))
    return time.perf_counter() - t


def peak_rss_mb(n: int) -> float:
    code = ("import numpy as np, properspin as ps, resource\n"
            "m = ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))\n"
            f"ps.conductivity(m, 'proper_spin', fermi=np.linspace(-3, 3, 1000), mesh=ps.mesh.grid({n}),"
            " engine=ps.Engine(chunk_size=20000))\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nk", type=int, default=250_000)
    a = p.parse_args()
    n = round(a.nk ** 0.5)
    timed(1, 8)  # warm-up: imports and the compiled-kernel cache
    t1, t2 = timed(1, n), timed(2, n)
    print(f"{n * n} k-points, 4 bands, 1000 Fermi energies")
    print(f"  1 worker {t1:.2f} s, 2 workers {t2:.2f} s: speed-up {t1 / t2:.2f}, efficiency {t1 / t2 / 2:.2f}")
    base = max(10, n // 10)
    for factor in (1, 10, 100):
        nn = round(base * factor ** 0.5)
        print(f"  mesh {nn * nn:>9d} k-points: peak RSS {peak_rss_mb(nn):7.1f} MB")
    print(f"  (this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
