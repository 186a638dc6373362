"""Converged conductivities: value ± error from a sequence of meshes, or "not converged" (issue 22).

:func:`converge` runs :func:`~properspin.conductivity` on a family of meshes refined by ``ratio`` per step,
estimates the error of every component at every Fermi energy from the sequence and stops when each is below
``max(atol, rtol·|value|)`` or the k-point ``budget`` is spent.  Families (from the starting ``mesh``):

* ``grid(n)`` (lattices): n → n·ratio (rounded to even).  When a band touching at a special point (a TRIM,
  :func:`properspin.mesh.special_points`) lies below the highest Fermi energy, a Γ-centred grid samples it
  (Kane–Mele + Rashba: a 1/N² artefact of the four Kramers-degenerate TRIM) and only shifted grids
  (shift ½, even n: no TRIM on the mesh) are used; otherwise the Γ-centred family, with the shifted grid of the
  finest n as a second estimate.
* ``disk``/``sphere``/``cylinder`` (continuum cutoffs): every point count × ratio at fixed cutoff.
* ``quadrature.panels`` (2D continuum): panel order and nphi × ratio, breakpoints re-located each step.
* ``grid(n, symmetry=...)``: the same grid family, every grid reduced to its irreducible wedge (issue 26).  A
  Kramers pair at a TRIM counts as a touching, so pass ``avoid_touchings=False`` to keep the Γ-centred wedge (a
  shifted grid breaks the group: the full grid is then computed, with a warning); ``rule="auto"``'s shift check is
  such a grid, ``"richardson"`` needs none.
* ``adaptive={...}``: lattice steps use :func:`~properspin.adaptive.adaptive_conductivity` with these options.
* :func:`~properspin.adaptive.singular_point_grid` (fourfold points in a metal's Fermi sea, η = 0 proper current):
  grid n → n·ratio (even), Γ-centred; the balls (points, radius, orders) stay, so the bar is the grid's error only.

Error rules (``rule``): ``"difference"`` |v_N − v_{N−1}| (value v_N); ``"richardson"`` — the observed order p
from the last three meshes, v_R = v_N + (v_N − v_{N−1}) h_N^p/(h_{N−1}^p − h_N^p), error |v_R − v_N| (value
v_R), kept only where the order is stable (four meshes or more: the orders of the last two triples agree within
30 %, the last three differences share a sign; with only three meshes the bar is at least the last difference),
else value v_N and error the larger of the last two differences (an oscillating sequence, issue 26);
``"shift"`` |v_Γ − v_½| at the finest n (lattices); ``"auto"`` (default) the largest of Richardson and, where
available, shift.  The cutoff itself is not refined: a
continuum value is the value for that cutoff.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from . import mesh as meshes
from . import responses
from .adaptive import SingularPointGrid
from .calculation import conductivity
from .conventions import DEGENERACY_TOL
from .model import Model
from .prepare import prepare

RULES = ("auto", "richardson", "difference", "shift")


class NotConvergedWarning(UserWarning):
    """Some components did not reach the requested accuracy within the budget: their value is NaN."""


@dataclass
class _Family:
    """Meshes of one refinement family: ``make(i)`` → (mesh, h) with h the step size (decreasing in i)."""

    kind: str
    start: Any
    ratio: float
    shift: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    symmetry: tuple[Any, float] | None = None  # grid(n, symmetry=...): (symmetry, symmetry_tol) of every grid

    def make(self, i: int, model: Model, fermi: np.ndarray, shift: float | None = None) -> tuple[Any, float]:
        s = self.ratio**i
        if self.kind == "singular_point_grid":  # the grid refined, the balls kept
            n = _even(self.start.n * s)
            return self.start.with_n(n), 1.0 / n
        if self.kind == "grid":
            n = _even(self.start * s)
            sh = self.shift if shift is None else shift
            sym, tol = self.symmetry or (None, 1e-3)
            return meshes.grid((n,) * model.dim, shift=sh, symmetry=sym, symmetry_tol=tol), 1.0 / n
        p = dict(self.start.params)
        if self.kind == "panels":
            from .quadrature import panels

            order, nphi = _count(p["order"], s), _count(p["nphi"], s)
            opts = {k: p[k] for k in ("panels_min", "grading", "nscan")}
            return (panels(model, fermi, p["radius"], order, nphi, anticrossing_gap=p["anticrossing_gap_eV"],
                           **opts), 1.0 / order)
        keep = self.info.get("fixed", ())
        counts = {k: (v if k in keep else _count(v, s)) for k, v in p.items() if k not in ("radius", "half_height")}
        build = {"disk": meshes.disk, "sphere": meshes.sphere, "cylinder": meshes.cylinder}[self.kind]
        lengths = [p[k] for k in ("radius", "half_height") if k in p]
        step = [k for k in counts if k not in keep]
        return build(*lengths, *counts.values()), 1.0 / counts[step[0]]


def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def _count(x: float, s: float) -> int:
    return max(1, round(x * s))


def _family(mesh: Any, model: Model, fermi: np.ndarray, ratio: float, tol: float, avoid: bool,
            refine: tuple[str, ...] | None = None) -> _Family:
    """The refinement family of the starting mesh; lattices: avoid special points that carry a touching."""
    from .quadrature import RadialPanels
    from .symmetry import SymmetricGrid

    if isinstance(mesh, SymmetricGrid):  # every grid of the family reduced to its irreducible wedge
        fam = _family(mesh.grid, model, fermi, ratio, tol, avoid, refine)
        fam.symmetry = (mesh.symmetry, mesh.tol)
        fam.info["symmetry"] = str(mesh.symmetry)
        return fam
    if isinstance(mesh, RadialPanels):
        return _Family("panels", mesh, ratio)
    if isinstance(mesh, SingularPointGrid):
        return _Family(mesh.kind, mesh, ratio, info={**mesh.describe(), "mesh_n": "refined", "grid_choice":
                       "Γ-centred: every singular point lies in a ball (weight 0 on the grid)"})
    if isinstance(mesh, (meshes.Disk, meshes.Sphere, meshes.Cylinder)):
        counts = [k for k in dict(mesh.params) if k not in ("radius", "half_height")]
        fixed = tuple(k for k in counts if refine is not None and k not in refine)
        if len(fixed) == len(counts):
            raise ValueError(f"refine = {refine!r} names none of the mesh's point counts {counts}")
        return _Family(mesh.kind, mesh, ratio, info={"fixed": fixed} if fixed else {})
    if isinstance(mesh, meshes._GridSpec) or isinstance(mesh, meshes.Grid):
        n = mesh.n_per_dim if isinstance(mesh, meshes._GridSpec) else mesh.n[0]
        touching = touchings(model, float(fermi.max()), tol) if avoid else []
        shift = 0.5 if touching else 0.0
        info = {"special_point_touchings": touching,
                "grid_choice": ("shifted by ½ (even n): a Γ-centred grid samples the touching(s) at "
                                f"{[t['k'] for t in touching]}" if touching else "Γ-centred, shifted grid as check")}
        return _Family("grid", n, ratio, shift, info)
    raise TypeError(f"converge needs a mesh family: mesh.grid(n), mesh.disk/sphere/cylinder, quadrature.panels or "
                    f"adaptive.singular_point_grid, got {type(mesh).__name__}")


def touchings(model: Model, fermi_max: float, tol: float) -> list[dict[str, Any]]:
    """Band pairs closer than ``max(tol, 1e-9)`` eV at a TRIM of a periodic model, at or below ``fermi_max``:
    the points a Γ-centred grid samples and a shifted even grid avoids."""
    out = []
    for p in meshes.special_points(model):
        e = model.energies(p[None])[0]
        for m in np.flatnonzero(np.diff(e) < max(tol, 1e-9)):
            if e[m] <= fermi_max:
                out.append({"k": [round(float(x), 10) for x in p], "bands": [int(m), int(m + 1)],
                            "energy_eV": float(e[m])})
    return out


# ---------------------------------------------------------------------------- error rules
def _order(v: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Observed order p per element from three values v[-3:] at step sizes h[-3:] (NaN where none)."""
    a, b, c = h[-3:]
    d2, d1 = v[-2] - v[-3], v[-1] - v[-2]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = d2 / d1
    lo, hi = np.full(q.shape, 0.2), np.full(q.shape, 40.0)

    def f(p: np.ndarray) -> np.ndarray:
        return (a**p - b**p) / (b**p - c**p)

    ok = np.isfinite(q) & (q > f(lo)) & (q < f(hi))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        up = f(mid) < q
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return np.where(ok, 0.5 * (lo + hi), np.nan)


