"""bcc Fe: convergence of the proper spin Hall conductivity σ^z_xy with the grid and the dephasing η.

Usage::

    python examples/fe_proper_convergence.py --grids 32 48 64 --etas 0 0.001 0.005 0.025
    python examples/fe_proper_convergence.py --split 32 48 --adaptive 32 --gap 0.1 --iterations 2

Each row is one call of :func:`properspin.conductivity` (``Engine(workers=...)``) on ``grid(n)``: the proper
σ^z_xy at E_F (default 17.691 eV, 8 electrons per cell, docs/wannier-fe.md) in (ħ/e) S/cm, with the
dephasing weight Δ²/(Δ² + η²) on occupied–occupied pairs (η = 0: the clean result, compiled kernel);
``--split`` adds the occupied–empty / occupied–occupied parts (η = 0), ``--adaptive`` a base grid refined
where the smallest occupied–occupied gap is below ``--gap`` (eV).  Rows are printed as they finish and, with
``--json``, appended to a file.  Each row says whether it is converged: within 2 % of the previous grid of the
same setting (one grid alone is not).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import properspin as ps
from properspin.models.wannier import wannier90

DEFAULT_FILE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "Fe_tb.dat"
HBAR_E_S_PER_CM = 0.5e-2  # (ħ/2e) S/m → (ħ/e) S/cm


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


def row(label: str, res, seconds: float, **extra) -> dict:
    zxy = res.sel(spin="z", current="x", field="y")
    out = {"run": label, "seconds": round(seconds, 1), "kpoints": int(res.attrs.get("adaptive_total_points", 0))
           or int(res.attrs.get("mesh_size", 0)), **extra}
    if "part" in zxy.dims:
        for part in zxy.part.values:
            out[str(part)] = float(zxy.sel(part=part)[0]) * HBAR_E_S_PER_CM
        out["total"] = float(zxy.sum("part")[0]) * HBAR_E_S_PER_CM
    else:
        out["total"] = float(zxy[0]) * HBAR_E_S_PER_CM
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--file", type=Path, default=DEFAULT_FILE)
    p.add_argument("--fermi", type=float, default=17.691, help="E_F (eV)")
    p.add_argument("--grids", type=int, nargs="*", default=[32, 48])
    p.add_argument("--etas", type=float, nargs="*", default=[0.0, 0.005, 0.025], help="dephasing η (eV)")
    p.add_argument("--split", type=int, nargs="*", default=[], help="grids for the occupation split (η = 0)")
    p.add_argument("--adaptive", type=int, nargs="*", default=[], help="base grids for gap-driven refinement")
    p.add_argument("--gap", type=float, default=0.1, help="occupied–occupied gap (eV) that triggers refinement")
    p.add_argument("--refine", type=int, default=3)
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--neighbours", action="store_true", help="also refine the neighbours of flagged base points")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="append each row as a JSON line")
    a = p.parse_args(argv)

    model = wannier90(a.file, spinor_order="interleaved", use_position=True)
    engine = ps.Engine(workers=a.workers)
    fermi = [a.fermi]

    seen: dict = {}

    def emit(r: dict) -> None:
        key = (r["run"].split()[0], r.get("eta"), r.get("gap"))  # grid / split / adaptive, same η and gap
        r["converged"] = convergence(seen, key, r["n"], r["total"])
        print(json.dumps(r, ensure_ascii=False), flush=True)
        if a.json:
            with open(a.json, "a") as fh:
                fh.write(json.dumps(r) + "\n")

    for n in a.grids:
        for eta in a.etas:
            resp = ps.responses.get("proper_spin", dephasing=eta)
            t = time.perf_counter()
            res = ps.conductivity(model, resp, fermi=fermi, mesh=ps.mesh.grid(n), engine=engine)
            emit(row(f"grid {n}", res, time.perf_counter() - t, n=n, eta=eta))
    for n in a.split:
        resp = ps.responses.get("proper_spin", occupation_split=True)
        t = time.perf_counter()
        res = ps.conductivity(model, resp, fermi=fermi, mesh=ps.mesh.grid(n), engine=engine)
        emit(row(f"split {n}", res, time.perf_counter() - t, n=n, eta=0.0))
    for n in a.adaptive:
        for eta in a.etas:
            resp = ps.responses.get("proper_spin", dephasing=eta)
            t = time.perf_counter()
            res = ps.adaptive_conductivity(model, resp, fermi=fermi, n=n, refine=a.refine,
                                           max_iterations=a.iterations, gap=a.gap, neighbours=a.neighbours,
                                           engine=engine)
            emit(row(f"adaptive {n}", res, time.perf_counter() - t, n=n, eta=eta, gap=a.gap,
                     refined=int(res.attrs["adaptive_refined_points"])))


if __name__ == "__main__":
    main()
