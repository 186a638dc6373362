"""bcc Fe from a real Wannier90 ``_tb.dat``: Fermi level, anomalous Hall and spin Hall conductivities.

Usage::

    python examples/fe_anomalous_hall.py                          # default sizes (~10 min on 2 cores)
    python examples/fe_anomalous_hall.py --grids 50 80 100 150 --adaptive 60 --spin-grid 80

Reads ``../shared/data/Fe_tb.dat`` (or ``--file``), finds E_F from 8 electrons per cell, then prints
σ_xy (S/cm) on increasing uniform grids, with adaptive refinement, with and without the Wannier position
term, and the conventional and proper spin Hall conductivities σ^z_xy, each with its wall time and whether it is
converged (the last two uniform grids within 2 %; single-mesh numbers say they are not).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import properspin as ps
from properspin.adaptive import adaptive_conductivity
from properspin.filling import fermi_level
from properspin.models.wannier import wannier90

DEFAULT_FILE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "Fe_tb.dat"


def timed(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call ``func`` and return (result, seconds)."""
    t0 = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - t0


def sxy(res: Any) -> float:
    """σ_xy in S/cm from a charge result (S/m)."""
    return float(res.sel(current="x", field="y")[0]) / 100


def spin_z_xy(res: Any) -> float:
    """σ^z_xy in (ħ/2e) S/m from a spin result."""
    return float(res.sel(spin="z", current="x", field="y")[0])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--file", type=Path, default=DEFAULT_FILE, help="Wannier90 _tb.dat of bcc Fe")
    p.add_argument("--fermi-grid", type=int, default=40, help="grid for the Fermi level (n³)")
    p.add_argument("--grids", type=int, nargs="+", default=[30, 50, 80], help="uniform grids for σ_xy")
    p.add_argument("--no-position-grid", type=int, default=50, help="grid for the use_position=False comparison")
    p.add_argument("--adaptive", type=int, default=40, help="base grid of the adaptive σ_xy (0: skip)")
    p.add_argument("--refine", type=int, default=3, help="adaptive sub-grid per flagged point (refine³)")
    p.add_argument("--threshold", type=float, default=5.0, help="adaptive threshold relative to the mean")
    p.add_argument("--spin-grid", type=int, default=40, help="grid for the spin Hall conductivities (0: skip)")
    args = p.parse_args(argv)
    if not args.file.is_file():
        raise SystemExit(f"{args.file} not found: pass --file path/to/Fe_tb.dat")

    model = wannier90(args.file, spinor_order="interleaved", use_position=True)
    ef, t = timed(fermi_level, model, 8.0, ps.mesh.grid(args.fermi_grid))
    print(f"E_F = {ef:.4f} eV  (8 electrons, {args.fermi_grid}^3 grid, {t:.1f} s)\n")
    rows: list[tuple[str, str, float, float]] = []

    for n in args.grids:
        res, t = timed(ps.conductivity, model, "charge", fermi=ef, mesh=ps.mesh.grid(n))
        rows.append((f"sigma_xy uniform {n}^3", "S/cm", sxy(res), t))
        print(*rows[-1], flush=True)
    if args.no_position_grid:
        tb = wannier90(args.file, spinor_order="interleaved", use_position=False)
        n = args.no_position_grid
        res, t = timed(ps.conductivity, tb, "charge", fermi=ef, mesh=ps.mesh.grid(n))
        rows.append((f"sigma_xy uniform {n}^3, use_position=False", "S/cm", sxy(res), t))
        print(*rows[-1], flush=True)
    if args.adaptive:
        res, t = timed(adaptive_conductivity, model, "charge", fermi=ef, n=args.adaptive, refine=args.refine,
                       threshold=args.threshold)
        a = res.attrs
        label = (f"sigma_xy adaptive {args.adaptive}^3 + {a['adaptive_refined_points']} pts x {args.refine}^3 "
                 f"({a['adaptive_total_points']} k, change {a['adaptive_error_estimate'] / 100:.1f} S/cm)")
        rows.append((label, "S/cm", sxy(res), t))
        print(*rows[-1], flush=True)
    if args.spin_grid:
        n = args.spin_grid
        for response in ("conventional_spin", "proper_spin"):
            res, t = timed(ps.conductivity, model, response, fermi=ef, mesh=ps.mesh.grid(n))
            value = spin_z_xy(res)
            rows.append((f"{response} sigma^z_xy {n}^3", "(hbar/2e) S/m", value, t))
            rows.append((f"{response} sigma^z_xy {n}^3", "(hbar/e) S/cm", value * 0.5e-2, t))
            print(*rows[-2], flush=True)

    print("\n| quantity | units | value | time (s) | converged? |\n|---|---|---|---|---|")
    status = verdicts(rows, args.grids)
    for (label, unit, value, t), note in zip(rows, status, strict=True):
        print(f"| {label} | {unit} | {value:.6g} | {t:.1f} | {note} |")


#: the uniform-grid σ_xy is called converged when its last two grids agree to this fraction
TOLERANCE = 0.02


def verdicts(rows: list[tuple[str, str, float, float]], grids: list[int]) -> list[str]:
    """A word per row: uniform σ_xy rows against the change between the last two grids (``TOLERANCE``); every
    single-grid number (spin Hall, use_position=False, adaptive) is marked as one mesh, not converged."""
    uniform = [v for label, _, v, _ in rows if label.startswith("sigma_xy uniform") and "False" not in label]
    out = []
    for label, *_ in rows:
        if label.startswith("sigma_xy uniform") and "False" not in label and len(uniform) > 1:
            change = abs(uniform[-1] - uniform[-2]) / max(abs(uniform[-1]), 1e-300)
            out.append(("converged" if change <= TOLERANCE else "not converged")
                       + f" (last two grids {grids[-2]}³/{grids[-1]}³ differ by {100 * change:.1f} %)")
        else:
            out.append("one mesh: not converged (examples/fe_proper_convergence.py converges the spin Hall "
                       "values; docs/physics.md)" if "spin" in label else "one mesh: not a converged value")
    return out


if __name__ == "__main__":
    main()
