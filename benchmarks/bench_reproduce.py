"""Wall and CPU time of ``properspin reproduce`` per section, for one or more properspin trees (issue 24).

Each tree runs in a fresh subprocess (``PYTHONPATH=<tree>``) after a warm-up process that compiles or loads its
kernels (the cache is per tree), so the figures are warm-kernel times.  Printed per tree: wall and CPU
(user + system of the process and its children) of the whole command, the per-section wall / CPU seconds that
REPORT.md records (trees without them print only the total), and the 1-minute load average before and after —
on a shared machine compare CPU, and walls only within one run at a similar load.

Usage: ``python benchmarks/bench_reproduce.py [--quick] [--trees /path/to/old /path/to/new]`` (default: this
checkout).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARM = ("import numpy as np, properspin as ps\n"
        "from properspin import mesh\n"
        "from properspin.models import topological_insulator\n"
        "from properspin.paper import holes\n"
        "e = ps.Engine(workers=1, progress=False)\n"
        "ps.conductivity(topological_insulator(), 'proper_spin', fermi=[0.1], mesh=mesh.sphere(0.3, 4, 4, 4),\n"
        "                engine=e)\n"
        "ps.conductivity(holes.subband_model('GaAs', 1e6, 2, 12, None), 'proper_spin', fermi=[0.01],\n"
        "                mesh=mesh.disk(0.1, 4, 8), engine=e)\n")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(tree: Path, quick: bool) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as out:  # also the working directory: `python -m` puts it first on sys.path
        subprocess.run([sys.executable, "-c", WARM], env=env, check=True, capture_output=True, cwd=out)
        load0, t, cpu = os.getloadavg()[0], time.perf_counter(), _children_cpu()
        cmd = [sys.executable, "-m", "properspin", "reproduce", "--output", str(Path(out) / "r"), "--quiet"]
        cmd += ["--quick"] * quick
        subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=out)
        wall, cpu, load1 = time.perf_counter() - t, _children_cpu() - cpu, os.getloadavg()[0]
        head = (Path(out) / "r" / "REPORT.md").read_text(encoding="utf-8").split("\n## ")[0]
    print(f"{tree}: reproduce{' --quick' * quick}: {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"(load average {load0:.1f} before, {load1:.1f} after)")
    found = re.search(r"Wall / CPU seconds per section: ([^\n]*?)\.(?:\s|$)", head)
    if found:
        for item in found.group(1).split(", "):
            name, times = item.rsplit(" ", 1)
            w, c = times.split("/")
            print(f"  {name:14s} {float(w):6.0f} s wall {float(c):6.0f} s CPU")
    else:
        print("  (no per-section times in this tree's REPORT.md)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="time reproduce --quick")
    parser.add_argument("--trees", nargs="+", type=Path, default=[Path(__file__).resolve().parents[1]],
                        help="properspin checkouts to time, one after the other (default: this one)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; affinity {len(os.sched_getaffinity(0))}")
    for tree in args.trees:
        measure(tree.resolve(), args.quick)


if __name__ == "__main__":
    main()
