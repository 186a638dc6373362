"""properspin against WannierBerri on the native Wannier90 runs, fairly (issue 26): interleaved rounds, wall and CPU
time, peak memory per worker, WannierBerri with the FFT block split it recommends.

Cases (both codes read the same decompressed files, serial, one BLAS/numba thread each, Γ-centred n³ grid, T = 0,
no symmetry, no refinement):

* Fe σ (``../shared/data/wannier90/Fe``, E_F = 12.6279 eV): properspin ``charge`` against ``static.AHC``;
* ``tb_fe``, ``tb_lattice`` (with ``--cases``): σ_xy from ``Fe_tb.dat`` and from the lattice model of
  ``bench_wannierberri.py`` with their positions (RESULTS.md §3, rerun fairly), WannierBerri ``System_tb``;
* Pt conventional spin Hall (E_F = 18.3823 eV): Qiao et al. spin current in the η → 0 limit (``static.SHC``),
  with postw90's η = 0.1 eV (``dynamic.SHC`` at ω = 0, Lorentzian), and the simple ½{s, v} one with η = 0.1 eV.

Every measurement runs in a fresh process (``--ps-worker`` here, ``bench_wannierberri.py --wb-worker`` in the
WannierBerri environment) that first loads its run and warms up (properspin: the compiled kernels on a 2³ grid),
then times only the calculation: wall (``perf_counter``) and CPU (``process_time``) time, and reports its peak RSS.
WannierBerri's grid is ``Grid(system, NK=n)``: it picks the FFT block from the R vectors (``NKFFT_recommended``, the
documented default); the split it chose (NKdiv × NKFFT) and its k-point count (every point of n³: no refinement,
no symmetry) are printed.  ``--whole`` adds one run with a single FFT block spanning the whole grid
(``NKFFT = n``, the setting of earlier versions of this script) as an extra row.  Rounds interleave the codes and
the load average is printed with each round.

Usage: ``python benchmarks/bench_wb_native.py [--fe-n 30] [--pt-n 12] [--rounds 3] [--whole] [--python PY]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from peer import peak_rss_line, run_worker, wb_python

HERE = Path(__file__).resolve().parent
FE_EF, PT_EF, ETA = 12.6279, 18.3823, 0.1
#: Pt cases: WannierBerri calculator key → (properspin method, η, degeneracy_tol); η = 0 with 1e-5 eV, as in
#: bench_wannierberri.py (docs/wannier90-native.md: near-degenerate pairs)
PT_CASES = {"qiao_static": ("qiao", 0.0, 1e-5), "qiao_eta": ("qiao", ETA, 1e-7), "simple_eta": ("simple", ETA, 1e-7)}
#: _tb.dat cases (σ_xy with positions, S/m; RESULTS.md §3): bcc Fe (Fe_tb.dat, E_F for 8 electrons) and the stacked
#: Haldane lattice model of bench_wannierberri.py (E_F in its lower band)
TB_CASES = ("tb_fe", "tb_lattice")
FE_TB_EF = 17.694853


def ps_worker(spec: dict) -> dict:
    """One properspin calculation in this process: values, wall and CPU time of ``conductivity``, peak RSS."""
    import numpy as np

    import properspin as ps
    from properspin.models import wannier90_run

    if spec["case"] in TB_CASES:  # a _tb.dat file with its positions: σ_xy (S/m)
        from properspin.models.wannier import wannier90

        order = {"spinor_order": "interleaved"} if spec["case"] == "tb_fe" else {}
        model = wannier90(spec["seedname"], use_position=True, **order)
        engine = ps.Engine(workers=1)
        ps.conductivity(model, "charge", fermi=spec["fermi"], mesh=ps.mesh.grid(2), engine=engine)  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        res = ps.conductivity(model, "charge", fermi=spec["fermi"], mesh=ps.mesh.grid(spec["n"]), engine=engine)
        return {"t": time.perf_counter() - t0, "cpu": time.process_time() - c0, "nk": int(spec["n"]) ** 3,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "values": [float(res.sel(current="x", field="y").item())]}
    model = wannier90_run(spec["seedname"])
    if spec["case"] == "ahc":
        resp, tol, fermi = ps.responses.get("charge"), 1e-6, FE_EF
    else:
        method, eta, tol = PT_CASES[spec["case"]]
        resp, fermi = ps.responses.get("conventional_spin", method=method, broadening=eta), PT_EF
    engine = ps.Engine(workers=1)
    ps.conductivity(model, resp, fermi=fermi, mesh=ps.mesh.grid(2), degeneracy_tol=tol, engine=engine)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    res = ps.conductivity(model, resp, fermi=fermi, mesh=ps.mesh.grid(spec["n"]), degeneracy_tol=tol, engine=engine)
    out = {"t": time.perf_counter() - t0, "cpu": time.process_time() - c0,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "nk": int(spec["n"]) ** 3}
    if spec["case"] == "ahc":
        full = ps.results.convert(res, "S/cm").values[0]
        out["values"] = [full[1, 2], full[2, 0], full[0, 1]]  # (σ_yz, σ_zx, σ_xy) S/cm
    else:  # (current, field, spin) in (ħ/e) S/m, WannierBerri's layout
        out["values"] = ps.results.convert(res, "(hbar/e) S/m").values[0].transpose(1, 2, 0).reshape(-1).tolist()
    out["values"] = np.asarray(out["values"], dtype=float).tolist()
    return out


def run_ps(spec: dict) -> dict:
    """This script's ``--ps-worker`` in a fresh process (one thread): the dict of its ``PSRESULT`` line."""
    return run_worker(sys.executable, __file__, spec, role="ps")


