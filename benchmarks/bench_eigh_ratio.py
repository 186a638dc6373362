"""Full ``conductivity`` call ÷ bare batched ``numpy.linalg.eigh`` on the same k-points (issues 2, 5).

Prints, for a 4-band model (10⁶ k-points, 1000 Fermi energies by default) and, when
``../shared/data/Fe_tb.dat`` is present, the 18-band Fe Wannier model, the time of each and the
ratio.  Usage: ``python benchmarks/bench_eigh_ratio.py [--nk 1000000] [--nfermi 1000] [--response charge]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import properspin as ps
from properspin import mesh

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def four_band() -> ps.Model:
    """BHZ lattice model with an exchange field: 4 bands, spin-mixed eigenstates."""
    return ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))


def bare_eigh(model: ps.Model, m: mesh.Mesh, chunk: int) -> float:
    t = time.perf_counter()
    for start in range(0, m.size, chunk):
        k, _ = m.points(model, start, min(m.size, start + chunk))
        np.linalg.eigh(model.hamiltonian(k))
    return time.perf_counter() - t


def full(model, m, response, nfermi, chunk, engine=None) -> float:
    fermi = np.linspace(-3, 3, nfermi)
    t = time.perf_counter()
    ps.conductivity(model, response, fermi=fermi, mesh=m, engine=engine or ps.Engine(chunk_size=chunk))
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nk", type=int, default=1_000_000)
    p.add_argument("--nfermi", type=int, default=1000)
    p.add_argument("--response", default="proper_spin")
    p.add_argument("--chunk", type=int, default=20_000)
    a = p.parse_args()
    model = four_band()
    n = round(a.nk ** 0.5)
    m = mesh.resolve(mesh.grid(n), model)
    with threadpool_limits(1):
        t_eigh = bare_eigh(model, m, a.chunk)
    t_full = full(model, m, a.response, a.nfermi, a.chunk)
    print(f"4-band {a.response}: {m.size} k-points, {a.nfermi} Fermi energies")
    print(f"  bare eigh (H(k) + eigh)  {t_eigh:8.2f} s")
    print(f"  full conductivity        {t_full:8.2f} s")
    print(f"  ratio full/eigh          {t_full / t_eigh:8.2f}")
    t_one = full(model, m, a.response, 1, a.chunk)
    print(f"  1 Fermi energy           {t_one:8.2f} s   ratio {a.nfermi} E_F / 1 E_F = {t_full / t_one:.3f}")


if __name__ == "__main__":
    main()
