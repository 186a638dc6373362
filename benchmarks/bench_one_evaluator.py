"""One evaluator per native Wannier90 run (issue 23 item 4): time saved by one phase computation for every operator.

A run's H, ∂H, A^W and its S(k), SH, SR, SHR (Qiao et al.) were summed by two evaluators over the same R set (two
phase computations per batch of k); they are now views of one :class:`~properspin.models.wannier.fourier.
WannierSums`.  On fcc Pt (``../shared/data/wannier90/Pt/Pt``) this prints, on a Γ-centred n³ grid at
E_F = 18.3823 eV, serial engine, one BLAS thread, CPU time (``process_time``) in ``--rounds`` interleaved rounds:

* ``proper_spin`` (the dense S(k) of ``.spn`` in Eq. 2) and ``conventional_spin`` with ``method="qiao"``,
  each with the model as read (one evaluator) and with S, SH, SR, SHR moved to a second evaluator (as before),
  on the grid (where the Fourier sums run along lines of b₃, cheap) and on as many random k-points (an explicit
  mesh, as adaptive refinement makes: the full phase matrix per batch);
* the ratio before ÷ after per round (min–max), the largest relative difference of the values, the load average.

Usage: ``python benchmarks/bench_one_evaluator.py [--n 12] [--rounds 3] [--data ../shared/data]``.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import properspin as ps
from properspin import mesh
from properspin.models.wannier.fourier import WannierSums
from properspin.models.wannier.hamiltonian import fold_ws_shifts
from properspin.models.wannier.run import QIAO_D_TOL, QiaoSpinCurrent, read_wannier90_run

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FERMI = 18.3823


def two_evaluators(run, model: ps.Model) -> ps.Model:
    """The model as it was built before: S, SH, SR, SHR summed by a second evaluator over the run's R set."""
    blocks = [run.spin_R, run.shc_R["SH"], run.shc_R["SR"], run.shc_R["SHR"]]
    if run.ws_table is None:
        rvec, folded = run.irvec, [b / run.ndegen.reshape((-1,) + (1,) * (b.ndim - 1)) for b in blocks]
    else:
        rvec, folded = fold_ws_shifts(run.irvec, run.ndegen, blocks, run.ws_table, "use_ws_distance", run.seedname)
    nr, n, lat = len(rvec), run.num_wann, run.chk.real_lattice
    sums = WannierSums(rvec @ lat, {"s": folded[0], "sh": folded[1], "sr": folded[2].reshape(nr, 9, n, n),
                                    "shr": folded[3].reshape(nr, 9, n, n)}, lattice=lat)
    return replace(model, spin_k=sums.function("s"),
                   spin_current=QiaoSpinCurrent(sums, run.options.get("spin_current_tol", QIAO_D_TOL)))


def timed(model: ps.Model, response, m: mesh.Mesh) -> tuple[float, np.ndarray]:
    t = time.process_time()
    res = ps.conductivity(model, response, fermi=[FERMI], mesh=m, engine=ps.Engine(workers=1))
    return time.process_time() - t, res.values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    seed = args.data / "wannier90" / "Pt" / "Pt"
    if not (seed.parent / "Pt.win").is_file():
        raise SystemExit(f"no Pt run at {seed} (see ../shared/data/README)")
    print(f"load before: {os.getloadavg()}")
    run = read_wannier90_run(seed)
    after = run.model()
    before = two_evaluators(run, after)
    grid = mesh.grid(args.n)
    k = np.random.default_rng(0).random((args.n**3, 3)) @ after.reciprocal  # off-grid: no line sums
    scattered = mesh.explicit(k, np.full(len(k), float(np.prod(np.linalg.svd(after.reciprocal)[1])) / len(k)
                                         / (2 * np.pi) ** 3), periodic=True)
    qiao = ps.responses.get("conventional_spin", method="qiao", broadening=0.0)
    cases = {f"proper_spin, grid {args.n}^3": ("proper_spin", grid),
             f"conventional_spin qiao, grid {args.n}^3": (qiao, grid),
             f"proper_spin, {args.n}^3 random k": ("proper_spin", scattered),
             f"conventional_spin qiao, {args.n}^3 random k": (qiao, scattered)}
    with threadpool_limits(1):
        for label, (response, m) in cases.items():
            timed(after, response, mesh.grid(2))  # compile and warm up
            ratios, t_before, t_after, diff = [], [], [], 0.0
            for _ in range(args.rounds):
                tb, vb = timed(before, response, m)
                ta, va = timed(after, response, m)
                t_before.append(tb)
                t_after.append(ta)
                ratios.append(tb / ta)
                diff = max(diff, float(np.abs(va - vb).max() / max(np.abs(vb).max(), 1e-300)))
            print(f"Pt, {label}: two evaluators {min(t_before):.2f}-{max(t_before):.2f} s, one evaluator "
                  f"{min(t_after):.2f}-{max(t_after):.2f} s CPU; before/after {min(ratios):.3f}-{max(ratios):.3f}; "
                  f"max relative difference {diff:.1e}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
