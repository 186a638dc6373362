"""Time of ``import properspin`` in a fresh interpreter, and what the kernels' first import adds (issue 23).

``import properspin`` no longer imports numba: the compiled kernels (and numba with them) load when a kernel is
first needed.  Prints the median, over ``--repeat`` fresh processes (cases alternating, so that all see the same
machine load), of the CPU time (and wall time) of ``import properspin`` and of ``import properspin`` followed by
``from properspin import kernels`` (numba and the kernels' decoration; no compile), whether numba got loaded, and
their ratio.  ``--compare PATH`` runs the same cases on the checkout at PATH too, interleaved (e.g. the main
branch, to compare versions within one run).  Usage: ``python benchmarks/bench_import.py [--repeat 9]
[--compare ../main]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

CASES = {
    "import properspin": "import properspin",
    "import properspin + kernels": "import properspin\nfrom properspin import kernels",
}
PROBE = ("import sys, time\nc, t = time.process_time(), time.perf_counter()\n{code}\n"
         "print(time.process_time() - c, time.perf_counter() - t, 'numba' in sys.modules, properspin.__file__)\n")
HERE = Path(__file__).resolve().parents[1]


def once(code: str, root: Path) -> tuple[float, float, bool]:
    """CPU and wall seconds for ``code`` in a fresh interpreter importing properspin from ``root`` (start-up
    excluded), and whether numba got loaded."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-P", "-c", PROBE.format(code=code)], capture_output=True, text=True,
                         check=True, env=env, cwd=root).stdout.split()
    if not out[3].startswith(str(root)):
        raise RuntimeError(f"imported {out[3]}, not the checkout {root}")
    return float(out[0]), float(out[1]), out[2] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="fresh processes per case (median reported)")
    parser.add_argument("--compare", type=Path, help="another checkout, timed interleaved with this one")
    args = parser.parse_args()
    roots = {"this": HERE} | ({"compare": args.compare.resolve()} if args.compare else {})
    keys = [(r, name) for r in roots for name in CASES]
    for r, name in keys:  # warm the file-system cache once
        once(CASES[name], roots[r])
    cpu: dict = {key: [] for key in keys}
    wall: dict = {key: [] for key in keys}
    numba: dict = {}
    for _ in range(args.repeat):
        for r, name in keys:
            c, w, numba[r, name] = once(CASES[name], roots[r])
            cpu[r, name].append(c)
            wall[r, name].append(w)
    med = {key: statistics.median(cpu[key]) for key in keys}
    for r, name in keys:
        print(f"{r:<8} {roots[r]}  {name:<28} CPU {med[r, name]:.3f} s, wall {statistics.median(wall[r, name]):.3f} s "
              f"(medians of {args.repeat}), numba loaded: {numba[r, name]}")
    for r in roots:
        print(f"{r:<8} CPU ratio (with kernels / properspin alone): "
              f"{med[r, 'import properspin + kernels'] / med[r, 'import properspin']:.2f}")
    if args.compare:
        print(f"CPU ratio import properspin, this / compare: "
              f"{med['this', 'import properspin'] / med['compare', 'import properspin']:.2f}")


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
