"""Running a peer code (WannierBerri) in its own interpreter: the benchmark scripts call themselves there with
``--wb-worker SPEC`` and read back one ``WBRESULT {json}`` line.  One BLAS/OpenMP/numba thread, as properspin's
serial runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


def run_worker(python: str, script: str, spec: dict) -> dict:
    """``python script --wb-worker SPEC`` → the dict of its ``WBRESULT`` line (exit with its output on failure)."""
    env = {**os.environ, **ONE_THREAD, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([python, script, "--wb-worker", json.dumps(spec)], capture_output=True, text=True, env=env)
    line = [s for s in out.stdout.splitlines() if s.startswith("WBRESULT ")]
    if out.returncode or not line:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"WannierBerri worker failed (exit {out.returncode})")
    return json.loads(line[-1][len("WBRESULT "):])


def peak_rss_line() -> str:
    """The peak resident memory of this process (one serial worker) and of its finished children, for the end of a
    benchmark's output."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return f"peak RSS: this process {own:.0f} MB" + (f", largest child process {kids:.0f} MB" if kids else "")


def bare_eigh(model, m, chunk: int, solver=None) -> float:
    """CPU seconds (``process_time``: less sensitive than wall time to other jobs on a shared machine) of
    diagonalising ``model``'s Hamiltonians on mesh ``m`` in chunks: the denominator of every "÷ eigh" ratio."""
    import time

    import numpy as np

    solver = solver or np.linalg.eigh
    t = time.process_time()
    for start in range(0, m.size, chunk):
        k, _ = m.points(model, start, min(m.size, start + chunk))
        solver(model.hamiltonian(k))
    return time.process_time() - t