#: Why each element's error bar is what it is (the ``error_rule`` of a :func:`converge` result).
ERROR_RULES = {
    "richardson": "observed order stable over the last two triples of meshes: |v_R - v_N|",
    "richardson (order unchecked)": "only three meshes, the order cannot be checked yet: the larger of |v_R - v_N| "
                                    "and the last |difference|",
    "no order": "no order in (0.2, 40) from the last three meshes (sign change or slow decay): max of the last two "
                "|differences|",
    "order unstable": "the order of the last three meshes differs from that of the three before by more than "
                      "30 % (or that one has none): max of the last two |differences|",
    "sign change": "the last three differences do not share a sign (an oscillating sequence): max of the last two "
                   "|differences|",
    "exact": "the last three values are equal",
    "difference": "|v_N - v_(N-1)|",
    "shift": "|v_Gamma - v_half| at the finest n",
}


def _richardson_rule(v: np.ndarray, h: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per element, the name of the error rule Richardson's estimate falls to (keys of :data:`ERROR_RULES`)."""
    rule = np.where(np.isfinite(p), "richardson" if len(v) >= 4 else "richardson (order unchecked)", "no order")
    if len(v) >= 4:
        before = _order(v[:-1], h[:-1])
        with np.errstate(invalid="ignore"):
            unstable = ~(np.abs(p - before) <= 0.3 * np.maximum(p, before))
        d = np.diff(v[-4:], axis=0)
        sign = (np.sign(d[0]) != np.sign(d[2])) | (np.sign(d[1]) != np.sign(d[2]))
        rule = np.where(rule == "richardson", np.where(sign, "sign change", np.where(unstable, "order unstable",
                                                                                       rule)), rule)
    exact = (v[-1] == v[-2]) & (v[-2] == v[-3])  # constant sequence (symmetry zeros, quantised values)
    return np.where(exact, "exact", rule)


def estimate(values: np.ndarray, h: np.ndarray, rule: str, shifted: np.ndarray | None = None,
             explain: bool = False) -> tuple[np.ndarray, ...]:
    """(value, error, order) of the sequence ``values`` (steps, ...) at step sizes ``h`` by ``rule``;
    ``shifted``: the value of the shifted grid at the finest step (rule ``shift``/``auto``).  ``explain=True``
    adds, per element, the name of the rule that gave the error (:data:`ERROR_RULES`).

    Richardson's bar |v_R − v_N| is kept only where the observed order is stable (four or more meshes: the
    orders of the last two triples agree within 30 % and the last three differences share a sign); elsewhere
    the value is v_N and the error the larger of the last two |differences| — an oscillating sequence
    (Pt σ^z_xy on the wedge, RESULTS §16a: 2049.42 ± 1.16 from 60³–136³, then 2051.85 at 204³) has runs of
    same-signed differences whose apparent order is meaningless."""
    v = values
    nan = np.full(v.shape[1:], np.nan)

    def out(value: np.ndarray, err: np.ndarray, order: np.ndarray, name: Any) -> tuple[np.ndarray, ...]:
        return (value, err, order, np.broadcast_to(np.asarray(name), v.shape[1:])) if explain else (value, err,
                                                                                                    order)

    if len(v) < 2:
        return out(v[-1], np.full(v.shape[1:], np.inf), nan, "difference")
    diff = np.abs(v[-1] - v[-2])
    if rule == "difference":
        return out(v[-1], diff, nan, "difference")
    if rule == "shift":
        if shifted is None:
            raise ValueError("rule='shift' needs a lattice grid whose Γ-centred points are usable")
        return out(v[-1], np.abs(v[-1] - shifted), nan, "shift")
    if len(v) < 3:
        return out(v[-1], np.full(v.shape[1:], np.inf), nan, "difference")
    p = _order(v, h)
    names = _richardson_rule(v, h, p)
    trust = np.isin(names, ("richardson", "richardson (order unchecked)"))
    b, c = h[-2:]
    with np.errstate(invalid="ignore", over="ignore"):
        extra = np.where(trust, (v[-1] - v[-2]) * c**p / (b**p - c**p), 0.0)
    value = v[-1] + extra
    err = np.where(trust, np.abs(extra), np.maximum(diff, np.abs(v[-2] - v[-3])))
    # three meshes: the order is unchecked, so the bar is at least the last difference (RESULTS §17d: a
    # super-algebraic sequence gave -9.70 ± 6.13 for a limit 0 with Richardson's bar alone)
    err = np.where(names == "richardson (order unchecked)", np.maximum(err, diff), err)
    err = np.where(names == "exact", 0.0, err)
    if rule == "auto" and shifted is not None:
        names = np.where(np.abs(v[-1] - shifted) > err, "shift", names)
        err = np.maximum(err, np.abs(v[-1] - shifted))
    return out(value, err, p, names)


# ---------------------------------------------------------------------------- the driver
#: The rule used before the shift check has been made.
_FIRST = {"auto": "richardson", "shift": "difference"}


def _need(rule: str) -> int:
    return 2 if rule in ("difference", "shift") else 3


def _check_args(model: Model, rtol: float, atol: float | None, budget: int, rule: str, ratio: float,
                max_steps: int) -> None:
    if not isinstance(model, Model):
        raise TypeError(f"model must be a properspin.Model, got {type(model).__name__}")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if not (isinstance(rtol, (int, float)) and math.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol must be a finite number ≥ 0 (relative accuracy), got {rtol!r}")
    if atol is not None and not (math.isfinite(atol) and atol >= 0):
        raise ValueError(f"atol must be a finite number ≥ 0 in the response's units, got {atol!r}")
    if rtol == 0 and not atol:
        raise ValueError("set rtol > 0 or atol > 0: with both zero nothing can converge")
    if not (isinstance(budget, (int, np.integer)) and budget > 0):
        raise ValueError(f"budget must be a positive integer (total k-points over all meshes), got {budget!r}")
    if not (math.isfinite(ratio) and ratio > 1):
        raise ValueError(f"ratio must be > 1 (refinement factor of the point counts per step), got {ratio!r}")
    if not (isinstance(max_steps, int) and max_steps >= 2):
        raise ValueError(f"max_steps must be an integer ≥ 2, got {max_steps!r}")


def _one(model: Model, resp: responses.Response, fermi: np.ndarray, mesh: Any, n: int | None,
         adaptive: dict[str, Any] | None, kwargs: dict[str, Any], seen: dict[str, Any]) -> xr.DataArray:
    """One mesh of the sequence; its warnings are collected in ``seen`` (category, first text) to be issued once
    by :func:`converge` (the mesh-dependent numbers in them differ from step to step)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if adaptive is not None and n is not None:
            from .adaptive import adaptive_conductivity

            out = adaptive_conductivity(model, resp, fermi=fermi, n=n, **adaptive, **kwargs)
        else:
            out = conductivity(model, resp, fermi=fermi, mesh=mesh, **kwargs)
    for w in caught:
        seen.setdefault(w.category.__name__, (w.category, str(w.message)))
    return out


def _resolve(mesh: Any, model: Model, resp: responses.Response, seen: dict[str, Any]) -> Any:
    """``mesh`` fixed to the model (a wedge for the response), its warnings collected as in :func:`_one`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = meshes.resolve(mesh, model, resp)
    for w in caught:
        seen.setdefault(w.category.__name__, (w.category, str(w.message)))
    return out


def _label(desc: dict[str, Any]) -> str:
    skip = ("mesh", "mesh_size", "fermi_crossings", "anticrossings", "smallest_anticrossing_gap_eV", "panels_min",
            "grading", "nscan", "anticrossing_gap_eV")
    parts = [f"{k.removeprefix('mesh_')}={v}" for k, v in desc.items() if k not in skip]
    return f"{desc.get('mesh')} {' '.join(parts)} ({desc.get('mesh_size', '?')} k)"


def _progress(on: bool, name: str, step: int, desc: dict[str, Any], value: np.ndarray, err: np.ndarray,
              done: np.ndarray) -> None:
    if not on:
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(np.isfinite(err), err / np.maximum(np.abs(value), 1e-300), np.inf)
    i = np.unravel_index(int(np.nanargmax(rel)) if np.any(np.isfinite(rel)) else 0, rel.shape)
    sys.stderr.write(f"\rconverge {name}: step {step + 1} {_label(desc)}: worst {value[i]:.6g} ± {err[i]:.2g}; "
                     f"{int((~done).sum())} of {done.size} open   ")
    sys.stderr.flush()


def converge(model: Model, response: str | responses.Response, *, fermi: Any, mesh: Any, rtol: float = 1e-3,
             atol: float | None = None, budget: int = 4_000_000, rule: str = "auto", ratio: float = 1.5,
             max_steps: int = 8, degeneracy_tol: float = DEGENERACY_TOL, adaptive: dict[str, Any] | None = None,
             avoid_touchings: bool = True, select: dict[str, Any] | None = None, refine: tuple[str, ...] | None = None,
             progress: bool | None = None, **kwargs: Any) -> xr.Dataset:
    """Value ± error of ``response`` per component and Fermi energy, refined until ``error ≤ max(atol, rtol·|v|)``.

    ``mesh`` is the first mesh of the family (module docstring); ``budget`` bounds the k-points summed over all
    meshes; ``atol`` defaults to 1e-6·rtol·max|v|; ``avoid_touchings=False`` keeps Γ-centred grids even where a
    TRIM carries a touching; ``select`` (e.g. ``{"spin": "z", "current": "y", "field": "x"}``): only these
    components decide when to stop and warn (the others are still reported: NaN where not converged);
    ``refine`` (cutoff meshes): the point counts refined, e.g. ``("ntheta", "nphi")`` (default: all).
    ``kwargs`` go to :func:`~properspin.conductivity` (``temperature``, ``broadening``, ``engine``).  Returns a
    Dataset with ``value`` (NaN where not converged, with a :class:`NotConvergedWarning`), ``error``,
    ``converged``, the observed ``order``, ``error_rule`` (which rule gave the error, :data:`ERROR_RULES`) and the
    whole ``sequence`` (dim ``step``); attrs (``converge_error_rules``: count and meaning of each rule used):
    units, rule, tolerances, budget, the meshes (JSON) and the family's choices (e.g. why a shifted grid).
    Responses (Eq. 1, Eq. 2, ...) as :func:`~properspin.conductivity`.
    """
    _check_args(model, rtol, atol, budget, rule, ratio, max_steps)
    given = {k: kwargs[k] for k in ("temperature", "broadening") if k in kwargs}
    job = prepare(model, response, fermi=fermi, mesh=mesh, degeneracy_tol=degeneracy_tol, **given)  # validated once
    resp, fermi = job.response, job.fermi
    fam = _family(mesh, model, fermi, ratio, degeneracy_tol, avoid_touchings, refine)
    if rule == "shift" and (fam.kind != "grid" or fam.shift):
        raise ValueError("rule='shift' compares Γ-centred and shifted grids: it needs mesh.grid(n) on a model "
                         "without touchings at the TRIM (else use rule='richardson')")
    progress = sys.stderr.isatty() if progress is None else progress
    kwargs = {**kwargs, "degeneracy_tol": degeneracy_tol}
    vals, hs, trace, spent, shifted, last, seen = [], [], [], 0, None, None, {}
    value = err = order = done = why = None
    for i in range(max_steps):
        m, h = fam.make(i, model, fermi)
        m = _resolve(m, model, resp, seen)  # once: a wedge's irreducible points cost ~5 µs per grid point
        size = m.size
        if spent + size > budget:
            trace.append({"stopped": f"next mesh ({size} k) exceeds the budget: {spent} + {size} > {budget}"})
            break
        t = time.perf_counter()
        last = _one(model, resp, fermi, m, round(1 / h) if fam.kind == "grid" else None, adaptive, kwargs, seen)
        spent += int(last.attrs.get("mesh_size", size))
        vals.append(last.values)
        hs.append(h)
        trace.append({**m.describe(), **_singular(m), "kpoints": int(last.attrs.get("mesh_size", size)),
                      "seconds": round(time.perf_counter() - t, 3)})
        value, err, order, why = estimate(np.array(vals), np.array(hs), _FIRST.get(rule, rule), explain=True)
        tol = _atol(atol, rtol, vals) if atol is None else atol
        done = err <= np.maximum(tol, rtol * np.abs(value))
        want_shift = fam.kind == "grid" and not fam.shift and rule in ("auto", "shift") and len(vals) >= _need(rule)
        sm = _resolve(fam.make(i, model, fermi, shift=0.5)[0], model, resp, seen) if want_shift else None
        if want_shift and spent + sm.size > budget:
            trace.append({"stopped": "the shifted grid of the check exceeds the budget"})
            done = np.zeros_like(done) if rule == "shift" else done
            break
        if want_shift and done[_mask(last, select)].all():
            shifted = _one(model, resp, fermi, sm, None, None, kwargs, seen).values
            spent += sm.size
            trace.append({**sm.describe(), "role": "shift check"})
            value, err, order, why = estimate(np.array(vals), np.array(hs), rule, shifted, explain=True)
            done = err <= np.maximum(tol, rtol * np.abs(value))
        _progress(progress, resp.name, i, trace[-1], value, err, done)
        if len(vals) >= _need(rule) and done[_mask(last, select)].all():
            break
    if progress:
        sys.stderr.write("\n")
    for category, text in seen.values():
        warnings.warn(f"(first mesh of the sequence that raised it) {text}", category, stacklevel=2)
    if last is None:
        raise ValueError(f"budget = {budget} k-points is smaller than the first mesh: raise budget")
    if len(vals) < _need(rule):
        done = np.zeros_like(done, dtype=bool)
    return _result(last, resp, np.array(vals), (value, err, order, why), done, _mask(last, select), trace, fam,
                   {"rule": rule, "rtol": rtol, "atol": _atol(atol, rtol, vals) if atol is None else atol,
                    "budget_kpoints": budget, "kpoints_spent": spent, "ratio": ratio})


def _singular(mesh: Any) -> dict[str, Any]:
    """The base grid of a singular-point mesh (:func:`~properspin.adaptive.singular_point_mesh`) for the trace."""
    info = getattr(mesh, "singular_info", None)
    return {"mesh_n": json.loads(info["singular_base_grid"])} if info else {}


def _mask(last: xr.DataArray, select: dict[str, Any] | None) -> np.ndarray:
    """Boolean mask of the components that decide when :func:`converge` stops."""
    if not select:
        return np.ones(last.shape, dtype=bool)
    unknown = set(select) - set(last.dims)
    if unknown:
        raise ValueError(f"select: no dimension {sorted(unknown)} in {last.name} (dims {list(last.dims)})")
    mask = xr.zeros_like(last, dtype=bool)
    mask.loc[select] = True
    return mask.values


def _atol(atol: float | None, rtol: float, vals: list[np.ndarray]) -> float:
    return 1e-6 * rtol * float(np.max(np.abs(vals[-1]))) if atol is None else float(atol)


def _result(last: xr.DataArray, resp: responses.Response, seq: np.ndarray, est: tuple[np.ndarray, ...],
            done: np.ndarray, mask: np.ndarray, trace: list[dict[str, Any]], fam: _Family,
            settings: dict[str, Any]) -> xr.Dataset:
    """The Dataset of :func:`converge` (``est``: value, error, order, error rule of :func:`estimate`); a
    :class:`NotConvergedWarning` names what did not converge."""
    value, err, order, why = est
    dims = last.dims
    coords = {d: last.coords[d].values for d in dims}
    out = xr.Dataset(
        {"value": (dims, np.where(done, value, np.nan)), "error": (dims, err), "converged": (dims, done),
         "order": (dims, order), "error_rule": (dims, np.asarray(why, dtype=str)),
         "sequence": (("step",) + dims, seq)},
        coords=coords)
    keep = {k: v for k, v in last.attrs.items() if not k.startswith("mesh") and k not in ("degenerate_kpoints",)}
    out.attrs = {**keep, **{f"converge_{k}": v for k, v in settings.items()},
                 "converge_meshes": json.dumps(trace, default=str),
                 "converge_family": fam.kind, "converge_choices": json.dumps(fam.info, default=str),
                 "converged_all": int(done.all()),
                 "converge_error_rules": json.dumps({k: [int((why == k).sum()), ERROR_RULES[k]]
                                                      for k in ERROR_RULES if (why == k).any()})}
    out["value"].attrs["units"] = last.attrs.get("units", "")
    out["error"].attrs["units"] = last.attrs.get("units", "")
    if not done[mask].all():
        bad = np.argwhere(~done & mask)[0]
        where = ", ".join(f"{d}={coords[d][j]}" for d, j in zip(dims, bad, strict=True))
        warnings.warn(f"{resp.name}: {int((~done & mask).sum())} of {int(mask.sum())} values did not reach rtol = "
                      f"{settings['rtol']:g} / atol = {settings['atol']:.3g} within {settings['budget_kpoints']} "
                      f"k-points (first: {where}, last estimate {float(value[tuple(bad)]):.6g} ± "
                      f"{float(err[tuple(bad)]):.2g}); they are NaN in 'value' (see 'sequence' and 'error'). Raise "
                      "budget or loosen rtol/atol.", NotConvergedWarning, stacklevel=3)
    return out


# ---------------------------------------------------------------------------- `properspin converge RUN.toml`
def run_file(path: Any, *, rtol: float = 1e-3, atol: float | None = None, budget: int = 4_000_000,
             rule: str = "auto", panels: bool = False, progress: bool | None = None) -> dict[str, xr.Dataset]:
    """:func:`converge` for every response of a run file, starting from its ``[mesh]`` (``panels``: a 2D disk
    becomes :func:`properspin.quadrature.panels` of the same radius); the file's temperature, broadening and
    degeneracy_tol are kept."""
    from pathlib import Path

    from .config import build_model, load_config, prepare_jobs
    from .quadrature import panels as make_panels

    path = Path(path)
    cfg = load_config(path)
    model = build_model(cfg, path)
    jobs = prepare_jobs(cfg, model, path)  # every response validated before the first mesh runs
    first = next(iter(jobs.values()))
    fermi, start = first.fermi, first.mesh
    if panels:
        if not isinstance(start, meshes.Disk):
            raise ValueError("--panels needs a [mesh] of kind = \"disk\" (a 2D continuum model)")
        p = dict(start.params)
        start = make_panels(model, fermi, p["radius"], order=8, nphi=max(8, p["nphi"] // 4))
    calc = cfg.calculation
    return {name: converge(model, job.response, fermi=fermi, mesh=start, rtol=rtol, atol=atol, budget=budget,
                           rule=rule, degeneracy_tol=calc.degeneracy_tol, temperature=calc.temperature,
                           progress=progress) for name, job in jobs.items()}


def summary(res: xr.Dataset) -> list[str]:
    """Lines ``component  E_F  value ± error`` (or "not converged") of a :func:`converge` result; components
    below 1e-12 of the largest on every mesh (zero up to round-off) are left out."""
    units = res.attrs.get("units", "")
    lines = []
    dims = [d for d in res.value.dims if d != "fermi"]
    stacked = res.stack(component=dims) if dims else res.expand_dims(component=[()])
    scale = float(np.max(np.abs(res.sequence.values)))
    for c in stacked.component.values:
        sel = stacked.sel(component=c)
        if np.max(np.abs(sel.sequence.values)) <= 1e-12 * scale:  # zero up to round-off on every mesh
            continue
        for j, ef in enumerate(sel.fermi.values):
            v, e, ok = float(sel.value[j]), float(sel.error[j]), bool(sel.converged[j])
            text = f"{v:.8g} ± {e:.2g} {units}" if ok else f"not converged (last {float(sel.sequence[-1, j]):.6g}, " \
                f"error estimate {e:.2g})"
            lines.append(f"{','.join(map(str, np.atleast_1d(c)))}  E_F = {ef:g} eV  {text}")
    return lines
