"""A user's first ``conductivity`` call in a fresh process against the same call repeated (issue 26, RESULTS.md §17c).

In a fresh process glibc's malloc returns freed memory above its trim threshold to the system, so arrays that are
allocated and freed block after block come back as fresh pages (minor page faults, zeroed by the kernel) until some
larger array has been freed once and raised the thresholds.  Benchmarks that first run a bare eigh on big chunks
(``bench_overhead.py``) never see this; a user's single call does.  Each worker here is a fresh process of one
package tree (``--trees``: package roots, e.g. ``../main .``) that loads Fe (``--models``: ``tb``, Fe_tb.dat with its
positions, E_F for 8 electrons; ``native``, the native Wannier90 run ``wannier90/Fe``, E_F 12.6279 eV), compiles
on a 2³ grid, then measures on the n³ grid, CPU time (``process_time``) and minor page faults:

* ``first``: the first ``conductivity`` call (what a user waits for);
* ``again``: the same call repeated in the same process (the allocator warm);
* ``eigh``: mesh points + H(k) + ``numpy.linalg.eigh`` in chunks of 2000 (``peer.bare_eigh``), after both.

Rounds interleave the trees; the load average is printed with each round.

Usage: ``python benchmarks/bench_fresh_process.py [--trees ../main .] [--n 30] [--rounds 3] [--responses charge]
[--models tb,native]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from peer import peak_rss_line, run_worker

HERE = Path(__file__).resolve().parent
FE_EF = {"tb": 17.694853, "native": 12.6279}  # eV: 8 electrons in Fe_tb.dat; the Wannier90 test's (bench_wb_native)


def ps_worker(spec: dict) -> dict:
    """One fresh process: the first call, the repeated call and the bare eigh, CPU seconds and minor faults."""
    import resource

    from peer import bare_eigh

    import properspin as ps
    from properspin.models import wannier90_run
    from properspin.models.wannier import wannier90

    def faults() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    if spec["model"] == "tb":
        model = wannier90(Path(spec["data"]) / "Fe_tb.dat", use_position=True, spinor_order="interleaved")
    else:
        model = wannier90_run(Path(spec["data"]) / "wannier90" / "Fe" / "Fe")
    ef = FE_EF[spec["model"]]
    engine = ps.Engine(workers=1)
    ps.conductivity(model, spec["response"], fermi=ef, mesh=ps.mesh.grid(2), engine=engine)  # compile
    out: dict = {"package": str(Path(ps.__file__).resolve().parent.parent)}
    for key in ("first", "again"):
        f0, c0 = faults(), time.process_time()
        res = ps.conductivity(model, spec["response"], fermi=ef, mesh=ps.mesh.grid(spec["n"]), engine=engine)
        out[key], out[f"{key}_faults"] = time.process_time() - c0, faults() - f0
    out["value"] = float(abs(res).max())
    f0 = faults()
    out["eigh"] = bare_eigh(model, ps.mesh.resolve(ps.mesh.grid(spec["n"]), model), 2000)
    out["eigh_faults"] = faults() - f0
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trees", nargs="+", default=[str(HERE.parent)], help="package roots (PYTHONPATH of a worker)")
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--responses", default="charge")
    p.add_argument("--models", default="tb", help="tb (Fe_tb.dat), native (the Wannier90 run), or both")
    p.add_argument("--data", type=Path, default=HERE.parent / ".." / "shared" / "data")
    p.add_argument("--ps-worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.ps_worker:
        print("PSRESULT " + json.dumps(ps_worker(json.loads(a.ps_worker))), flush=True)
        return
    if not (a.data / "Fe_tb.dat").exists():
        raise SystemExit(f"{a.data / 'Fe_tb.dat'} not found: pass --data (the shared data folder)")
    cases = [(m, r) for m in a.models.split(",") for r in a.responses.split(",")]
    rows: dict = {}
    for r in range(a.rounds):
        print(f"round {r + 1}: load average {os.getloadavg()[0]:.1f}", flush=True)
        for fe, resp in cases:
            for tree in a.trees:
                os.environ["PYTHONPATH"] = str(Path(tree).resolve())
                spec = {"data": str(a.data), "model": fe, "n": a.n, "response": resp}
                got = run_worker(sys.executable, __file__, spec, role="ps")
                rows.setdefault((fe, resp, tree), []).append(got)
                print(f"  {fe} {resp:<18s} {got['package']}: first {got['first']:.2f} s "
                      f"({got['first_faults']} faults), "
                      f"again {got['again']:.2f} s ({got['again_faults']}), eigh {got['eigh']:.2f} s; "
                      f"first ÷ eigh {got['first'] / got['eigh']:.2f}, again ÷ eigh {got['again'] / got['eigh']:.2f}, "
                      f"max |σ| {got['value']:.9g}", flush=True)
    print(f"Fe {a.n}³, serial, CPU time, min–max over {a.rounds} rounds; load average now "
          f"{os.getloadavg()[0]:.1f}")
    for (fe, resp, tree), got in rows.items():
        print(f"  {fe} {resp:<18s} {tree}: first {_span(got, 'first')} s, again {_span(got, 'again')} s, eigh "
              f"{_span(got, 'eigh')} s; first ÷ eigh {_span(got, 'first', 'eigh')}, again ÷ eigh "
              f"{_span(got, 'again', 'eigh')}")
    print(peak_rss_line())


def _span(got: list[dict], key: str, div: str | None = None) -> str:
    v = [g[key] / (g[div] if div else 1.0) for g in got]
    return f"{min(v):.2f}–{max(v):.2f}"


if __name__ == "__main__":
    main()
