"""Proper spin with and without degenerate blocks: compiled kernel and numpy path ÷ bare batched eigh (issue 10).

For bcc Fe (``../shared/data/Fe_tb.dat``, 18 bands, position term) and fcc Pt (the native Wannier90 run
``../shared/data/wannier90/Pt``, 18 bands, k-dependent spin S(k) from ``.spn``) prints, per case, the time of

* bare eigh: H(k) and ``numpy.linalg.eigh`` on the same k-points (the floor of bench_eigh_ratio.py);
* the full ``conductivity`` call (serial engine, compiled kernel);
* the numpy chunk path on the same k-points (``properspin.chunk.numpy_chunk``, what ran before the kernel
  stages of issue 10);

and the ratios to eigh.  Cases: Fe with ``degeneracy_tol`` = 1e-6 eV (no block: Eq. (2)), Fe with 0.05 eV (blocks
at most k-points: the block-trace stage), Fe with the occupation split and a dephasing η, Pt with 1e-2 eV (its
Kramers pairs, split by ≤ 37 meV in the interpolation, form blocks) and Pt with 1e-6 eV; then Pt's conventional
term with the simple and the Qiao spin current.  Interleaved rounds (min–max of the per-round ratios), the load
average and the process's peak RSS are printed; times are CPU times (``process_time``, serial engine in this
process), less sensitive than wall time to other jobs on a shared machine.
Usage: ``python benchmarks/bench_block_trace.py [--nk 27000] [--nfermi 100] [--rounds 3] [--only Pt] [--data D]``.
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
from properspin import chunk, geometry, mesh
from properspin.sweep import Sweep

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"




def full(model, m, response, fermi, tol, step) -> float:
    t = time.process_time()
    ps.conductivity(model, response, fermi=fermi, mesh=m, degeneracy_tol=tol,
                    engine=ps.Engine(chunk_size=step, workers=1))
    return time.process_time() - t


def numpy_path(model, m, response, fermi, tol, step) -> float:
    sweeps = (Sweep(np.asarray(fermi), 0.0),)
    t = time.process_time()
    for start in range(0, m.size, step):
        k, w = m.points(model, start, min(m.size, start + step))
        chunk.numpy_chunk(model, response, k, w, sweeps, tol)
    return time.process_time() - t


def case(label, model, m, response, fermi, tol, step=2000, rounds=1) -> None:
    warm = mesh.resolve(mesh.grid(3), model)
    full(model, warm, response, fermi, tol, step)  # compiled kernel loaded from numba's cache
    k, _ = m.points(model, 0, min(m.size, 4000))
    blocks = geometry.degenerate_kpoints(geometry.BandGeometry(model.energies(k), np.zeros((3, len(k), 1, 1)),
                                                               None, None, tol)).mean()
    te, tf, tn = [], [], []
    load0 = os.getloadavg()[0]
    with threadpool_limits(1):
        for _ in range(rounds):  # interleaved
            te.append(bare_eigh(model, m, step))
            tf.append(full(model, m, response, fermi, tol, step))
            tn.append(numpy_path(model, m, response, fermi, tol, step))
    te, tf, tn = np.array(te), np.array(tf), np.array(tn)
    print(f"{label}: {m.size} k, {len(fermi)} E_F, degeneracy_tol {tol:g} eV, k-points with a block "
          f"{100 * blocks:.0f} %, params {dict((key, v) for key, v in response.params.items() if key != 'regulator')}"
          f"; {rounds} round(s), load average {load0:.2f} → {os.getloadavg()[0]:.2f}")
    print(f"  bare eigh {te.min():7.2f} s | kernel {tf.min():7.2f} s  ratio {np.min(tf / te):5.2f}–"
          f"{np.max(tf / te):.2f} | numpy path {tn.min():7.2f} s  ratio {np.min(tn / te):5.2f}–"
          f"{np.max(tn / te):.2f} | numpy/kernel "
          f"{np.min(tn / tf):5.1f}–{np.max(tn / tf):.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nk", type=int, default=27_000)
    p.add_argument("--nfermi", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of eigh, kernel, numpy path")
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    p.add_argument("--only", default="", help="run only the cases whose label contains this text")
    a = p.parse_args()

    def run(label: str, *args) -> None:  # noqa: ANN002 - the arguments of case()
        if a.only in label:
            case(label, *args, rounds=a.rounds)

    n = round(a.nk ** (1 / 3))
    proper = ps.responses.get("proper_spin")
    fe_file = a.data / "Fe_tb.dat"
    if fe_file.exists():
        from properspin.models.wannier import wannier90

        fe = wannier90(fe_file, spinor_order="interleaved")
        m = mesh.resolve(mesh.grid(n), fe)
        fermi = np.linspace(17.2, 18.2, a.nfermi)
        run("Fe, Eq. (2), no block", fe, m, proper, fermi, 1e-6)
        run("Fe, block trace", fe, m, proper, fermi, 0.05)
        run("Fe, occupation split + dephasing", fe, m,
            ps.responses.get("proper_spin", occupation_split=True, dephasing=0.025), fermi, 1e-6)
    else:
        print(f"Fe cases skipped: {fe_file} not found")
    pt_seed = a.data / "wannier90" / "Pt" / "Pt"
    if pt_seed.with_suffix(".win").exists():
        from properspin.models import wannier90_run

        pt = wannier90_run(pt_seed)
        m = mesh.resolve(mesh.grid(n), pt)
        fermi = np.linspace(17.9, 18.9, a.nfermi)
        run("Pt (S(k)), block trace", pt, m, proper, fermi, 1e-2)
        run("Pt (S(k)), Eq. (2)", pt, m, proper, fermi, 1e-6)
        run("Pt (S(k)), conventional", pt, m, ps.responses.get("conventional_spin"), fermi, 1e-6)
        run("Pt, conventional, Qiao η → 0", pt, m, ps.responses.get("conventional_spin", method="qiao"), fermi, 1e-5)
    else:
        print(f"Pt cases skipped: {pt_seed}.win not found")


if __name__ == "__main__":
    main()
    print(f"peak RSS of this process (one serial worker): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
