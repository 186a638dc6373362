"""Eq. (2) against the definition (issue 12): the table of docs/physics.md, "Eq. (2) against the definition".

For lattice insulators, with E_F mid-gap, prints the conventional spin Hall conductivity, Eq. (1)–(2) with
degenerate pairs dropped (``proper_spin``, ``degenerate="exclude"``), Eq. (2) in the block-trace form of
conventions §3 (``proper_spin``'s default) next to an independent implementation of it written here (pairwise
blocks, numpy only: the two must agree), with a 1 meV exchange regulator where the bands are Kramers-degenerate,
and the two regulator-free routes from the definition 𝒥 = d(rs)/dt (``conserved_spin_kubo``,
``conserved_spin_streda``), each at two meshes to show convergence.  2D in e/8π (σ^z_yx), 3D in (ħ/2e) S/m (σ^y_zx).

Usage: ``python benchmarks/bench_conserved_definition.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import properspin as ps
from properspin import geometry as geo
from properspin import mesh, models, responses
from properspin.models.tight_binding import qwz_lattice

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_conserved import kane_mele, random_lattice  # noqa: E402  (the test models, same seeds)


# ---------------------------------------------------------------------------------------------- models
def bi2se3_lattice(a: float = 4.14, c: float = 9.55) -> ps.Model:
    """Minimal lattice regularisation of the Bi2Se3 model of conventions §5.1 on a tetragonal lattice (Å).

    k_i → [8 sin(k_i a_i) − sin(2k_i a_i)]/6a_i, k_i² → [15 − 16 cos(k_i a_i) + cos(2k_i a_i)]/6a_i² (exact to
    O(k⁴), first and second neighbours; the nearest-neighbour form 2(1 − cos k_z c)/c² nearly closes the gap at Z,
    M(Z) = +21 meV); Liu et al. (2010) parameters, A2 = B2 = 0.
    Inversion and time reversal: Kramers-degenerate everywhere.
    """
    p = {"A0": 3.33, "B0": 2.26, "C0": -0.0083, "C1": 5.74, "C2": 30.4, "M0": -0.28, "M1": 6.86, "M2": 44.5}
    sx, sy, sz = ps.PAULI
    tz = np.kron(sz, np.eye(2))
    gx, gy, gz = (np.kron(ps.PAULI[0], s) for s in (sx, sy, sz))  # τ_x ⊗ σ_i
    lat = np.array([a, a, c])

    def parts(k):  # fourth-order lattice forms of k and k² (first and second neighbours) and their derivatives
        x = k * lat
        s, q2 = (8 * np.sin(x) - np.sin(2 * x)) / (6 * lat), (15 - 16 * np.cos(x) + np.cos(2 * x)) / (6 * lat**2)
        ds, dq2 = (4 * np.cos(x) - np.cos(2 * x)) / 3, (8 * np.sin(x) - np.sin(2 * x)) / (3 * lat)
        return s, q2, ds, dq2

    def h(k):
        s, q2, _, _ = parts(k)
        kp2, kz2 = q2[:, 0] + q2[:, 1], q2[:, 2]
        eps = p["C0"] + p["C1"] * kz2 + p["C2"] * kp2
        m = p["M0"] + p["M1"] * kz2 + p["M2"] * kp2
        out = (eps[:, None, None] * np.eye(4) - m[:, None, None] * tz + p["B0"] * s[:, 2, None, None] * gz
               + p["A0"] * (s[:, 0, None, None] * gx + s[:, 1, None, None] * gy))
        return out

    def dh(k):
        _, _, ds, dq2 = parts(k)
        out = []
        for i, (cf, mf) in enumerate(((p["C2"], p["M2"]), (p["C2"], p["M2"]), (p["C1"], p["M1"]))):
            g = dq2[:, i, None, None] * (cf * np.eye(4) - mf * tz)
            g = g + ds[:, i, None, None] * (p["A0"] * (gx, gy)[i] if i < 2 else p["B0"] * gz)
            out.append(g)
        return np.stack(out)

    spin = np.stack([np.kron(np.eye(2), s) for s in ps.SPIN_HALF])
    return ps.Model(h, dh, spin, 3, reciprocal=np.diag(2 * np.pi / lat), name="Bi2Se3_lattice",
                    parameters={**p, "a_A": a, "c_A": c}, info={"lattice": "tetragonal, O(k^4), 2 neighbours"})


# ---------------------------------------------------------------------------------------------- block trace
def _block_trace(g: geo.BandGeometry, params) -> np.ndarray:
    """Eq. (2) in the block-trace form of conventions §3: s_nn → the projected spin P_α s P_α of block α."""
    e, v, s = g.energies, g.velocity, g.spin
    deg = np.abs(e[:, :, None] - e[:, None, :]) < g.degeneracy_tol
    inv = g.inverse_gap_squared()
    s_blk = np.where(deg[None], s, 0.0)
    out = []
    for a, b in geo._CYCLIC[g.dim]:
        x = np.einsum("kmn,lknp,kpm,kmn->lkm", v[a], s_blk, v[b], inv)  # Σ_{n,n'∈α} V^a_mn s_nn' V^b_n'm / Δ²
        out.append(-2 * x.imag)
    sigma = np.stack(out)  # (nc, 3, N, n)
    w = deg / deg.sum(-1, keepdims=True)
    sigma = np.einsum("kmn,clkn->clkm", w, sigma)
    return geo.levi_civita_contract(sigma, g.dim)


BLOCK_TRACE = responses.Response("eq2_block_trace", "spin", ("spin", "current", "field"), _block_trace,
                                 description="Eq. (2), block-trace form (conventions §3)")


# ---------------------------------------------------------------------------------------------- table
def mid_gap(model: ps.Model) -> tuple[float, float]:
    k = np.random.default_rng(0).random((40000, model.dim)) @ model.reciprocal
    e = model.energies(k)
    nb = model.nbands // 2
    return 0.5 * (e[:, nb - 1].max() + e[:, nb].min()), e[:, nb].min() - e[:, nb - 1].max()


def value(model, resp, ef, grid, comp):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ps.conductivity(model, resp, fermi=ef, mesh=mesh.grid(grid))
    return r.sel(**comp).item()


def row(label, model, grids, comp, regulators=(), fmt="{:.5g}"):
    ef, gap = mid_gap(model)
    cols = {"conventional": "conventional_spin",
            "Eq.(2) exclude": responses.get("proper_spin", degenerate="exclude"),
            "Eq.(2) block-trace": "proper_spin", "block-trace (here)": BLOCK_TRACE,
            "definition Kubo": "conserved_spin_kubo", "definition Středa": "conserved_spin_streda"}
    t0 = time.perf_counter()
    out = {}
    for name, resp in cols.items():
        out[name] = [value(model, resp, ef, n, comp) for n in grids]
    for direction in regulators:
        m = np.zeros(3)
        m["xyz".index(direction)] = 1e-3
        out[f"Eq.(2) m∥{direction} 1 meV"] = [value(model.with_zeeman(tuple(m)), "proper_spin", ef, n, comp)
                                             for n in grids]
    print(f"\n{label}: E_F = {ef:.4f} eV (gap {gap:.3f} eV), grids {grids}, {time.perf_counter() - t0:.1f} s")
    for name, vals in out.items():
        print(f"  {name:24s} " + "  ".join(fmt.format(x) for x in vals))
    bt, here = np.array(out["Eq.(2) block-trace"]), np.array(out["block-trace (here)"])
    print(f"  {'|package − here| (BT)':24s} {np.abs(bt - here).max():.1e}")
    kubo, streda = out["definition Kubo"][-1], out["definition Středa"][-1]
    if abs(kubo) > 1e-10:
        print(f"  {'|Kubo − Středa|/|Kubo|':24s} {abs(kubo - streda) / abs(kubo):.2e}")
    else:
        print(f"  {'|Kubo|, |Středa|':24s} {abs(kubo):.1e}, {abs(streda):.1e} (zero: both vanish)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller meshes")
    args = ap.parse_args()
    z2 = {"spin": "z", "current": "y", "field": "x"}
    y3 = {"spin": "y", "current": "z", "field": "x"}
    g2 = (24, 36) if args.quick else (36, 60)
    row("BHZ u = 1 (s_z conserved)", models.bhz(1.0), g2, z2, regulators=("z", "x"))
    for lam in (0.05, 0.3):
        row(f"BHZ u = 1 + Rashba λ = {lam} eV", models.bhz(1.0, rashba=lam), g2, z2)
    row("Kane–Mele + Rashba (t=1, λ_SO=0.15, λ_R=0.1, λ_v=0.2)", kane_mele(), g2, z2)
    row("QWZ u = 1 with s = σ/2 (two-band)", qwz_lattice(1.0).to_model(), g2, z2)
    row("two-band random lattice, s = σ/2 (seed 1)", random_lattice(2, 1, gap=1.5, spin=ps.SPIN_HALF), g2, z2)
    for seed in (1, 2):
        row(f"random PT-symmetric, 4 bands (seed {seed})", random_lattice(4, seed, pt=True), g2, z2,
            regulators=("z", "x"))
    g3 = ((24, 24, 12), (32, 32, 16)) if args.quick else ((48, 48, 16), (80, 80, 24))
    row("Bi2Se3, tetragonal lattice regularisation (a = 4.14 Å, c = 9.55 Å)", bi2se3_lattice(), g3, y3,
        regulators=("x", "y", "z"), fmt="{:.1f}")
    print("\nRashba 2DEG (continuum): not computed — with E_F in the Zeeman gap the lower subband is occupied near "
          "k = 0, so it is a metal; the definition routes need Fermi-surface terms (docs/physics.md).")


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
