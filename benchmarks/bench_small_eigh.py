"""Time per matrix of the small-n Hermitian eigensolvers (issue 26 item 3): ``numpy.linalg.eigh`` (zheevd), the
LAPACK path of :mod:`properspin.eigen` (zhetrd/zungtr/dsteqr) and its compiled Householder + QL path, on random
complex Hermitian matrices and on the 4-band model's H(k); prints the largest n where the QL path is faster
than the LAPACK path in every round (``eigen._QL_MAX`` should be that n) and the accuracy of the QL path.
Serial, one BLAS thread, CPU time (``process_time``), interleaved rounds (min–max), with the load average.
Usage: ``python benchmarks/bench_small_eigh.py [--sizes 2,4,6,8,12,18] [--count 20000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from peer import peak_rss_line
from threadpoolctl import threadpool_limits

import properspin as ps
from properspin import eigen


def _solver(compiled):  # noqa: ANN202
    def solve(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e, u, status = np.empty(h.shape[:2]), np.empty_like(h), np.zeros(1, dtype=np.int64)
        compiled(h, e, u, status)
        if status[0]:
            raise SystemExit("the compiled solver declined a test matrix")
        return e, u
    return solve


SOLVERS = {"numpy": np.linalg.eigh, "lapack": _solver(eigen._small), "ql": _solver(eigen._ql)}


def per_matrix(solver, h: np.ndarray) -> float:
    """CPU microseconds per matrix."""
    t = time.process_time()
    solver(h)
    return (time.process_time() - t) / len(h) * 1e6


def accuracy(h: np.ndarray) -> str:
    e, u = SOLVERS["ql"](h)
    scale = np.abs(h).max()
    res = np.abs(h @ u - u * e[:, None, :]).max() / scale
    uni = np.abs(u.conj().transpose(0, 2, 1) @ u - np.eye(h.shape[1])).max()
    de = np.abs(e - np.linalg.eigvalsh(h)).max() / scale
    return f"|HU − UE|/max|H| {res:.1e}, |U†U − 1| {uni:.1e}, |E − E_numpy|/max|H| {de:.1e}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="2,4,6,8,12,18")
    p.add_argument("--count", type=int, default=20_000, help="matrices per size (a quarter of it above 8 bands)")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    if not eigen.available():
        raise SystemExit("the compiled eigensolvers are not available (numba/scipy missing or NUMBA_DISABLE_JIT)")
    rng = np.random.default_rng(0)
    model = ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))
    cases = {"4-band model H(k)": model.hamiltonian(rng.uniform(-np.pi, np.pi, size=(a.count, 2)))}
    for n in map(int, a.sizes.split(",")):
        m = a.count if n <= 8 else a.count // 4
        x = rng.normal(size=(m, n, n)) + 1j * rng.normal(size=(m, n, n))
        cases[f"random n = {n}"] = x + x.conj().transpose(0, 2, 1)
    for h in cases.values():  # compile / load the cache
        for s in SOLVERS.values():
            s(h[:2])
    t = {(c, s): [] for c in cases for s in SOLVERS}
    load0 = os.getloadavg()[0]
    with threadpool_limits(1):
        for _ in range(a.rounds):
            for c, h in cases.items():
                for s, solver in SOLVERS.items():
                    t[c, s].append(per_matrix(solver, h))
    print(f"µs per matrix, serial, {a.rounds} interleaved rounds (min–max), CPU time, "
          f"load average {load0:.2f} → {os.getloadavg()[0]:.2f}")
    faster = []
    for c, h in cases.items():
        tn, tl, tq = (np.array(t[c, s]) for s in SOLVERS)
        print(f"  {c:<18s} numpy {tn.min():7.3f}–{tn.max():.3f}  lapack {tl.min():7.3f}–{tl.max():.3f}  "
              f"ql {tq.min():7.3f}–{tq.max():.3f}   ql ÷ lapack {np.min(tq / tl):.2f}–{np.max(tq / tl):.2f}, "
              f"ql ÷ numpy {np.min(tq / tn):.2f}–{np.max(tq / tn):.2f}")
        print(f"    {accuracy(h)}")
        if c.startswith("random") and np.all(tq < tl):
            faster.append(h.shape[1])
    sizes = sorted(int(n) for n in a.sizes.split(","))
    cross = max((n for n in sizes if all(m in faster for m in sizes if m <= n)), default=0)
    print(f"QL faster than the LAPACK path in every round up to n = {cross} of {sizes} "
          f"(eigen._QL_MAX = {eigen._QL_MAX})")


if __name__ == "__main__":
    main()
    print(peak_rss_line())
