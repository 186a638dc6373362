"""Cold and warm numba compile/load time of the fused kernel and the eigensolver (issue 14).

Runs, in fresh subprocesses with an empty ``NUMBA_CACHE_DIR``, one small ``conductivity`` call per fused
response on a 4-band model (the 4-band compiled copy) and on a 6-band model with a Wannier position term
(the general copy): the first process compiles everything (cold), the second loads it from the cache (warm).
The CPU time is the figure to compare on a shared machine (the wall time includes waiting for a core).
Usage: ``python benchmarks/bench_compile.py`` (``PYTHONPATH`` selects the properspin tree measured).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import time, numpy as np
t0 = time.perf_counter()
import properspin as ps
from properspin import mesh
t1 = time.perf_counter()
four = ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))
from properspin.models.wannier import random_wannier_hamiltonian
six = random_wannier_hamiltonian(6, np.eye(3) * 3.0, seed=1).to_model(spinor_order="interleaved")
times = {}
for label, model, fermi in (("4-band", four, [0.0, 0.5]), ("6-band + positions", six, [0.0, 0.5])):
    for resp in ("proper_spin", "conventional_spin", "torque_dipole", "charge"):
        t = time.perf_counter()
        ps.conductivity(model, resp, fermi=fermi, mesh=mesh.grid(3), engine=ps.Engine(workers=1))
        times[(label, resp)] = time.perf_counter() - t
total = time.perf_counter() - t1
print(f"import {t1 - t0:.2f} s; calls {total:.2f} s")
for (label, resp), t in times.items():
    print(f"  {label:20s} {resp:18s} {t:7.2f} s")
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for what in ("cold (empty cache)", "warm (cache loaded)"):
            t, cpu = time.perf_counter(), _children_cpu()
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
            print(f"{what}: process {time.perf_counter() - t:.2f} s wall, {_children_cpu() - cpu:.2f} s CPU; "
                  f"{out.stdout.strip()}")


def _children_cpu() -> float:
    """User + system CPU seconds of finished child processes (robust against a loaded machine)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
