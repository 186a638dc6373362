"""Cost of the conserved spin current in metals (docs/physics.md, "Metals: the definition with Fermi-surface
terms"): time of the metal routes as a ratio to the insulator routes and to a bare ``eigh`` on the same k-points.

``python benchmarks/bench_metal_definition.py [n] [--rounds R] [--compare OLD]`` (grid n², default 60), serial
engine, one thread; the ratios are measured within one run.  A second table times the metal route 1
(``conserved_spin_metal``) with its Drude weight accumulated in the same pass (``Response.companions``, now)
against the two passes it took before (the response alone, then ``spin_drude_weight`` by a second
``conductivity`` call on the same mesh, as ``calculation._drude_attrs`` did, here serial too): interleaved rounds,
wall and CPU time, the load average.  ``--compare OLD`` times both metal routes in fresh processes on this checkout
and on the checkout OLD (e.g. the main branch before the change), alternating, and prints the CPU ratio
before ÷ after with the values checked equal.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import properspin as ps
from properspin import mesh, models, responses
from properspin.engine import Engine


def _time(func, repeat: int = 2) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


MODELS = {"Kane–Mele + Rashba (4 bands)": ("kane_mele", ()), "BHZ + Rashba 0.3 eV (4 bands)": ("bhz", (1.0, 0.3)),
          "random lattice (8 bands)": ("random_lattice", (8, 3))}


def _model(label: str) -> ps.Model:
    from tests import test_conserved

    name, args = MODELS[label]
    return models.bhz(*args) if name == "bhz" else getattr(test_conserved, name)(*args)


def main(n: int, rounds: int = 3, compare: Path | None = None) -> None:
    engine = Engine(workers=1)
    print(f"grid {n}², serial; times in s; ratios to a bare eigh of H(k) on the same k-points")
    print(f"{'model':32s} {'eigh':>7s} {'kubo(ins)':>10s} {'streda(ins)':>12s} {'metal r1':>9s} {'metal r2':>9s}"
          f" {'r1/kubo':>8s} {'r2/streda':>10s} {'r1/eigh':>8s} {'r2/eigh':>8s}")
    for label in MODELS:
        _row(label, _model(label), n, engine)
    print(f"\nconserved_spin_metal, T = 300 K, E_F in a band, grid {n}², serial: one pass (Drude weight as a companion "
          f"sum) vs two passes (before), {rounds} interleaved rounds; ratio = two ÷ one, min–max over rounds")
    print(f"{'model':32s} {'one (s)':>8s} {'two (s)':>8s} {'wall ratio':>12s} {'CPU ratio':>12s} {'load':>6s}")
    for label in MODELS:
        _one_pass_row(label, _model(label), n, engine, rounds)
    if compare is not None:
        _compare(n, rounds, compare)


def _probe(n: int, label: str, name: str) -> None:
    """In a fresh process (``--probe``): one warm-up call, then the CPU and wall time of one metal-route call."""
    model = _model(label)
    k, _ = mesh.resolve(mesh.grid(n), model).all_points(model)
    kw = {"fermi": [float(np.median(model.energies(k[:2000])[:, 1]))], "mesh": mesh.grid(n), "temperature": 300.0,
          "engine": Engine(workers=1)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps.conductivity(model, name, **kw)
        c0, t0 = time.process_time(), time.perf_counter()
        r = ps.conductivity(model, name, **kw)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print("PROBE", json.dumps({"cpu": cpu, "wall": wall, "value": float(np.abs(r.values).max()),
                               "drude": r.attrs.get("drude_weight_max", 0.0), "file": ps.__file__}))


def _compare(n: int, rounds: int, other: Path) -> None:
    """This checkout against ``other`` (e.g. the main branch before the change): fresh processes, trees alternating
    in every round, the same values checked; CPU ratio other ÷ this, min–median–max over rounds."""
    roots = {"this": Path(__file__).resolve().parents[1], "other": other.resolve()}
    print(f"\nmetal routes, grid {n}², T = 300 K, serial, fresh processes: {roots['other']} (before) ÷ this checkout "
          f"(after), {rounds} interleaved rounds")
    print(f"{'model':32s} {'response':22s} {'after CPU':>10s} {'before CPU':>11s} {'CPU ratio min/med/max':>24s} "
          f"{'load':>6s}")
    for label in MODELS:
        for name in ("conserved_spin_metal", "torque_dipole_metal"):
            got: dict[str, list[dict]] = {"this": [], "other": []}
            for r in range(rounds):
                for tree in (("this", "other") if r % 2 == 0 else ("other", "this")):
                    got[tree].append(_run_probe(roots[tree], n, label, name))
            a, b = got["this"][-1], got["other"][-1]
            if abs(a["value"] - b["value"]) > 1e-9 * b["value"] or abs(a["drude"] - b["drude"]) > 1e-9 * max(
                    b["drude"], 1e-300) + 1e-12 * b["value"]:
                raise AssertionError(f"{label} {name}: the trees disagree: {a} vs {b}")
            ratio = sorted(o["cpu"] / t["cpu"] for t, o in zip(got["this"], got["other"], strict=True))
            print(f"{label:32s} {name:22s} {statistics.median(x['cpu'] for x in got['this']):10.3f} "
                  f"{statistics.median(x['cpu'] for x in got['other']):11.3f} "
                  f"{ratio[0]:8.2f}{statistics.median(ratio):8.2f}{ratio[-1]:8.2f} {os.getloadavg()[0]:6.1f}",
                  flush=True)


def _run_probe(root: Path, n: int, label: str, name: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-P", str(Path(__file__).resolve()), "--probe", str(n), label, name],
                         capture_output=True, text=True, env=env, cwd=root)
    line = [x for x in out.stdout.splitlines() if x.startswith("PROBE ")]
    if out.returncode or not line:
        raise SystemExit(f"probe in {root} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    row = json.loads(line[-1][6:])
    if not row["file"].startswith(str(root)):
        raise SystemExit(f"the probe imported {row['file']}, not the checkout {root}")
    return row


def _row(label: str, model: ps.Model, n: int, engine: Engine) -> None:
    k, _ = mesh.resolve(mesh.grid(n), model).all_points(model)
    e = model.energies(k[:2000])
    ef_band = float(np.median(e[:, 1]))
    ef_gap = 0.5 * (e[:, model.nbands // 2 - 1].max() + e[:, model.nbands // 2].min())
    eigh = _time(lambda: np.linalg.eigh(model.h(k)))

    def run(name, ef, temperature):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ps.conductivity(model, name, fermi=[ef], mesh=mesh.grid(n), temperature=temperature, engine=engine)

    kubo = _time(lambda: run("conserved_spin_kubo", ef_gap, 0.0))
    streda = _time(lambda: run("conserved_spin_streda", ef_gap, 0.0))
    r1 = _time(lambda: run("conserved_spin_metal", ef_band, 300.0))
    r2 = _time(lambda: run("conserved_spin_streda_metal", ef_band, 300.0))
    print(f"{label:32s} {eigh:7.3f} {kubo:10.3f} {streda:12.3f} {r1:9.3f} {r2:9.3f} {r1 / kubo:8.2f}"
          f" {r2 / streda:10.2f} {r1 / eigh:8.1f} {r2 / eigh:8.1f}")

def _one_pass_row(label: str, model: ps.Model, n: int, engine: Engine, rounds: int) -> None:
    """Interleaved rounds of the one-pass metal route and the two passes it replaced; same W (checked)."""
    k, _ = mesh.resolve(mesh.grid(n), model).all_points(model)
    ef = float(np.median(model.energies(k[:2000])[:, 1]))
    kw = {"fermi": [ef], "mesh": mesh.grid(n), "temperature": 300.0, "engine": engine}
    alone = dataclasses.replace(responses.get("conserved_spin_metal"), companions=())

    def one() -> float:
        return ps.conductivity(model, "conserved_spin_metal", **kw).attrs["drude_weight_max"]

    def two() -> float:  # the code before: the response's pass, then a second conductivity() for W
        ps.conductivity(model, alone, **kw)
        return float(np.abs(ps.conductivity(model, "spin_drude_weight", **kw).values).max())

    times: dict[str, list[tuple[float, float]]] = {"one": [], "two": []}
    values = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(rounds):
            for name in (("one", "two") if r % 2 == 0 else ("two", "one")):
                t0, c0 = time.perf_counter(), time.process_time()
                values[name] = (one if name == "one" else two)()
                times[name].append((time.perf_counter() - t0, time.process_time() - c0))
    if abs(values["one"] - values["two"]) > 1e-10 * max(abs(values["two"]), 1e-300):
        raise AssertionError(f"{label}: W differs: {values['one']} (one pass) vs {values['two']} (two passes)")
    wall = [b[0] / a[0] for a, b in zip(times["one"], times["two"], strict=True)]
    cpu = [b[1] / a[1] for a, b in zip(times["one"], times["two"], strict=True)]
    print(f"{label:32s} {min(t[0] for t in times['one']):8.3f} {min(t[0] for t in times['two']):8.3f} "
          f"{min(wall):5.2f}–{max(wall):<5.2f} {min(cpu):5.2f}–{max(cpu):<5.2f} {os.getloadavg()[0]:6.1f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        _probe(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        raise SystemExit
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=60, help="grid n² (default 60)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the before/after tables")
    parser.add_argument("--compare", type=Path, help="another checkout (before), timed against this one")
    args = parser.parse_args()
    main(args.n, args.rounds, args.compare)
    from peer import peak_rss_line

    print(peak_rss_line())
