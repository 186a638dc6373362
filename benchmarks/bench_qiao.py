"""The Qiao et al. spin current of a native Wannier90 run: compiled kernel ÷ numpy path ÷ bare eigh (issue 26).

On fcc Pt (``../shared/data/wannier90/Pt/Pt``: 18 bands, S(k) from ``.spn``, the Qiao operators SH, SR, SHR) prints,
for the conventional spin Hall tensor with ``method="qiao"`` in the η → 0 limit and with postw90's η = 0.1 eV,
on a Γ-centred n³ grid at E_F = 18.3823 eV (serial engine, one BLAS thread):

* bare eigh: H(k) (its Fourier sum) and ``numpy.linalg.eigh`` on the same k-points;
* the full ``conductivity`` call (compiled kernel, the Qiao stage of ``kernel_conventional``);
* the numpy chunk path (``properspin.chunk.numpy_chunk``: ``QiaoSpinCurrent`` in numpy, what ran before);

in ``--rounds`` interleaved rounds (min and max of each; CPU time, ``process_time``: the serial engine runs in
this process, and CPU time is less sensitive than wall time to other jobs on a shared machine), the ratios
kernel ÷ eigh and numpy ÷ kernel (per round, then min–max), the largest relative difference of the two paths'
values (with postw90's D threshold ``spin_current_tol`` = 1e-7 eV and with 1e-5 eV), the load average before
and after, and the process's peak RSS (one serial worker).  ``--profile`` adds a cProfile of one kernel call.

Usage: ``python benchmarks/bench_qiao.py [--n 12] [--rounds 3] [--profile] [--data ../shared/data]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import time
from pathlib import Path

import numpy as np
from peer import bare_eigh
from threadpoolctl import threadpool_limits

import properspin as ps
from properspin import chunk, kernels, mesh
from properspin.conventions import DEGENERACY_TOL
from properspin.sweep import Sweep

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FERMI = 18.3823




def full(model: ps.Model, m: mesh.Mesh, response, step: int) -> float:
    t = time.process_time()
    ps.conductivity(model, response, fermi=[FERMI], mesh=m, engine=ps.Engine(chunk_size=step, workers=1))
    return time.process_time() - t


def numpy_path(model: ps.Model, m: mesh.Mesh, response, step: int) -> float:
    sweeps = (Sweep(np.array([FERMI]), 0.0),)
    t = time.process_time()
    for start in range(0, m.size, step):
        k, w = m.points(model, start, min(m.size, start + step))
        chunk.numpy_chunk(model, response, k, w, sweeps, DEGENERACY_TOL)
    return time.process_time() - t


def difference(model: ps.Model, m: mesh.Mesh, response, step: int) -> float:
    """max |kernel − numpy| / max |numpy| of the partial sums (0 K and 300 K) of the first chunk."""
    k, w = m.points(model, 0, min(m.size, step))
    sweeps = (Sweep(np.array([FERMI - 0.5, FERMI]), 0.0), Sweep(np.array([FERMI]), 300.0))
    got = kernels.kernel_chunk(response, model, k, w, sweeps, DEGENERACY_TOL)
    ref = chunk.numpy_chunk(model, response, k, w, sweeps, DEGENERACY_TOL)
    return max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(got.partials, ref.partials, strict=True))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=12, help="grid n³ (default 12)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--step", type=int, default=2000, help="k-points per chunk")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    a = p.parse_args()
    pt = a.data / "wannier90" / "Pt" / "Pt"
    if not pt.with_suffix(".win").exists():
        raise SystemExit(f"{pt}.win not found: pass --data")
    model = ps.models.wannier90_run(pt)
    m = mesh.resolve(mesh.grid(a.n), model)
    cases = {"qiao η→0": ps.responses.get("conventional_spin", method="qiao"),
             "qiao η=0.1": ps.responses.get("conventional_spin", method="qiao", broadening=0.1)}
    load0 = os.getloadavg()
    with threadpool_limits(1):
        for resp in cases.values():  # warm-up: compiled kernels from numba's cache
            full(model, mesh.resolve(mesh.grid(2), model), resp, a.step)
        times = {(c, w): [] for c in cases for w in ("eigh", "kernel", "numpy")}
        for _ in range(a.rounds):
            for name, resp in cases.items():
                times[name, "eigh"].append(bare_eigh(model, m, a.step))
                times[name, "kernel"].append(full(model, m, resp, a.step))
                times[name, "numpy"].append(numpy_path(model, m, resp, a.step))
        diffs = {name: difference(model, m, resp, a.step) for name, resp in cases.items()}
        cured = ps.models.wannier90_run(pt, spin_current_tol=1e-5)  # the conditioning cure (docs/wannier90-native)
        cured_diffs = {name: difference(cured, m, resp, a.step) for name, resp in cases.items()}
        if a.profile:
            prof = cProfile.Profile()
            prof.enable()
            full(model, m, cases["qiao η→0"], a.step)
            prof.disable()
    load1 = os.getloadavg()
    print(f"Pt native run, {m.size} k-points ({a.n}³), E_F = {FERMI} eV, serial, {a.rounds} interleaved rounds; "
          f"load average {load0[0]:.2f} before, {load1[0]:.2f} after")
    for name in cases:
        te, tk, tn = (np.array(times[name, w]) for w in ("eigh", "kernel", "numpy"))
        print(f"  {name}: bare eigh {te.min():.2f}–{te.max():.2f} s, kernel {tk.min():.2f}–{tk.max():.2f} s, "
              f"numpy path {tn.min():.2f}–{tn.max():.2f} s")
        print(f"    kernel ÷ eigh {np.min(tk / te):.2f}–{np.max(tk / te):.2f}, numpy ÷ kernel "
              f"{np.min(tn / tk):.2f}–{np.max(tn / tk):.2f}")
        print(f"    max |kernel − numpy| / max |numpy| (first chunk): {diffs[name]:.1e} with postw90's "
              f"spin_current_tol 1e-7 eV (ill-conditioned: D = v/Δ of pairs split by 1e-7–1e-5 eV), "
              f"{cured_diffs[name]:.1e} with 1e-5 eV")
    print(f"  peak RSS of this process (one serial worker): {rss_mb():.0f} MB")
    if a.profile:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
        print("\n".join(out.getvalue().splitlines()[:40]))


if __name__ == "__main__":
    main()
