"""Orbital magnetisation against WannierBerri's ``Morb`` (issue 12): same ``_tb.dat``, same Γ-centred grid.

The model is the 3D stacked-Haldane lattice of ``bench_wannierberri.py`` (2 spinless bands, orbitals off the cell
origin, complex interlayer hoppings), written with ``write_tb``; properspin reads it back with its diagonal position
matrix (point orbitals) and WannierBerri with ``berry=True``. WannierBerri's ``Morb`` (Lopez et al. PRB 85, 014435,
Eq. 1; internal terms only, ``external_terms=False``: its convention I with the Wannier centres, the tight-binding
limit) is the moment per unit cell in μ_B; properspin's ``orbital_magnetization`` (A/m) is converted with the cell
volume. Both at T = 0, several Fermi energies in and between the bands (the modern-theory formula holds in metals).
WannierBerri runs in its own environment (default /work/peers/wb, or --python).

Usage: ``python benchmarks/bench_morb_wannierberri.py [--n 30] [--python /path/to/wb/bin/python]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from peer import run_worker

HERE = Path(__file__).resolve().parent


def wb_worker(spec: dict) -> dict:
    """Inside the WannierBerri environment: Morb at the Fermi energies, μ_B per cell, shape (nEf, 3)."""
    import numpy as np
    import wannierberri as wb
    from wannierberri.calculators import static

    system = wb.system.System_tb(tb_file=spec["file"], berry=True)
    grid = wb.Grid(system, NK=spec["n"], use_symmetry=False)
    if [int(x) for x in grid.dense] != [spec["n"]] * 3:
        raise SystemExit(f"WannierBerri chose a {list(grid.dense)} grid, not {spec['n']}^3")
    workdir = tempfile.mkdtemp(prefix="wb-morb-")
    os.chdir(workdir)
    t0 = time.perf_counter()
    # internal terms only: the sum over the Wannier manifold in WannierBerri's convention I (phases with the
    # centres) — the tight-binding (point-orbital) limit that properspin computes; B_R and C_R need .uHu files
    # one run per Fermi energy: WannierBerri 26.10 returns different Morb values for the higher Fermi energies
    # when one run gets several that span different bands (seen with this model; single runs agree with properspin)
    values = []
    for ef in spec["fermi"]:
        morb = static.Morb(Efermi=np.array([ef]), tetra=False, kwargs_formula={"external_terms": False})
        res = wb.run(system, grid=grid, calculators={"morb": morb},
                     adpt_num_iter=0, use_irred_kpt=False, symmetrize=False, parallel=False,
                     fout_name=os.path.join(workdir, "wb"), print_progress_step_time=1e9)
        values.append(np.asarray(res.results["morb"].data)[0].tolist())
    return {"morb": values, "t": time.perf_counter() - t0, "version": wb.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30, help="k-points per direction")
    ap.add_argument("--python", default="/work/peers/wb/bin/python", help="interpreter with wannierberri")
    ap.add_argument("--wb-worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.wb_worker:
        print("WBRESULT " + json.dumps(wb_worker(json.loads(a.wb_worker))))
        return

    import numpy as np
    from scipy import constants

    import properspin as ps
    from properspin.models.wannier import wannier90, write_tb

    sys.path.insert(0, str(HERE))
    from bench_wannierberri import lattice_model

    with tempfile.TemporaryDirectory() as tmp:
        tb = lattice_model()
        path = Path(tmp) / "stacked_haldane_tb.dat"
        write_tb(path, tb.to_wannier())
        model = wannier90(path, use_position=True)
        e = model.energies(np.random.default_rng(0).random((4000, 3)) @ model.reciprocal)
        gap = (e[:, 0].max(), e[:, 1].min())
        fermi = [float(np.round(x, 6)) for x in (np.quantile(e[:, 0], 0.5), np.quantile(e[:, 0], 0.9),
                                                 gap[0] + 0.2 * (gap[1] - gap[0]), gap[0] + 0.8 * (gap[1] - gap[0]),
                                                 np.quantile(e[:, 1], 0.3))]
        t0 = time.perf_counter()
        ours = ps.conductivity(model, "orbital_magnetization", fermi=fermi, mesh=ps.mesh.grid(a.n))
        t_ours = time.perf_counter() - t0
        cell = abs(np.linalg.det(np.linalg.inv(model.reciprocal / (2 * np.pi)))) * 1e-30  # m³
        ours_mub = ours.values * cell / constants.physical_constants["Bohr magneton"][0]  # (nEf, 3)
        spec = {"file": str(path), "n": a.n, "fermi": fermi}
        wb = run_worker(a.python, str(Path(__file__).resolve()), spec)
        theirs = np.asarray(wb["morb"])
    print(f"stacked Haldane {tb.parameters}, {a.n}^3 Γ-centred grid; bands {e[:, 0].min():.3f}..{e[:, 0].max():.3f}, "
          f"{e[:, 1].min():.3f}..{e[:, 1].max():.3f} eV")
    print(f"properspin {t_ours:.1f} s; WannierBerri {wb['version']} {wb['t']:.1f} s; moment per cell in μ_B")
    print(f"{'E_F (eV)':>10} {'comp':>4} {'properspin':>14} {'WannierBerri':>14} {'rel. diff':>10}")
    for i, ef in enumerate(fermi):
        for c, lab in enumerate("xyz"):
            o, t = ours_mub[i, c], theirs[i, c]
            rel = abs(o - t) / max(abs(t), 1e-300)
            print(f"{ef:10.4f} {lab:>4} {o:14.8g} {t:14.8g} {rel:10.2e}")


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
