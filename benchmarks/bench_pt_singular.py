"""fcc Pt, symmetrised model: the proper σ^z_xy at η = 0 by singular-point quadrature (issue 21).

Usage::

    python benchmarks/bench_pt_singular.py locate
    python benchmarks/bench_pt_singular.py sigma --grids 40 60 80 --radius 0.12 --orders 16 24 --etas 0 0.01
    python benchmarks/bench_pt_singular.py sigma --grids 40 --orders 12 --full     # no wedge: a ball per image
    python benchmarks/bench_pt_singular.py shells --radii 0.1 0.03 0.01 0.003 0.001

``locate`` finds the fourfold degeneracies of two Kramers pairs below E_F: the Γ8 quartets at Γ and the Dirac
points on Γ–X (Δ, C4v: Δ6 and Δ7 cross) and Γ–L (Λ, C3v: Λ6 and Λ4+Λ5), by scanning the lines for a vanishing
gap between consecutive Kramers pairs and refining it with a bounded 1D minimisation; a 3D scan (``--scan n``)
checks that every local minimum of the occupied pair gap on an n³ grid converges to one of them.  ``shells``
prints r²⟨I_oo⟩ (the occupied–occupied integrand of σ^z_xy averaged over a sphere of radius r around each point):
a constant as r → 0 means I_oo ∝ 1/r², integrable in 3D.  ``sigma`` evaluates
:func:`properspin.adaptive.singular_point_conductivity` (irreducible wedge of m-3m1', serial engine) and prints
one JSON line per (grid, order, η): σ^z_xy and its occupied–empty / occupied–occupied parts in (ħ/e) S/cm, the
cyclic spread and the largest forbidden component, points, wall time.  E_F = 18.3823 eV (Pt.win), T = 0.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from peer import emit
from scipy.optimize import minimize, minimize_scalar

import properspin as ps
from properspin.adaptive import singular_point_conductivity
from properspin.chunk import states
from properspin.models import wannier90_run

RUN = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "wannier90" / "Pt" / "Pt"
LINES = {"Gamma-X": (0.0, 0.0, 1.0), "Gamma-L": (0.5, 0.5, 0.5)}  # ends in units of 2π/a


def pair_gaps(model, k: np.ndarray, fermi: float) -> np.ndarray:
    """Gaps between consecutive Kramers pairs (N, n/2 − 1), inf unless the upper pair is below ``fermi``."""
    e = model.energies(np.atleast_2d(k))
    pe = 0.5 * (e[:, 0::2] + e[:, 1::2])
    return np.where(pe[:, 1:] <= fermi, np.diff(pe, axis=1), np.inf)


def locate(model, fermi: float, samples: int = 4001) -> list[dict]:
    """Fourfold points on Γ–X and Γ–L (refined) and at Γ."""
    tpa = np.linalg.norm(model.reciprocal[0]) / np.sqrt(3)  # 2π/a for fcc
    found = [{"line": "Gamma", "k": [0.0, 0.0, 0.0], "pairs": [int(i) for i in
                                                              np.flatnonzero(pair_gaps(model, np.zeros(3), fermi)[0]
                                                                             < 1e-8)], "gap_eV": 0.0}]
    for name, end in LINES.items():
        end = tpa * np.asarray(end)
        t = np.linspace(0, 1, samples)
        g = pair_gaps(model, t[:, None] * end, fermi)
        for i in range(g.shape[1]):
            for j in range(1, samples - 1):
                if g[j, i] < min(g[j - 1, i], g[j + 1, i]) and g[j, i] < 0.01:
                    r = minimize_scalar(lambda s, i=i, end=end: pair_gaps(model, s * end, fermi)[0, i],
                                        bounds=(t[j - 1], t[j + 1]), method="bounded", options={"xatol": 1e-13})
                    found.append({"line": name, "t": float(r.x), "k": (r.x * end).tolist(), "pairs": [i, i + 1],
                                  "gap_eV": float(r.fun)})
    return found


def scan(model, fermi: float, n: int) -> list[dict]:
    """Local minima (26 neighbours) below 80 meV of the smallest occupied pair gap on n³, each minimised in 3D."""
    f = np.stack(np.meshgrid(*[np.arange(n) / n] * 3, indexing="ij"), -1).reshape(-1, 3)
    k = f @ model.reciprocal
    gap = np.concatenate([pair_gaps(model, k[s : s + 5000], fermi).min(1) for s in range(0, len(k), 5000)])
    gap = gap.reshape(n, n, n)
    loc = np.ones_like(gap, dtype=bool)
    for sh in np.ndindex(3, 3, 3):
        if sh != (1, 1, 1):
            loc &= gap <= np.roll(gap, np.array(sh) - 1, axis=(0, 1, 2))
    out = []
    for idx in np.argwhere(loc & (gap < 0.08)):
        r = minimize(lambda x: pair_gaps(model, x, fermi).min(), (idx / n) @ model.reciprocal, method="Nelder-Mead",
                     options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
        out.append({"start_gap_eV": float(gap[tuple(idx)]), "min_gap_eV": float(r.fun),
                    "abs_k_sorted_2pi_over_a": np.round(np.sort(np.abs(r.x)) / (np.linalg.norm(
                        model.reciprocal[0]) / np.sqrt(3)), 4).tolist()})
    return out


def random_check(model, fermi: float, points: list[dict], count: int, gap: float = 0.03, away: float = 0.04,
                 seed: int = 1) -> list[dict]:
    """``count`` random k: those with an occupied pair gap below ``gap`` farther than ``away`` (Å⁻¹) from every image
    of the located points, minimised in 3D (up to 40, smallest first): where does each end?"""
    from properspin.adaptive import _nearest_image, singular_stars
    from properspin.symmetry import group_for

    images = singular_stars(np.array([p["k"] for p in points]), model.reciprocal, group_for(model, f"{RUN}.win"))[2]
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(max(1, count // 50000)):
        k = rng.random((50000, 3)) @ model.reciprocal
        g = pair_gaps(model, k, fermi).min(1)
        k, g = k[g < gap], g[g < gap]
        far = np.min([_nearest_image(k - p, model.reciprocal) for p in images], axis=0) > away if len(k) else []
        hits.extend(zip(g[far], k[far], strict=True))
    rows = [{"random_points": count, "gap_below_eV": gap, "farther_than_invA": away, "hits": len(hits)}]
    for g, k in sorted(hits, key=lambda t: t[0])[:40]:
        r = minimize(lambda x: pair_gaps(model, x, fermi).min(), k, method="Nelder-Mead",
                     options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 3000})
        dist = min(_nearest_image(r.x[None] - p, model.reciprocal)[0] for p in images)
        rows.append({"start_gap_eV": float(g), "min_gap_eV": float(r.fun), "distance_to_located_invA": float(dist)})
    return rows


def shells(model, fermi: float, points: list[dict], radii: list[float], ndir: int = 400) -> list[dict]:
    """r²⟨I_oo⟩ and r²⟨|I_oo|⟩ of σ^z_xy ((ħ/e) S/cm · Å⁻² per unit k-volume/(2π)³) on spheres around each point."""
    resp = ps.responses.get("proper_spin", occupation_split=True)
    coords = resp.coords(3)
    comp = [int(np.ravel_multi_index([coords[d].index(v) for d, v in zip(coords, (p, "z", "x", "y"), strict=True)],
                                     [len(c) for c in coords.values()])) for p in coords["part"]]
    z = 1 - 2 * (np.arange(ndir) + 0.5) / ndir
    th = np.pi * (3 - 5**0.5) * np.arange(ndir)
    dirs = np.c_[np.sqrt(1 - z * z) * np.cos(th), np.sqrt(1 - z * z) * np.sin(th), z]
    rows = []
    for p in points:
        for r in radii:
            g, q = states(model, resp, np.asarray(p["k"]) + r * dirs, 1e-8)
            occ = (g.energies <= fermi).astype(float)
            i_oo = 0.005 * resp.factor(3) * np.einsum("km,km->k", occ, q[comp[1]])  # native → (ħ/e) S/cm
            gaps = np.diff(0.5 * (g.energies[:, 0::2] + g.energies[:, 1::2]), axis=1)  # between Kramers pairs
            close = gaps[:, np.argmin(gaps.min(axis=0))]  # the pair gap that closes at the point
            rows.append({"point": p["line"], "k": np.round(p["k"], 6).tolist(), "r": r,
                         "pair_gap_min_max_eV": [float(f"{close.min():.4g}"), float(f"{close.max():.4g}")],
                         "r2_mean_I_oo": float(f"{r * r * i_oo.mean():.5g}"),
                         "r2_mean_abs_I_oo": float(f"{r * r * np.abs(i_oo).mean():.5g}")})
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["locate", "shells", "sigma"])
    p.add_argument("--grids", type=int, nargs="*", default=[40])
    p.add_argument("--radius", type=float, default=0.12, help="ball radius (Å⁻¹)")
    p.add_argument("--orders", type=int, nargs="*", default=[16], help="radial = angular Gauss–Legendre points")
    p.add_argument("--etas", type=float, nargs="*", default=[0.0], help="dephasing η (eV) of occupied pairs")
    p.add_argument("--radii", type=float, nargs="*", default=[0.1, 0.03, 0.01, 0.003, 0.001, 1e-4])
    p.add_argument("--scan", type=int, default=0, help="also minimise the pair gap from the minima of an n³ scan")
    p.add_argument("--random", type=int, default=0, help="also minimise from random points with a small pair gap")
    p.add_argument("--full", action="store_true", help="full grid, a ball around every image (no wedge, no projector)")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    t = time.perf_counter()
    model = wannier90_run(RUN, symmetrize=True)
    fermi = model.info["postw90"]["fermi_energies"][0]
    points = locate(model, fermi)
    emit({"build_and_locate_seconds": round(time.perf_counter() - t, 1), "fermi_eV": fermi}, a.json)
    if a.what == "locate":
        for row in points:
            emit(row, a.json)
        for row in scan(model, fermi, a.scan) if a.scan else []:
            emit(row, a.json)
        for row in random_check(model, fermi, points, a.random) if a.random else []:
            emit(row, a.json)
        return
    if a.what == "shells":
        for row in shells(model, fermi, points, a.radii):
            emit(row, a.json)
        return
    from bench_pt_symmetrized import summary

    engine = ps.Engine(workers=1)
    reps = [row["k"] for row in points]
    if a.full:  # every image of the 5 representatives under m-3m1', each with its own ball
        from properspin.adaptive import singular_stars
        from properspin.symmetry import group_for

        reps = singular_stars(np.array(reps), model.reciprocal, group_for(model, f"{RUN}.win"))[2]
    for n in a.grids:
        for order in a.orders:
            for eta in a.etas:
                resp = ps.responses.get("proper_spin", dephasing=eta, occupation_split=True)
                t = time.perf_counter()
                res = singular_point_conductivity(model, resp, fermi=[fermi], n=n, points=reps, radius=a.radius,
                                                  radial=order, angular=order,
                                                  symmetry=None if a.full else f"{RUN}.win",
                                                  degeneracy_tol=1e-8, engine=engine)
                emit({"n": n, "radius": a.radius, "order": order, "eta": eta, "full": a.full, **summary(res),
                      "points": res.attrs["mesh_size"], "seconds": round(time.perf_counter() - t, 1)}, a.json)


if __name__ == "__main__":
    main()
