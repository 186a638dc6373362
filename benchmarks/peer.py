"""Running a peer code (WannierBerri) in its own interpreter: the benchmark scripts call themselves there with
``--wb-worker SPEC`` and read back one ``WBRESULT {json}`` line.  One BLAS/OpenMP/numba thread, as properspin's
serial runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


#: worker roles: the command-line flag a script answers to, the tag of its result line, the name in errors
ROLES = {"wb": ("--wb-worker", "WBRESULT ", "WannierBerri"), "ps": ("--ps-worker", "PSRESULT ", "properspin")}


def run_worker(python: str, script: str, spec: dict, role: str = "wb") -> dict:
    """``python script --wb-worker SPEC`` (``role="ps"``: ``--ps-worker``, a fresh properspin process) → the dict
    of its ``WBRESULT`` (``PSRESULT``) line; exit with its output on failure."""
    flag, tag, name = ROLES[role]
    env = {**os.environ, **ONE_THREAD, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([python, script, flag, json.dumps(spec)], capture_output=True, text=True, env=env)
    line = [s for s in out.stdout.splitlines() if s.startswith(tag)]
    if out.returncode or not line:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"{name} worker failed (exit {out.returncode})")
    return json.loads(line[-1][len(tag):])


def emit(row: dict, path=None) -> None:
    """Print one result row as JSON (and append it to ``path``, a JSON-lines file, when given)."""
    print(json.dumps(row), flush=True)
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(row) + "\n")


def peak_rss_line() -> str:
    """The peak resident memory of this process (a serial run's only worker) and of the largest of its finished
    children (forked ``Engine(workers=N)`` workers, peer-code and worker subprocesses), for the end of a
    benchmark's output: the memory per worker of issue 26."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return (f"peak RSS per worker: this process {own:.0f} MB"
            + (f", largest finished child process (worker or peer run) {kids:.0f} MB" if kids else ""))


class ChildPeaks:
    """While active (``with ChildPeaks() as c:``), samples the peak RSS (``VmHWM``, Linux ``/proc``) of every
    process whose parent is this one every ``every`` seconds: ``c.peaks`` maps pid → MB (the per-worker figure of
    an ``Engine(workers=N)`` run, whose forked workers live only during the call)."""

    def __init__(self, every: float = 0.5) -> None:
        self.every, self.peaks = every, {}

    def _sample(self) -> None:
        me = str(os.getpid())
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/status") as f:
                    st = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                continue
            if st.get("PPid", "").strip() == me and "VmHWM" in st:
                mb = int(st["VmHWM"].split()[0]) / 1024
                self.peaks[int(d)] = max(self.peaks.get(int(d), 0.0), mb)

    def __enter__(self) -> ChildPeaks:
        import threading

        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(self.every):
                self._sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


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


def wb_python() -> str:
    """The interpreter of WannierBerri's own environment: ``$PROPERSPIN_WB_PYTHON`` if set, else
    ``benchmarks/.venv-wb/bin/python`` (``bench_wannierberri.py --setup``); a clear error when neither exists."""
    from pathlib import Path

    py = os.environ.get("PROPERSPIN_WB_PYTHON") or str(Path(__file__).resolve().parent / ".venv-wb" / "bin" / "python")
    if not Path(py).exists():
        raise SystemExit(f"no WannierBerri interpreter at {py}: set PROPERSPIN_WB_PYTHON, pass --python, or run "
                         "`python benchmarks/bench_wannierberri.py --setup`")
    return py
