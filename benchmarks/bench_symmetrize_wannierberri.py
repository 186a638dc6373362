"""Symmetrised real-space operators of fcc Pt: properspin's ``symmetrize_run`` against WannierBerri's
``System_R.symmetrize`` on the same native Wannier90 files, per matrix (H, A, S, SH, SR, SHR).

Usage::

    python benchmarks/bench_symmetrize_wannierberri.py [--venv benchmarks/.venv-wb]

WannierBerri (26.x, from PyPI, in its own venv: ``python -m venv benchmarks/.venv-wb`` and
``benchmarks/.venv-wb/bin/pip install wannierberri``) runs in a subprocess (``peer.py``), reads the run with its
Wannier centres set to 0 (postw90's ``use_ws_distance = false``, as properspin) and symmetrises with the projections
of Pt.win (``Pt: s``, ``Pt: p``, ``Pt: d``, spinors, non-magnetic).  properspin symmetrises with
``wannier_gauge="projections"`` (the same assumption: the Wannier functions transform like the projections) and with
its default gauge fit.  The conventions of the two codes differ by a constant factor per matrix (σ or σ/2, i,
signs): it is fitted on the *unsymmetrised* matrices, where both codes must agree, and applied unchanged to the
symmetrised ones.  Printed per matrix: the unsymmetrised agreement, the symmetrised agreement (max |Δ| / max |X|)
and the size of what the averaging changed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
KEYS = {"H": "Ham", "A": "AA", "S": "SS", "SH": "SH", "SR": "SR", "SHR": "SHR"}


def wb_worker(spec: dict) -> dict:
    """WannierBerri: the matrices before and after ``System_R.symmetrize``, saved to ``spec['out']`` (npz)."""
    import wannierberri as wb
    from wannierberri.system.system_R import System_R
    from wannierberri.w90files import WannierData

    wd = WannierData.from_w90_files(spec["seedname"], files=["win", "chk", "eig", "mmn", "spn"], readnnkp=False)
    wd.chk.wannier_centers_cart = np.zeros_like(wd.chk.wannier_centers_cart)
    system = System_R.from_wannierdata(wd, berry=True, spin=True, SHCqiao=True, symmetrize=False)
    save = {"irvec_before": np.array(system.rvec.iRvec)}
    for key in KEYS.values():
        save[f"before_{key}"] = np.array(system.get_R_mat(key))
    t0 = time.perf_counter()
    system.symmetrize(proj=["Pt:s", "Pt:p", "Pt:d"], positions=np.zeros((1, 3)), atom_name=["Pt"], soc=True,
                      magmom=None)
    seconds = time.perf_counter() - t0
    save["irvec_after"] = np.array(system.rvec.iRvec)
    for key in KEYS.values():
        save[f"after_{key}"] = np.array(system.get_R_mat(key))
    np.savez(spec["out"], **save)
    return {"version": wb.__version__, "seconds": seconds}


def _ours(run) -> dict:
    n = run.num_wann
    out = {"H": run.ham_R[:, None], "A": run.pos_R, "S": run.spin_R, "SH": run.shc_R["SH"],
           "SR": run.shc_R["SR"].reshape(-1, 9, n, n), "SHR": run.shc_R["SHR"].reshape(-1, 9, n, n)}
    return {k: v / run.ndegen.reshape(-1, 1, 1, 1) for k, v in out.items()}


def _theirs(data, which: str, n: int) -> dict:
    """WannierBerri's (nR, n, n, ...) → (nR, c, n, n); its SR, SHR are (…, r, spin): swapped to spin first."""
    out = {}
    for k, key in KEYS.items():
        x = data[f"{which}_{key}"]
        x = x.swapaxes(-1, -2) if k in ("SR", "SHR") else x
        x = x.reshape(x.shape[:3] + (-1,))
        out[k] = np.moveaxis(x, 3, 1)
    return out


def compare(ours: dict, r_ours, theirs: dict, r_theirs, factor: dict | None = None) -> dict:
    """Per matrix: fitted factor (if not given) per component and max |ours − factor·theirs| / max |ours|."""
    index = {tuple(r): i for i, r in enumerate(r_theirs.tolist())}
    rows = [index.get(tuple(r)) for r in r_ours.tolist()]
    missing = sum(r is None for r in rows)
    keep = np.array([r is not None for r in rows])
    take = np.array([r for r in rows if r is not None])
    found, result = {}, {}
    for k in KEYS:
        a, b = ours[k][keep], theirs[k][take]
        if factor is None:
            f = np.array([np.vdot(b[:, c], a[:, c]) / max(np.vdot(b[:, c], b[:, c]).real, 1e-300)
                          for c in range(a.shape[1])])
        else:
            f = factor[k]
        found[k] = f
        diff = np.abs(a - f[None, :, None, None] * b).max()
        result[k] = {"max_abs_diff": float(diff), "relative": float(diff / np.abs(a).max()),
                     "factor": [complex(x).__repr__() for x in np.unique(np.round(f, 6))][:3]}
    result["_R_missing_in_WB"] = missing
    return {"rows": result, "factor": found}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venv", type=Path, default=HERE / ".venv-wb")
    p.add_argument("--wb-worker", default=None)
    a = p.parse_args(argv)
    if a.wb_worker:
        print("WBRESULT " + json.dumps(wb_worker(json.loads(a.wb_worker))), flush=True)
        return
    sys.path.insert(0, str(HERE))
    from bench_wannierberri import native_copy
    from peer import run_worker

    from properspin.models.wannier import read_wannier90_run
    from properspin.models.wannier.symmetrize import symmetrize_run

    tmp = Path(tempfile.mkdtemp(prefix="i21-wbsym-"))
    seed = native_copy("Pt", tmp / "Pt")
    info = run_worker(str(a.venv / "bin" / "python"), __file__, {"seedname": seed, "out": str(tmp / "wb.npz")})
    data = np.load(tmp / "wb.npz")
    run = read_wannier90_run(seed, use_ws_distance=False)
    n = run.num_wann
    before = compare(_ours(run), run.irvec, _theirs(data, "before", n), data["irvec_before"])
    print(json.dumps({"WannierBerri": info, "unsymmetrised": before["rows"]}, indent=1))
    for gauge in ("projections", "fit"):
        t0 = time.perf_counter()
        sym = symmetrize_run(run, wannier_gauge=gauge)
        secs = time.perf_counter() - t0
        after = compare(_ours(sym), sym.irvec, _theirs(data, "after", n), data["irvec_after"], before["factor"])
        removed = {k: v["max_abs"] for k, v in sym.options["symmetrization"]["removed"].items()}
        print(json.dumps({"properspin_gauge": sym.options["symmetrization"]["wannier_gauge"], "seconds": round(secs, 1),
                          "removed_max_abs": removed, "against_WannierBerri": after["rows"]}, indent=1))


if __name__ == "__main__":
    main()
    from peer import peak_rss_line

    print(peak_rss_line())
