"""fcc Pt (native Wannier90 run): proper spin Hall conductivity σ^z_xy against grid, block tolerance and dephasing.

Usage::

    python examples/pt_proper_convergence.py --grids 20 30 --tols 1e-6 1e-3 1e-2 0.05 --etas 0
    python examples/pt_proper_convergence.py --grids 40 60 80 --tols 0.05 --etas 0 0.01 0.1
    python examples/pt_proper_convergence.py --conventional 20 40 --methods simple qiao

Pt is Kramers-degenerate (inversion × time reversal), but its Wannier interpolation splits the pairs by up to
~40 meV between the 4³ ab-initio k-points: a pair counts as a degenerate block (block-trace form of Eq. (2),
conventions §3) only when its splitting is below ``degeneracy_tol``, so the tolerance is a parameter of the
result.  Each row is one :func:`properspin.conductivity` call on ``grid(n)`` (compiled kernel, ``Engine(workers)``)
with the occupation split (both parts and their sum) and the dephasing weight Δ²/(Δ² + η²) on occupied–occupied
pairs, in (ħ/e) S/cm at E_F (default: Pt.win's fermi_energy); ``mean3`` is the mean of the three components
σ^z_xy, σ^x_yz, σ^y_zx (equal in a cubic crystal) and ``spread3`` their largest difference from it (a measure of
the interpolation's symmetry breaking).  ``--conventional`` adds the conventional (Kubo) σ^z_xy with
``--methods`` (``simple``: ½{s, v} inside the Wannier bands; ``qiao``: the ab-initio spin current) and
broadening ``--broadening``.  Rows are printed as JSON lines and, with ``--json``, appended to a file; each says
whether it is converged (within 2 % of the previous grid of the same setting; one grid alone is not).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import properspin as ps
from properspin.models import wannier90_run

DEFAULT_RUN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "wannier90" / "Pt" / "Pt"
HBAR_E_S_PER_CM = 0.5e-2  # (ħ/2e) S/m → (ħ/e) S/cm
CYCLIC = (("z", "x", "y"), ("x", "y", "z"), ("y", "z", "x"))


#: Relative change between the two finest grids of one setting under which a value is called converged.
RTOL = 0.02


def convergence(seen: dict, key: tuple, n: int, value: float) -> str:
    """Whether ``value`` on ``grid(n)`` is converged: compared with the previous grid of the same setting ``key``
    (``seen`` keeps the last (n, value) per setting); one grid alone is not converged."""
    prev = seen.get(key)
    seen[key] = (n, value)
    if prev is None:
        return "not converged (one grid: add a finer one to --grids)"
    n0, v0 = prev
    diff = abs(value - v0) / max(abs(value), abs(v0), 1e-300)
    return f"{'converged' if diff <= RTOL else 'not converged'} ({n0}³ → {n}³: {100 * diff:.1f} % change)"


def values(res) -> dict:
    """σ^z_xy (per part and total), the mean of the three cyclic components and their spread, (ħ/e) S/cm."""
    out = {}
    tot = res.sum("part") if "part" in res.dims else res
    if "part" in res.dims:
        for part in res.part.values:
            out[str(part)] = round(float(res.sel(part=part, spin="z", current="x", field="y")[0]) * HBAR_E_S_PER_CM, 2)
    comps = [float(tot.sel(spin=s, current=i, field=j)[0]) * HBAR_E_S_PER_CM for s, i, j in CYCLIC]
    mean = sum(comps) / 3
    out.update(total=round(comps[0], 2), mean3=round(mean, 2), spread3=round(max(abs(c - mean) for c in comps), 2))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, default=DEFAULT_RUN, help="seedname of the Wannier90 run")
    p.add_argument("--fermi", type=float, default=None, help="E_F (eV); default: fermi_energy of the .win")
    p.add_argument("--grids", type=int, nargs="*", default=[20])
    p.add_argument("--tols", type=float, nargs="*", default=[0.05], help="degeneracy_tol (eV): block tolerance")
    p.add_argument("--etas", type=float, nargs="*", default=[0.0], help="dephasing η (eV)")
    p.add_argument("--conventional", type=int, nargs="*", default=[], help="grids for the conventional σ^z_xy")
    p.add_argument("--methods", nargs="*", default=["simple", "qiao"])
    p.add_argument("--broadening", type=float, nargs="*", default=[0.1], help="η of the conventional term (eV)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="append each row as a JSON line")
    a = p.parse_args(argv)

    model = wannier90_run(a.run)
    fermi = [a.fermi if a.fermi is not None else model.info["postw90"]["fermi_energies"][0]]
    engine = ps.Engine(workers=a.workers)

    seen: dict = {}

    def emit(r: dict) -> None:
        key = (r["run"], r.get("tol"), r.get("eta"), r.get("broadening"))
        r["converged"] = convergence(seen, key, r["n"], r["total"])
        print(json.dumps(r, ensure_ascii=False), flush=True)
        if a.json:
            with open(a.json, "a") as fh:
                fh.write(json.dumps(r) + "\n")

    for n in a.grids:
        for tol in a.tols:
            for eta in a.etas:
                resp = ps.responses.get("proper_spin", occupation_split=True, dephasing=eta)
                t = time.perf_counter()
                res = ps.conductivity(model, resp, fermi=fermi, mesh=ps.mesh.grid(n), degeneracy_tol=tol,
                                      engine=engine)
                emit({"run": "proper", "n": n, "tol": tol, "eta": eta, "fermi": fermi[0], **values(res),
                      "degenerate_kpoints": res.attrs["degenerate_kpoints"],
                      "seconds": round(time.perf_counter() - t, 1)})
    for n in a.conventional:
        for method in a.methods:
            for eta in a.broadening:
                resp = ps.responses.get("conventional_spin", method=method, broadening=eta)
                t = time.perf_counter()
                res = ps.conductivity(model, resp, fermi=fermi, mesh=ps.mesh.grid(n), degeneracy_tol=1e-6,
                                      engine=engine)
                emit({"run": f"conventional {method}", "n": n, "broadening": eta, "fermi": fermi[0], **values(res),
                      "seconds": round(time.perf_counter() - t, 1)})


if __name__ == "__main__":
    main()
