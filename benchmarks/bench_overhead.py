"""Where the full ``conductivity`` call spends its time beyond a bare ``eigh`` (issue 26 item 3).

For the 4-band model (BHZ + exchange) and, when ``../shared/data`` has them, the 18-band Fe Wannier model and
(``--pt-nk``) the native Pt run with its S(k) in block-trace form (degeneracy_tol 0.01 eV), in interleaved rounds
(serial, one BLAS thread, CPU time ``process_time``), on the same k-points:

* ``eigh``: mesh points + H(k) + ``numpy.linalg.eigh`` (the denominator of every "÷ eigh" ratio, ``peer.bare_eigh``);
* ``H``: mesh points + H(k) alone (what the bare eigh spends outside the eigensolver);
* ``inputs``: everything the kernel driver does before its compiled loop, block by block as in
  :func:`properspin.kernels.kernel_chunk`: mesh points, H, ∂H, A^W (and its curl for ``charge``) from one phase
  computation, the Hermiticity check and ``properspin.eigen.eigh``;
* ``full``: the whole serial ``conductivity`` call (1000 Fermi energies by default), and ``full, 1 E_F``.

and, for the responses that moved into the kernel (``--numpy``, default ``torque,appendix_c``), the numpy path
(:func:`properspin.chunk.numpy_chunk`) ÷ the kernel (:func:`properspin.kernels.kernel_chunk`) on the same chunks
(the App. C terms: ``--responses appendix_c --numpy appendix_c`` gives both figures for them).

It prints per response ``full ÷ eigh`` and its parts ÷ eigh: the inputs (the floor: the ratio with a compiled loop
of zero cost; a target below it is unreachable without cheaper inputs), the compiled loop + Fermi deposit
(``kernel_chunk`` − inputs), the fixed cost of a call (the same call on a 2 × 2 mesh: setup, band range, result)
and the rest of the engine; and ``1000 E_F ÷ 1 E_F``; min–max over rounds, with the load average.
Usage: ``python benchmarks/bench_overhead.py [--nk 250000] [--fe-nk 27000] [--nfermi 1000] [--rounds 3]
[--pt-nk 8000] [--responses proper_spin,conventional_spin,charge] [--numpy torque,appendix_c]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from peer import bare_eigh, peak_rss_line
from threadpoolctl import threadpool_limits

import properspin as ps
from properspin import chunk, kernels, mesh, responses
from properspin.sweep import Sweep

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def hamiltonian_only(model, m, chunk: int) -> float:
    """CPU seconds of mesh points + H(k), chunk by chunk (the bare eigh without its eigensolver)."""
    t = time.process_time()
    for start in range(0, m.size, chunk):
        k, _ = m.points(model, start, min(m.size, start + chunk))
        model.hamiltonian(k)
    return time.process_time() - t


def kernel_calls(model, m, response: str, nfermi: int, chunk_size: int, window, tol: float) -> float:
    """CPU seconds of mesh points + :func:`properspin.kernels.kernel_chunk` on the mesh's chunks."""
    r = responses.get(response)
    sweeps = (Sweep(np.linspace(*window, nfermi), 0.0),)
    t = time.process_time()
    for start in range(0, m.size, chunk_size):
        k, w = m.points(model, start, min(m.size, start + chunk_size))
        kernels.kernel_chunk(r, model, k, w, sweeps, tol)
    return time.process_time() - t


def kernel_inputs(model, m, response: str, chunk: int) -> float:
    """CPU seconds of the kernel driver's work before its compiled loop (mesh points, H, ∂H, A^W[, curl], eigh)."""
    r = responses.get(response)
    row = kernels._checked_needs(r, model.dim)
    has_pos = model.position is not None
    dense = model.spin_k is not None and "spin" in row.operators
    block = kernels._block_size(model.nbands, model.dim, has_pos, dense, False)
    curl = "wannier_curv" in row.stages and has_pos
    t = time.process_time()
    for start in range(0, m.size, chunk):
        k, w = m.points(model, start, min(m.size, start + chunk))
        buffers: dict = {}  # as kernel_chunk: each block's Fourier sums written into the previous block's arrays
        for b in range(0, len(k), block):
            kernels._inputs(model, k[b : b + block], w[b : b + block], curl, dense, None, buffers)
    return time.process_time() - t


def numpy_and_kernel(model, m, response: str, nfermi: int, chunk_size: int, window, tol: float
                     ) -> tuple[float, float]:
    """CPU seconds of the numpy chunk path and of the kernel on the same chunks (mesh points excluded)."""
    r = responses.get(response)
    sweeps = (Sweep(np.linspace(*window, nfermi), 0.0),)
    tn = tk = 0.0
    for start in range(0, m.size, chunk_size):
        k, w = m.points(model, start, min(m.size, start + chunk_size))
        t = time.process_time()
        ref = chunk.numpy_chunk(model, r, k, w, sweeps, tol)
        tn += time.process_time() - t
        t = time.process_time()
        got = kernels.kernel_chunk(r, model, k, w, sweeps, tol)
        tk += time.process_time() - t
        if start == 0:  # equal to 1e-12 of the per-state scale (a response's sum may cancel to round-off)
            _, q = chunk.states(model, r, k, tol)
            scale = np.abs(q * w[None, :, None]).sum(axis=(1, 2)).max()
            assert np.allclose(got.partials[0], ref.partials[0], rtol=0, atol=1e-12 * scale)
    return tn, tk


