"""Full ``conductivity`` call ÷ bare batched ``numpy.linalg.eigh`` on the same k-points (issues 2, 5).

"eigh" is ``numpy.linalg.eigh`` (LAPACK zheevd), the floor the issue names; the time of properspin's own
small-matrix eigensolver (``properspin.eigen.eigh``, used by the kernel) on the same matrices is printed too.
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
from properspin import eigen, mesh

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def four_band() -> ps.Model:
    """BHZ lattice model with an exchange field: 4 bands, spin-mixed eigenstates."""
    return ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))


def bare_eigh(model: ps.Model, m: mesh.Mesh, chunk: int, solver=np.linalg.eigh) -> float:
    t = time.perf_counter()
    for start in range(0, m.size, chunk):
        k, _ = m.points(model, start, min(m.size, start + chunk))
        solver(model.hamiltonian(k))
    return time.perf_counter() - t


def full(model, m, response, nfermi, chunk, window=(-3, 3)) -> float:
    fermi = np.linspace(*window, nfermi)
    t = time.perf_counter()
    ps.conductivity(model, response, fermi=fermi, mesh=m, engine=ps.Engine(chunk_size=chunk, workers=1))
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nk", type=int, default=1_000_000)
    p.add_argument("--nfermi", type=int, default=1000)
    p.add_argument("--response", default="proper_spin")
    p.add_argument("--chunk", type=int, default=20_000)
    p.add_argument("--fe-nk", type=int, default=27_000, help="k-points of the Fe case (0: skip)")
    a = p.parse_args()
    model = four_band()
    n = round(a.nk ** 0.5)
    report("4-band", model, mesh.resolve(mesh.grid(n), model), a.response, a.nfermi, a.chunk, (-3, 3))
    fe = DATA / "Fe_tb.dat"
    if a.fe_nk and fe.exists():
        from properspin.models.wannier import wannier90

        fe_model = wannier90(fe, spinor_order="interleaved")
        nf = round(a.fe_nk ** (1 / 3))
        report("Fe 18-band (with positions)", fe_model, mesh.resolve(mesh.grid(nf), fe_model), a.response,
               a.nfermi, 2000, (15.0, 20.0))
    elif a.fe_nk:
        print(f"Fe case skipped: {fe} not found")


def report(label, model, m, response, nfermi, chunk, window) -> None:
    full(model, mesh.resolve(mesh.grid(4), model), response, 2, chunk, window)  # warm-up: compiled kernel cache
    with threadpool_limits(1):
        t_eigh = bare_eigh(model, m, chunk)
        t_own = bare_eigh(model, m, chunk, eigen.eigh)
    t_full = full(model, m, response, nfermi, chunk, window)
    t_one = full(model, m, response, 1, chunk, window)
    print(f"{label} {response}: {m.size} k-points, {nfermi} Fermi energies")
    print(f"  bare eigh (H(k) + numpy.linalg.eigh)       {t_eigh:8.2f} s")
    print(f"  bare properspin.eigen.eigh (H(k) + eigh)  {t_own:8.2f} s   ({t_own / t_eigh:.2f} of numpy's)")
    print(f"  full conductivity        {t_full:8.2f} s   ratio full/eigh {t_full / t_eigh:.2f} "
          f"(full/properspin eigh {t_full / t_own:.2f})")
    print(f"  1 Fermi energy           {t_one:8.2f} s   ratio {nfermi} E_F / 1 E_F = {t_full / t_one:.3f}")


if __name__ == "__main__":
    main()
