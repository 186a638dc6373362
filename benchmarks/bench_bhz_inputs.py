"""The 4-band model's inputs (issue 26 item 3): H(k) and ∂H of ``bhz(1).with_zeeman(...)`` written entry by entry
(``properspin.models.toy.bhz``) against the block construction from two QWZ copies that it replaced (the same
numbers, ``tests/test_bhz_inputs.py``), on the same k-points in blocks of 4096 (the kernel's block for 4 bands),
serial, CPU time, interleaved rounds (min–max), with the load average.
Usage: ``python benchmarks/bench_bhz_inputs.py [--nk 250000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from peer import peak_rss_line

import properspin as ps


def block_construction(u: float, zeeman: tuple[float, float, float]):  # noqa: ANN201
    """H and ∂H as ``bhz`` built them before: diag(h_QWZ(k), h_QWZ(−k)*) from the QWZ model's Pauli sums."""
    qwz = ps.models.qwz(u)
    term = 2 * np.einsum("l,lij->ij", np.asarray(zeeman), ps.models.bhz(u).spin)

    def h(k: np.ndarray) -> np.ndarray:
        out = np.zeros((len(k), 4, 4), dtype=complex)
        out[:, :2, :2], out[:, 2:, 2:] = qwz.hamiltonian(k), np.conj(qwz.hamiltonian(-k))
        return out + term

    def dh(k: np.ndarray) -> np.ndarray:
        out = np.zeros((2, len(k), 4, 4), dtype=complex)
        out[:, :, :2, :2], out[:, :, 2:, 2:] = qwz.gradient(k), -np.conj(qwz.gradient(-k))
        return out

    return h, dh


def cpu(f, k: np.ndarray, block: int) -> float:
    t = time.process_time()
    for s in range(0, len(k), block):
        f(k[s : s + block])
    return time.process_time() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nk", type=int, default=250_000)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    zeeman = (0.05, 0.02, 0.03)
    model = ps.models.bhz(1.0).with_zeeman(zeeman)
    old_h, old_dh = block_construction(1.0, zeeman)
    k = np.random.default_rng(0).uniform(-np.pi, np.pi, size=(a.nk, 2))
    assert np.array_equal(model.hamiltonian(k[:999]), old_h(k[:999]))
    assert np.array_equal(model.gradient(k[:999]), old_dh(k[:999]))
    fs = {"H new": model.hamiltonian, "H old": old_h, "dH new": model.gradient, "dH old": old_dh}
    t = {name: [] for name in fs}
    for f in fs.values():  # warm-up (allocator)
        cpu(f, k, 4096)
    load0 = os.getloadavg()[0]
    for _ in range(a.rounds):
        for name, f in fs.items():
            t[name].append(cpu(f, k, 4096))
    print(f"4-band model inputs, {a.nk} k-points in blocks of 4096, serial, {a.rounds} interleaved rounds (min–max), "
          f"CPU time, load average {load0:.2f} → {os.getloadavg()[0]:.2f}")
    for q in ("H", "dH"):
        new, old = np.array(t[f"{q} new"]), np.array(t[f"{q} old"])
        print(f"  {q:<3s} written out {new.min():.3f}–{new.max():.3f} s, block construction {old.min():.3f}–"
              f"{old.max():.3f} s: new ÷ old {np.min(new / old):.2f}–{np.max(new / old):.2f}")


if __name__ == "__main__":
    main()
    print(peak_rss_line())
