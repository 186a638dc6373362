"""Full ``conductivity`` call ÷ bare batched ``numpy.linalg.eigh`` on the same k-points (issues 2, 5).

"eigh" is ``numpy.linalg.eigh`` (LAPACK zheevd), the floor the issue names; the time of properspin's own
small-matrix eigensolver (``properspin.eigen.eigh``, used by the kernel) on the same matrices is printed too.
Prints, for a 4-band model (10⁶ k-points, 1000 Fermi energies by default) and, when
``../shared/data/Fe_tb.dat`` is present, the 18-band Fe Wannier model, the time of each and the
ratio of CPU times (``process_time``; the serial engine runs in this process) in interleaved rounds (min–max
over rounds of the per-round ratio), with the load average and the process's peak RSS.
Usage: ``python benchmarks/bench_eigh_ratio.py [--nk 1000000] [--nfermi 1000]
[--responses proper_spin,conventional_spin,charge] [--rounds 3] [--one-fermi] [--compare-lapack]``.
``--compare-lapack`` adds, in the same interleaved rounds, each full call with the kernel's eigensolver switched
back to the LAPACK path for n ≤ ``eigen._QL_MAX`` (the solver before issue 26's small-n QL path; benchmark only).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
from peer import bare_eigh
from threadpoolctl import threadpool_limits

import properspin as ps
from properspin import eigen, mesh

QL_MAX = eigen._QL_MAX

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def four_band() -> ps.Model:
    """BHZ lattice model with an exchange field: 4 bands, spin-mixed eigenstates."""
    return ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))




def full(model, m, response, nfermi, chunk, window=(-3, 3), lapack: bool = False) -> float:
    """CPU seconds of the serial ``conductivity`` call (``lapack``: with the LAPACK path for every n ≤ 32)."""
    fermi = np.linspace(*window, nfermi)
    eigen._QL_MAX = 0 if lapack else QL_MAX
    try:
        t = time.process_time()
        ps.conductivity(model, response, fermi=fermi, mesh=m, engine=ps.Engine(chunk_size=chunk, workers=1))
        return time.process_time() - t
    finally:
        eigen._QL_MAX = QL_MAX


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nk", type=int, default=1_000_000)
    p.add_argument("--nfermi", type=int, default=1000)
    p.add_argument("--responses", default="proper_spin,conventional_spin,charge")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (eigh, then each response)")
    p.add_argument("--chunk", type=int, default=20_000)
    p.add_argument("--fe-nk", type=int, default=27_000, help="k-points of the Fe case (0: skip)")
    p.add_argument("--skip-4band", action="store_true")
    p.add_argument("--one-fermi", action="store_true", help="also time 1 Fermi energy (ratio nfermi ÷ 1)")
    p.add_argument("--compare-lapack", action="store_true",
                   help="also time each full call with the LAPACK eigensolver path (before the small-n QL path)")
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    a = p.parse_args()
    responses = a.responses.split(",")
    if not a.skip_4band:
        model = four_band()
        n = round(a.nk ** 0.5)
        report("4-band", model, mesh.resolve(mesh.grid(n), model), responses, a, a.chunk, (-3, 3))
    fe = a.data / "Fe_tb.dat"
    if a.fe_nk and fe.exists():
        from properspin.models.wannier import wannier90

        fe_model = wannier90(fe, spinor_order="interleaved")
        nf = round(a.fe_nk ** (1 / 3))
        report("Fe 18-band (with positions)", fe_model, mesh.resolve(mesh.grid(nf), fe_model), responses, a, 2000,
               (15.0, 20.0))
    elif a.fe_nk:
        print(f"Fe case skipped: {fe} not found")
    print(f"peak RSS of this process (one serial worker): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def report(label, model, m, responses, a, chunk, window) -> None:
    """Interleaved rounds: numpy eigh, properspin eigh, then each response; ratios per round, min–max."""
    for response in responses:  # warm-up: compiled kernel and eigensolver caches
        full(model, mesh.resolve(mesh.grid(4), model), response, 2, chunk, window)
        if a.compare_lapack:
            full(model, mesh.resolve(mesh.grid(4), model), response, 2, chunk, window, lapack=True)
    t = {key: [] for key in ["eigh", "own", *responses, *(f"{r} lapack" for r in responses)]}
    load0 = os.getloadavg()[0]
    with threadpool_limits(1):
        for _ in range(a.rounds):
            t["eigh"].append(bare_eigh(model, m, chunk))
            t["own"].append(bare_eigh(model, m, chunk, eigen.eigh))
            for response in responses:
                t[response].append(full(model, m, response, a.nfermi, chunk, window))
                if a.compare_lapack:
                    t[f"{response} lapack"].append(full(model, m, response, a.nfermi, chunk, window, lapack=True))
    load1 = os.getloadavg()[0]
    te, to = np.array(t["eigh"]), np.array(t["own"])
    print(f"{label}: {m.size} k-points, {a.nfermi} Fermi energies, serial, {a.rounds} interleaved rounds "
          f"(min–max), CPU time, load average {load0:.2f} → {load1:.2f}")
    print(f"  bare eigh (H(k) + numpy.linalg.eigh)      {te.min():8.2f}–{te.max():.2f} s")
    print(f"  bare properspin.eigen.eigh (H(k) + eigh)  {to.min():8.2f}–{to.max():.2f} s   "
          f"({np.min(to / te):.2f}–{np.max(to / te):.2f} of numpy's)")
    for response in responses:
        tf = np.array(t[response])
        print(f"  {response:<18s} full {tf.min():8.2f}–{tf.max():.2f} s   full ÷ eigh {np.min(tf / te):.2f}–"
              f"{np.max(tf / te):.2f} (÷ properspin eigh {np.min(tf / to):.2f}–{np.max(tf / to):.2f})")
        if a.compare_lapack:
            tl = np.array(t[f"{response} lapack"])
            print(f"  {'':<18s} with the LAPACK eigensolver path: full {tl.min():8.2f}–{tl.max():.2f} s   full ÷ eigh "
                  f"{np.min(tl / te):.2f}–{np.max(tl / te):.2f}; new ÷ LAPACK-path full call "
                  f"{np.min(tf / tl):.2f}–{np.max(tf / tl):.2f}")
        if a.one_fermi:
            t_one = full(model, m, response, 1, chunk, window)
            print(f"    1 Fermi energy {t_one:8.2f} s: {a.nfermi} E_F ÷ 1 E_F = {tf.min() / t_one:.3f}")


if __name__ == "__main__":
    main()
