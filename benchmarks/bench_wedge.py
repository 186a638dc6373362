"""Irreducible wedge of a grid: compiled star-by-star ``symmetry.irreducible_points`` against the numpy version
(every point against all |G| images, the function before issue 26), one process, interleaved rounds, CPU time.

Pt's group (fcc, m-3m1', 96 operations, the group of RESULTS §16a) and bcc Fe's 4/mm'm' (16), Γ-centred n³ grids;
both versions must return the same points and star sizes (checked every round).

Usage::

    python benchmarks/bench_wedge.py                       # Pt 136³ and 204³, Fe 136³, 3 rounds
    python benchmarks/bench_wedge.py --n 60 --rounds 1     # quicker
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.peer import peak_rss_line  # noqa: E402
from properspin import symmetry as sy  # noqa: E402

FCC = 3.92 / 2 * np.array([[-1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [-1.0, 1.0, 0.0]])
BCC = 2.87 / 2 * np.array([[1.0, 1.0, 1.0], [-1.0, 1.0, 1.0], [-1.0, -1.0, 1.0]])
GROUPS = {"Pt (fcc, m-3m1')": (FCC, None), "Fe (bcc, 4/mm'm')": (BCC, (0, 0, 1))}


def _cpu(f, *args, **kw):
    t = time.process_time()
    out = f(*args, **kw)
    return out, time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="136,204", help="grid sizes n (n³), comma-separated (Fe: the first only)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ns = [int(x) for x in args.n.split(",")]
    sy.irreducible_points((4, 4, 4), (0, 0, 0), 2 * np.pi * np.linalg.inv(FCC).T,
                          sy.magnetic_group(sy.Structure(FCC, [[0, 0, 0]], ["X"])))  # compile (or load) first
    print(f"load average {os.getloadavg()[0]:.1f}; serial, CPU seconds (process_time)")
    for name, (lattice, mag) in GROUPS.items():
        group = sy.magnetic_group(sy.Structure(lattice, [[0, 0, 0]], ["X"]), mag)
        rec = 2 * np.pi * np.linalg.inv(lattice).T
        for n in ns if name.startswith("Pt") else ns[:1]:
            grid = (n, n, n)
            fast, slow = [], []
            for _ in range(args.rounds):
                (idx, star), t1 = _cpu(sy.irreducible_points, grid, (0, 0, 0), rec, group)
                (ref_idx, ref_star), t0 = _cpu(sy._irreducible_numpy, *sy._grid_maps(grid, (0, 0, 0), rec, group))
                assert np.array_equal(idx, ref_idx) and np.array_equal(star, ref_star)
                fast.append(t1)
                slow.append(t0)
            r = np.array(fast) / np.array(slow)
            print(f"{name} |G| = {group.order}, {n}³ = {n ** 3} points → {len(idx)} stars: compiled "
                  f"{min(fast):.3f}–{max(fast):.3f} s ({1e9 * min(fast) / n ** 3:.0f} ns per grid point), numpy "
                  f"{min(slow):.2f}–{max(slow):.2f} s ({1e9 * min(slow) / n ** 3:.0f} ns); ratio per round "
                  f"{r.min():.4f}–{r.max():.4f} ({1 / r.max():.0f}–{1 / r.min():.0f}× faster); same points and "
                  f"weights")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print(peak_rss_line())


if __name__ == "__main__":
    main()