def full(model, m, response: str, nfermi: int, chunk: int, window: tuple[float, float], tol: float = 1e-6) -> float:
    """CPU seconds of the serial ``conductivity`` call."""
    fermi = np.linspace(*window, nfermi)
    t = time.process_time()
    ps.conductivity(model, response, fermi=fermi, mesh=m, degeneracy_tol=tol,
                    engine=ps.Engine(chunk_size=chunk, workers=1))
    return time.process_time() - t


def report(label: str, model, m, a, chunk: int, window: tuple[float, float], tol: float = 1e-6,
           names: list[str] | None = None) -> None:
    """Interleaved rounds of every measurement; ratios per round, min–max."""
    names = names or a.responses.split(",")
    for response in names:  # warm-up: compiled kernel cache
        full(model, mesh.resolve(mesh.grid(4), model), response, 2, chunk, window, tol)
    t: dict[str, list[float]] = {"eigh": [], "H": []}
    tiny = mesh.resolve(mesh.grid(2), model)  # the call's fixed cost: setup, band range, result
    load0 = os.getloadavg()[0]
    with threadpool_limits(1):
        for _ in range(a.rounds):
            t["eigh"].append(bare_eigh(model, m, chunk))
            t["H"].append(hamiltonian_only(model, m, chunk))
            for r in names:
                t.setdefault(f"inputs {r}", []).append(kernel_inputs(model, m, r, chunk))
                t.setdefault(f"full {r}", []).append(full(model, m, r, a.nfermi, chunk, window, tol))
                t.setdefault(f"kernel_chunk {r}", []).append(kernel_calls(model, m, r, a.nfermi, chunk, window, tol))
                t.setdefault(f"fixed {r}", []).append(full(model, tiny, r, a.nfermi, chunk, window, tol))
                t.setdefault(f"one {r}", []).append(full(model, m, r, 1, chunk, window, tol))
            for r in a.numpy.split(",") if a.numpy else ():
                tn, tk = numpy_and_kernel(model, m, r, a.nfermi, chunk, window, tol)
                t.setdefault(f"numpy {r}", []).append(tn)
                t.setdefault(f"kernel {r}", []).append(tk)
    load1 = os.getloadavg()[0]
    te = np.array(t["eigh"])

    def span(x) -> str:
        x = np.asarray(x)
        return f"{x.min():.2f}–{x.max():.2f}"

    print(f"{label}: {m.size} k-points, {a.nfermi} Fermi energies, degeneracy_tol {tol:g} eV, serial, "
          f"{a.rounds} interleaved rounds (min–max), "
          f"CPU time, load average {load0:.2f} → {load1:.2f}")
    print(f"  bare eigh (points + H + numpy eigh) {span(te)} s; points + H alone {span(t['H'])} s "
          f"({span(np.array(t['H']) / te)} of eigh)")
    for r in names:
        ti, tf, t1, tk, t0 = (np.array(t[f"{key} {r}"]) for key in ("inputs", "full", "one", "kernel_chunk", "fixed"))
        print(f"  {r:<18s} full ÷ eigh {span(tf / te)}; ÷ eigh: inputs (points, H, ∂H[, A], own eigh) {span(ti / te)}, "
              f"compiled loop + deposit {span((tk - ti) / te)}, fixed cost of a call {span(t0 / te)}, rest of the "
              f"engine {span((tf - tk - t0) / te)}; {a.nfermi} E_F ÷ 1 E_F {span(tf / t1)}")
    for r in a.numpy.split(",") if a.numpy else ():
        tn, tk = np.array(t[f"numpy {r}"]), np.array(t[f"kernel {r}"])
        print(f"  {r:<18s} numpy path {span(tn)} s, kernel {span(tk)} s: numpy ÷ kernel {span(tn / tk)} "
              f"(same chunks, equal to 1e-12)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--nk", type=int, default=250_000)
    p.add_argument("--fe-nk", type=int, default=27_000, help="k-points of the Fe case (0: skip)")
    p.add_argument("--pt-nk", type=int, default=0, help="k-points of the Pt S(k) block-trace case (0: skip)")
    p.add_argument("--nfermi", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--responses", default="proper_spin,conventional_spin,charge")
    p.add_argument("--numpy", default="torque,appendix_c", help="responses timed on the numpy path against the kernel")
    p.add_argument("--skip-4band", action="store_true")
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    a = p.parse_args()
    if not a.skip_4band:
        model = ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))
        report("4-band", model, mesh.resolve(mesh.grid(round(a.nk ** 0.5)), model), a, 20_000, (-3.0, 3.0))
    fe = a.data / "Fe_tb.dat"
    if a.fe_nk and fe.exists():
        from properspin.models.wannier import wannier90

        fe_model = wannier90(fe, spinor_order="interleaved")
        m = mesh.resolve(mesh.grid(round(a.fe_nk ** (1 / 3))), fe_model)
        report("Fe 18-band (with positions)", fe_model, m, a, 2000, (15.0, 20.0))
    elif a.fe_nk:
        print(f"Fe case skipped: {fe} not found")
    pt_seed = a.data / "wannier90" / "Pt" / "Pt"
    if a.pt_nk and pt_seed.with_suffix(".win").exists():
        from properspin.models import wannier90_run

        pt = wannier90_run(pt_seed)
        m = mesh.resolve(mesh.grid(round(a.pt_nk ** (1 / 3))), pt)
        report("Pt native run, S(k), block trace", pt, m, a, 2000, (17.9, 18.9), 1e-2, ["proper_spin"])
    elif a.pt_nk:
        print(f"Pt case skipped: {pt_seed}.win not found")
    print(peak_rss_line())


if __name__ == "__main__":
    main()