def run_wb(python: str, case: str, seed: str, n: int, nkfft: int | None, fermi: float | None = None) -> dict:
    """WannierBerri in its own interpreter (bench_wannierberri.py's worker): one calculator, its times and RSS."""
    if case in TB_CASES:  # System_tb with positions, AHC with external terms, its own split (Grid(NK=n))
        out = run_worker(python, str(HERE / "bench_wannierberri.py"),
                         {"file": seed, "position": True, "n": n, "fermi": [fermi], "processes": 1})
        return {"t": out["t_run"], "cpu": out["cpu_run"], "peak_rss_mb": out["peak_rss_mb"], "nk": out["nk"],
                "split": f"{out['nkdiv']}×{out['nkfft']}", "values": out["sigma_xy"]}
    if case == "ahc":
        spec = {"kind": "native_ahc", "seedname": seed, "n": n, "fermi": [FE_EF], "nkfft": nkfft}
    else:
        spec = {"kind": "native_shc", "seedname": seed, "n": n, "fermi": [PT_EF], "eta": ETA, "nkfft": nkfft,
                "calcs": [case]}
    out = run_worker(python, str(HERE / "bench_wannierberri.py"), spec)
    flat = [float(x) for x in _flatten(out[case])]
    flat = [x * 1e-2 for x in flat[:3]] if case == "ahc" else flat[:27]  # AHC: S/m → S/cm, (σ_yz, σ_zx, σ_xy)
    return {"t": out[f"t_{case}"], "cpu": out[f"cpu_{case}"], "peak_rss_mb": out["peak_rss_mb"],
            "nk": out[f"nk_{case}"], "split": f"{out['nkdiv']}×{out['nkfft']}", "values": flat}


