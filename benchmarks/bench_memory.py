"""Memory per worker of an 18-band run (issue 26, item 5): fcc Pt's native Wannier90 run, n³ grid, the Qiao
spin current (η = 0.1 eV, the heaviest response: 27 Fourier sums per k), ``Engine(workers=N)``.

Prints the peak RSS (``VmHWM``) of every worker process, sampled while the run goes (``peer.ChildPeaks``), and of
the parent; with one worker the parent is the worker.  ``--stop-after S``: stop the run after S seconds (a partial
run, said so in the output) — the kernel holds one block of k-points at a time, so the peak is reached in the
first chunks.  ``--wedge``: the irreducible wedge of the symmetrised model instead of the full grid.

Usage: ``python benchmarks/bench_memory.py [--n 100] [--workers 2] [--stop-after 0] [--wedge]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import time
from pathlib import Path

from peer import ChildPeaks, peak_rss_line

RUN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "wannier90" / "Pt" / "Pt"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--stop-after", type=float, default=0.0, help="seconds; 0: the whole run")
    p.add_argument("--wedge", action="store_true")
    a = p.parse_args()
    import properspin as ps
    from properspin.models import wannier90_run

    model = wannier90_run(RUN, symmetrize=a.wedge)
    resp = ps.responses.get("conventional_spin", method="qiao", broadening=0.1)
    engine = ps.Engine(workers=a.workers)
    ps.conductivity(model, resp, fermi=18.3823, mesh=ps.mesh.grid(2), engine=ps.Engine(workers=1))  # warm-up
    mesh = ps.mesh.grid(a.n, symmetry=f"{RUN}.win" if a.wedge else None)
    size = ps.mesh.resolve(mesh, model, resp).size
    print(f"Pt {model.nbands} bands, Qiao η = 0.1 eV, grid {a.n}³ ({'wedge, ' if a.wedge else ''}{size} k-points), "
          f"{a.workers} worker(s), chunk {engine.chunk_size}; load {os.getloadavg()[0]:.1f}", flush=True)
    if a.stop_after:
        signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError))
        signal.setitimer(signal.ITIMER_REAL, a.stop_after)
    t0, c0, done = time.perf_counter(), time.process_time(), True
    with ChildPeaks() as kids:
        try:
            r = ps.conductivity(model, resp, fermi=18.3823, mesh=mesh, engine=engine)
        except TimeoutError:
            done = False
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    wall = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    what = (f"σ^z_xy = {ps.results.convert(r, '(hbar/e) S/cm').sel(spin='z', current='x', field='y').item():.2f} "
            "(ħ/e) S/cm" if done else f"PARTIAL run: stopped after {a.stop_after:g} s (--stop-after)")
    print(f"{what}; wall {wall:.1f} s, parent CPU {time.process_time() - c0:.1f} s; load {os.getloadavg()[0]:.1f}")
    peaks = sorted(kids.peaks.values(), reverse=True)
    if peaks:
        print(f"peak RSS per worker process: {', '.join(f'{x:.0f} MB' for x in peaks)} (max {peaks[0]:.0f} MB); "
              f"parent {own:.0f} MB")
    else:
        print(f"peak RSS of the (single) worker = this process: {own:.0f} MB")
    print(f"within 1 GB per worker: {'yes' if max(peaks + [own]) < 1024 else 'NO'}")
    print(peak_rss_line())


if __name__ == "__main__":
    main()
