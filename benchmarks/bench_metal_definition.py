"""Cost of the conserved spin current in metals (docs/physics.md, "Metals: the definition with Fermi-surface
terms"): time of the metal routes as a ratio to the insulator routes and to a bare ``eigh`` on the same k-points.

``python benchmarks/bench_metal_definition.py [n]`` (grid n², default 60), serial engine, one thread; the ratios
are measured within one run.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

import properspin as ps
from properspin import mesh, models
from properspin.engine import Engine


def _time(func, repeat: int = 2) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def main(n: int) -> None:
    from tests.test_conserved import kane_mele, random_lattice

    rows = [("Kane–Mele + Rashba (4 bands)", kane_mele()), ("BHZ + Rashba 0.3 eV (4 bands)", models.bhz(1.0, 0.3)),
            ("random lattice (8 bands)", random_lattice(8, 3))]
    engine = Engine(workers=1)
    print(f"grid {n}², serial; times in s; ratios to a bare eigh of H(k) on the same k-points")
    print(f"{'model':32s} {'eigh':>7s} {'kubo(ins)':>10s} {'streda(ins)':>12s} {'metal r1':>9s} {'metal r2':>9s}"
          f" {'r1/kubo':>8s} {'r2/streda':>10s} {'r1/eigh':>8s} {'r2/eigh':>8s}")
    for label, model in rows:
        _row(label, model, n, engine)


def _row(label: str, model: ps.Model, n: int, engine: Engine) -> None:
    k, _ = mesh.resolve(mesh.grid(n), model).all_points(model)
    e = model.energies(k[:2000])
    ef_band = float(np.median(e[:, 1]))
    ef_gap = 0.5 * (e[:, model.nbands // 2 - 1].max() + e[:, model.nbands // 2].min())
    eigh = _time(lambda: np.linalg.eigh(model.h(k)))

    def run(name, ef, temperature):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ps.conductivity(model, name, fermi=[ef], mesh=mesh.grid(n), temperature=temperature, engine=engine)

    kubo = _time(lambda: run("conserved_spin_kubo", ef_gap, 0.0))
    streda = _time(lambda: run("conserved_spin_streda", ef_gap, 0.0))
    r1 = _time(lambda: run("conserved_spin_metal", ef_band, 300.0))
    r2 = _time(lambda: run("conserved_spin_streda_metal", ef_band, 300.0))
    print(f"{label:32s} {eigh:7.3f} {kubo:10.3f} {streda:12.3f} {r1:9.3f} {r2:9.3f} {r1 / kubo:8.2f}"
          f" {r2 / streda:10.2f} {r1 / eigh:8.1f} {r2 / eigh:8.1f}")

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
    from peer import peak_rss_line

    print(peak_rss_line())