def _flatten(x):  # noqa: ANN001, ANN202 - nested lists → their numbers
    if isinstance(x, list):
        for y in x:
            yield from _flatten(y)
    else:
        yield x


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fe-n", type=int, default=30, help="Fe grid n³ (0: skip)")
    p.add_argument("--pt-n", type=int, default=12, help="Pt grid n³ (0: skip)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--whole", action="store_true", help="add one WannierBerri run with NKFFT = n (one block)")
    p.add_argument("--python", default=None, help="interpreter with wannierberri (default: peer.wb_python())")
    p.add_argument("--data", type=Path, default=HERE.parent / ".." / "shared" / "data")
    p.add_argument("--tb-fe-n", type=int, default=30, help="Fe_tb.dat grid n³ (case tb_fe)")
    p.add_argument("--lattice-n", type=int, default=60, help="lattice-model grid n³ (case tb_lattice)")
    p.add_argument("--cases", default="ahc,qiao_static,qiao_eta,simple_eta",
                   help=f"comma-separated, of ahc, {', '.join(PT_CASES)}, {', '.join(TB_CASES)}")
    p.add_argument("--ps-worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.ps_worker:
        print("PSRESULT " + json.dumps(ps_worker(json.loads(a.ps_worker))))
        return
    a.python = a.python or wb_python()
    import bench_wannierberri as bw

    bw.NATIVE = a.data / "wannier90"  # where native_copy reads the runs
    cases = [c for c in a.cases.split(",") if (c == "ahc" and a.fe_n) or (c in PT_CASES and a.pt_n)
             or (c == "tb_fe" and a.tb_fe_n) or (c == "tb_lattice" and a.lattice_n)]
    with tempfile.TemporaryDirectory() as tmp:
        setups = _inputs(cases, a, Path(tmp), bw)
        rows: dict[tuple[str, str], list[dict]] = {}
        for r in range(a.rounds):
            load = os.getloadavg()[0]
            for case in cases:
                seed, n, ef = setups[case]
                spec = {"case": case, "seedname": seed, "n": n, "fermi": ef}
                rows.setdefault((case, "properspin"), []).append(run_ps(spec))
                rows.setdefault((case, "WannierBerri"), []).append(run_wb(a.python, case, seed, n, None, ef))
                if a.whole and r == 0 and case not in TB_CASES:
                    rows[(case, "WannierBerri whole")] = [run_wb(a.python, case, seed, n, n)]
            print(f"round {r + 1}: load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end", flush=True)
    report(rows, cases, a)


def _inputs(cases: list[str], a: argparse.Namespace, tmp: Path, bw) -> dict:  # noqa: ANN001 - the module
    """case → (file or seedname, n, Fermi energy) in ``tmp``: decompressed native runs, the lattice model's file."""
    out = {}
    if "ahc" in cases:
        out["ahc"] = (bw.native_copy("Fe", tmp / "Fe"), a.fe_n, FE_EF)
    if any(c in PT_CASES for c in cases):
        pt = bw.native_copy("Pt", tmp / "Pt")
        out.update({c: (pt, a.pt_n, PT_EF) for c in cases if c in PT_CASES})
    if "tb_fe" in cases:
        out["tb_fe"] = (str(bw.FE_FILE), a.tb_fe_n, FE_TB_EF)
    if "tb_lattice" in cases:
        import numpy as np

        from properspin.models.wannier import wannier90, write_tb

        path = tmp / "stacked_haldane_tb.dat"
        write_tb(path, bw.lattice_model().to_wannier())
        m = wannier90(path, use_position=True)
        e = np.linalg.eigvalsh(m.h(np.random.default_rng(0).random((4000, 3)) @ m.reciprocal))
        out["tb_lattice"] = (str(path), a.lattice_n, float(np.round(np.quantile(e[:, 0], 0.8), 6)))  # as §3
    return out


def report(rows: dict, cases: list[str], a: argparse.Namespace) -> None:
    import numpy as np

    print(f"\nserial, 1 thread per process, {a.rounds} interleaved rounds (min–max); Fe {a.fe_n}³, Pt {a.pt_n}³, "
          f"Fe_tb.dat {a.tb_fe_n}³, lattice model {a.lattice_n}³ (those run)")
    for case in cases:
        ours = rows[(case, "properspin")]
        print(f"== {case} ==")
        for code in ("properspin", "WannierBerri", "WannierBerri whole"):
            runs = rows.get((case, code))
            if not runs:
                continue
            t = np.array([x["t"] for x in runs])
            c = np.array([x["cpu"] for x in runs])
            extra = f", split NKdiv×NKFFT {runs[0]['split']}" if "split" in runs[0] else ""
            print(f"  {code:<19s} wall {t.min():7.2f}–{t.max():7.2f} s, CPU {c.min():7.2f}–{c.max():7.2f} s, "
                  f"k-points {runs[0]['nk']}, peak RSS {max(x['peak_rss_mb'] for x in runs):.0f} MB{extra}")
        theirs = rows[(case, "WannierBerri")]
        rw = [o["t"] / w["t"] for o, w in zip(ours, theirs, strict=True)]
        rc = [o["cpu"] / w["cpu"] for o, w in zip(ours, theirs, strict=True)]
        print(f"  properspin ÷ WannierBerri (per round): wall {min(rw):.3f}–{max(rw):.3f}, "
              f"CPU {min(rc):.3f}–{max(rc):.3f}")
        if (case, "WannierBerri whole") in rows:
            wh = rows[(case, "WannierBerri whole")][0]
            print(f"  properspin ÷ WannierBerri whole-grid block (round 1): wall {ours[0]['t'] / wh['t']:.3f}, "
                  f"CPU {ours[0]['cpu'] / wh['cpu']:.3f}")
        x, y = np.array(ours[0]["values"]), np.array(theirs[0]["values"])
        print(f"  values: max |properspin − WannierBerri| / max |WannierBerri| = "
              f"{np.abs(x - y).max() / np.abs(y).max():.1e}")


if __name__ == "__main__":
    main()
    print(peak_rss_line())
