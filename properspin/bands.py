"""k-resolved output: bands coloured by a per-band quantity along a path, and maps on a plane (k slices).

Quantities (per band m, at each k; the band geometry of :mod:`properspin.geometry`) are the per-band views of the
responses (``Response.band_view``, :func:`quantities`) and the band-diagonal spin:

* ``berry``             Ω^c_m, Berry curvature (Å²), component c (view of ``charge``);
* ``proper_spin``       Σ^{c,l}_m, proper spin Berry curvature, Eq. (2) (Å² ħ), components (c, l);
* ``conventional_spin`` Ω^{l}_{ij,m}, the Kubo (conventional) spin Berry curvature: the per-band integrand of
                        ``conventional_spin`` (Å² ħ), components (l, i, j), with that response's parameters
                        (``method`` "simple" ½{s, v} or "qiao" for a Wannier90 run, ``broadening`` η,
                        ``eigval_max``);
* ``torque_dipole``, ``torque_dipole_kubo``, ``conserved_spin_kubo``: the per-band integrand of that response
                        (Å² ħ), components (l, i, j), with its parameters;
* ``spin``              ⟨s^l⟩_mm (ħ), component l.

A map holds the energies and the per-band quantity on an n × n grid of a plane, plus the occupied sum
Σ_m θ(E_F − ε_m) Q_m (the integrand of the response at T = 0) and is drawn with the Fermi lines ε_m = E_F.
Both are ``xarray.Dataset`` objects saved as netCDF next to the PNG (:func:`save`).

``kramers=True`` replaces the value of each band by the mean over its Kramers pair (bands 2i, 2i+1): for a
model that should be Kramers-degenerate (P·T) but is split slightly (a Wannier interpolation: Pt's pairs by up to
40 meV) the per-band curvatures hold ±v²/Δ² terms inside the pair (Ω up to 1e8 Å²) that cancel in the pair sum.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import geometry as geo
from . import kpath as kp
from .model import Model
from .responses import BandView, Response
from .validate import check_size, finite_float, positive_int

AXES = ("x", "y", "z")
#: ⟨s^l⟩_mm (ħ), the one quantity that is no response's view: the band-diagonal spin every spin response uses
SPIN_VIEW = BandView("spin", ("l",), "hbar", "⟨s^{{{0}}}⟩", "z", lambda g, p: g.spin_diagonal)


def quantities() -> dict[str, tuple[BandView, Response | None]]:
    """Every per-band quantity: the ``band_view`` of each registered response (``Response.band_view``: berry,
    proper_spin, conventional_spin, torque_dipole, …) and ``spin``; name → (view, its response)."""
    from . import responses

    out = {r.band_view.quantity: (r.band_view, r) for r in responses.RESPONSES.values() if r.band_view is not None}
    return {**out, SPIN_VIEW.quantity: (SPIN_VIEW, None)}


def _view(quantity: str) -> tuple[BandView, Response | None]:
    table = quantities()
    if quantity not in table:
        raise ValueError(f"unknown quantity {quantity!r}; choose one of {', '.join(table)} (a response shows in "
                         "bands when it has a band_view)")
    return table[quantity]


def _component(quantity: str, component: str | None, dim: int) -> tuple[int, ...]:
    """Axes (0, 1, 2 = x, y, z) of a component of ``quantity``, checked against the model's dimension."""
    view = _view(quantity)[0]
    text = component or view.default
    parts = text.split(",") if "," in text else list(text)
    if len(parts) != len(view.indices) or any(p not in AXES for p in parts):
        raise ValueError(f"component {text!r} of {quantity} needs {len(view.indices)} of x, y, z "
                         f"({','.join(view.indices)})")
    idx = tuple(AXES.index(p) for p in parts)
    for name, i in zip(view.indices, idx, strict=True):
        if name == "c" and dim == 2 and i != 2:
            raise ValueError("a 2D model has only the curvature component z")
        if name in ("i", "j") and i >= dim:
            raise ValueError(f"current and field directions of a {dim}D model are among {AXES[:dim]}")
    return idx


def _positions(view: BandView, idx: tuple[int, ...], dim: int) -> tuple[int, ...]:
    """Array positions in ``view.values``: a curvature axis ``c`` has only z in 2D (position 0)."""
    return tuple(0 if name == "c" and dim == 2 else i for name, i in zip(view.indices, idx, strict=True))


def quantity_parameters(quantity: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    """The checked parameters of ``quantity``: those of its response where the view takes them
    (``conventional_spin``: method, broadening, eigval_max); the others take none."""
    view, resp = _view(quantity)
    if view.params and resp is not None:
        from . import responses

        return dict(responses.get(resp.name, **(parameters or {})).params)
    if parameters:
        raise ValueError(f"quantity {quantity!r} takes no parameters, got {', '.join(parameters)}")
    return {}


def band_values(model: Model, k: np.ndarray, quantity: str, component: str | None = None,
                degeneracy_tol: float = 1e-6, parameters: dict[str, Any] | None = None, kramers: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
    """Energies (N, n) and the per-band quantity (N, n) at Cartesian ``k`` (N, dim); ``parameters``: those of the
    ``conventional_spin`` response for that quantity (:func:`quantity_parameters`); ``kramers``: pair means."""
    energy, value = _band_values(model, k, quantity, component, degeneracy_tol, parameters)
    if not kramers:
        return energy, value
    if value.shape[1] % 2:
        raise ValueError(f"kramers=True needs an even number of bands, model '{model.name}' has {value.shape[1]}")
    pair = value.reshape(len(value), -1, 2).mean(axis=2)
    return energy, np.repeat(pair, 2, axis=1)


def _band_values(model: Model, k: np.ndarray, quantity: str, component: str | None, degeneracy_tol: float,
                 parameters: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
    view, resp = _view(quantity)
    idx = _component(quantity, component, model.dim)
    params = quantity_parameters(quantity, parameters)
    if view.needs_spin and not model.has_spin:
        why = model.info.get("spin_operator") if isinstance(model.info, dict) else None
        raise ValueError(f"quantity {quantity!r} needs a spin operator, but model '{model.name}' has none"
                         + (f" ({why})" if why else ""))
    torque = resp is not None and "torque" in resp.geometry
    g = geo.band_geometry(model, np.asarray(k, dtype=float), degeneracy_tol, with_spin=view.needs_spin,
                          with_torque=torque)
    return g.energies, view.values(g, params)[_positions(view, idx, model.dim)]


def value_unit(model: Model, quantity: str) -> str:
    """The unit of a per-band quantity: its view's unit, with lengths in the lattice constant a where the model's
    k is dimensionless (``info["k_units"] == "1/a"``: Ω in a², not Å²)."""
    unit = _view(quantity)[0].unit
    return unit.replace("Å", "a") if str(model.info.get("k_units", "1/Å")) == "1/a" else unit


def _attrs(model: Model, quantity: str, component: str | None, fermi: float,
           parameters: dict[str, Any] | None = None, degeneracy_tol: float = 1e-6, kramers: bool = False
           ) -> dict[str, Any]:
    from . import __version__

    comp = ",".join(AXES[i] for i in _component(quantity, component, model.dim))
    desc = model.describe()
    return {"quantity": quantity, "component": comp, "units": value_unit(model, quantity), "fermi_eV": float(fermi),
            "quantity_parameters": json.dumps(quantity_parameters(quantity, parameters), default=str),
            "degeneracy_tol_eV": float(degeneracy_tol), "kramers_pair_mean": int(bool(kramers)),
            "properspin_version": __version__, "model": desc["model"], "dim": desc["dim"],
            "model_parameters": json.dumps(desc["model_parameters"], default=str),
            "model_info": json.dumps(desc["model_info"], default=str)}


def bands(model: Model, quantity: str = "berry", component: str | None = None, *, path: Any = None,
          fermi: float = 0.0, npoints: int = 120, parameters: dict[str, Any] | None = None,
          degeneracy_tol: float = 1e-6, kramers: bool = False) -> Any:
    """Bands along ``path`` (default: the lattice's standard path, :mod:`properspin.kpath`, with the atoms of a
    Wannier90 run's ``.win``) with the per-band ``quantity``; an ``xarray.Dataset`` with ``energy`` and ``value``
    (k, band), the Cartesian k, the distance along the path and the tick labels in its attributes.
    ``parameters``: the ``conventional_spin`` response's (``{"method": "qiao", "broadening": 0.1}``)."""
    import xarray as xr

    fermi = finite_float(fermi, "fermi")
    check_size(positive_int(npoints, "npoints"), "path points", "npoints")
    segments = _path(model, path)
    k, x, ticks, labels = kp.sample(segments, n=npoints)
    energy, value = band_values(model, k, quantity, component, degeneracy_tol, parameters, kramers)
    coords = {"distance": ("k", x), **{f"k{a}": ("k", k[:, i]) for i, a in enumerate(AXES[: model.dim])}}
    ds = xr.Dataset({"energy": (("k", "band"), energy), "value": (("k", "band"), value)}, coords=coords)
    ds["energy"].attrs["units"] = "eV"
    ds["value"].attrs["units"] = value_unit(model, quantity)
    ds.attrs = {**_attrs(model, quantity, component, fermi, parameters, degeneracy_tol, kramers),
                "ticks": json.dumps(ticks),
                "labels": json.dumps(labels, ensure_ascii=False)}
    return ds


def _path(model: Model, path: Any) -> list[kp.Segment]:
    if path is not None:
        return kp.from_corners(path) if not (path and len(path[0]) == 4) else list(path)
    if model.periodic:
        lattice = 2 * np.pi * np.linalg.inv(model.reciprocal).T
        atoms = _win_atoms(model)
        if atoms is not None:
            return kp.lattice_path(lattice, atoms[0], atoms[1], dim=model.dim)
        return kp.lattice_path(lattice, dim=model.dim)
    r = 0.1
    unit = np.eye(model.dim) * r
    end = ("k_z", unit[2]) if model.dim == 3 else ("k_x", unit[0])
    return kp.from_corners([("-k_x", -unit[0]), ("Γ", np.zeros(model.dim)), end])


def _win_atoms(model: Model) -> tuple[np.ndarray, list[int]] | None:
    """Fractional positions and species numbers of the atoms in the ``.win`` of a Wannier90 run (None otherwise)."""
    files = model.info.get("files") if isinstance(model.info, dict) else None
    win = files.get("win") if isinstance(files, dict) else None
    if not win or not Path(win).is_file() or model.dim != 3:
        return None
    from .symmetry import structure_from_win

    try:
        st = structure_from_win(win)
    except ValueError:
        return None  # no atoms block: one atom at the origin
    table: dict[Any, int] = {}
    return st.positions, [table.setdefault(s, len(table) + 1) for s in st.species]


def kslice(model: Model, quantity: str = "berry", component: str | None = None, *, fermi: float = 0.0,
           normal: str = "z", offset: float = 0.0, extent: float | None = None, n: int = 81,
           parameters: dict[str, Any] | None = None, degeneracy_tol: float = 1e-6, kramers: bool = False) -> Any:
    """Map of ``quantity`` on the plane k_normal = ``offset`` (Cartesian), a square [−extent, extent]² in the two
    other directions (default: half the longest reciprocal vector; 0.1 Å⁻¹ for a continuum model).

    ``value`` (u, v, band) per band, ``energy`` (u, v, band) and ``occupied`` = Σ_m θ(E_F − ε_m) Q_m (u, v).
    A 2D model has only the plane itself (``normal`` z, ``offset`` 0).
    """
    import xarray as xr

    if normal not in AXES[: max(model.dim, 3)] or (model.dim == 2 and (normal != "z" or offset)):
        raise ValueError(f"normal must be one of x, y, z (a 2D model: z with offset 0), got {normal!r}")
    fermi, offset = finite_float(fermi, "fermi"), finite_float(offset, "offset")
    n = positive_int(n, "n (points per side of the map)", minimum=2)
    check_size(n * n, "map points", f"n = {n} (points per side of the map)")
    if extent is None:
        extent = 0.5 * float(np.linalg.norm(model.reciprocal, axis=1).max()) if model.periodic else 0.1
    extent = finite_float(extent, "extent (Å⁻¹)", positive=True)
    axes = [a for a in AXES if a != normal][:2]
    u = np.linspace(-extent, extent, int(n))
    uu, vv = np.meshgrid(u, u, indexing="ij")
    k3 = np.zeros((uu.size, 3))
    k3[:, AXES.index(axes[0])] = uu.ravel()
    k3[:, AXES.index(axes[1])] = vv.ravel()
    k3[:, AXES.index(normal)] = offset
    energy, value = band_values(model, k3[:, : model.dim], quantity, component, degeneracy_tol, parameters, kramers)
    occupied = np.where(energy <= fermi, value, 0.0).sum(axis=1)
    shape = (int(n), int(n))
    ds = xr.Dataset({"energy": (("u", "v", "band"), energy.reshape(*shape, -1)),
                     "value": (("u", "v", "band"), value.reshape(*shape, -1)),
                     "occupied": (("u", "v"), occupied.reshape(shape))},
                    coords={"u": u, "v": u.copy()})
    k_units = str(model.info.get("k_units", "1/Å"))  # "1/a": a lattice model without a lattice constant
    ds["u"].attrs |= {"units": k_units, "axis": f"k{axes[0]}"}
    ds["v"].attrs |= {"units": k_units, "axis": f"k{axes[1]}"}
    ds["energy"].attrs["units"] = "eV"
    for name in ("value", "occupied"):
        ds[name].attrs["units"] = value_unit(model, quantity)
    ds.attrs = {**_attrs(model, quantity, component, fermi, parameters, degeneracy_tol, kramers), "normal": normal,
                "offset": float(offset),
                "extent": float(extent)}
    if model.periodic:  # rows, in the units of u and v: the plot draws the first Brillouin zone's boundary
        ds.attrs["reciprocal"] = json.dumps(np.asarray(model.reciprocal, dtype=float).tolist())
    return ds


# ---------------------------------------------------------------------------------------------- figures
def _label(ds: Any) -> str:
    comp = ds.attrs["component"].split(",")
    unit = ds.attrs["units"].replace("hbar", "ħ").replace("^2", "²")
    return f"${_view(ds.attrs['quantity'])[0].symbol.format(*comp)}$ ({unit})"


#: percentile of |value| at which the symmetric-log colours of a band plot saturate
LOG_CLIP = 99.5


def _norm(values: np.ndarray, log: bool = False) -> Any:
    """Symmetric colour scale: linear clipped at the 99th percentile of |value|, or (``log``) symmetric-log from
    the median |value| to the :data:`LOG_CLIP` percentile (curvatures along a path span orders of magnitude near
    small gaps; a few near-degenerate points, Ω ~ 1e8 Å² inside a slightly split Kramers pair, would otherwise
    wash out every other colour)."""
    from matplotlib.colors import Normalize, SymLogNorm

    a = np.abs(values[np.isfinite(values)])
    if log and a.size and a.max() > 0:
        vmax = float(np.percentile(a, LOG_CLIP)) or float(a.max())
        return SymLogNorm(linthresh=max(float(np.median(a)), 1e-6 * vmax), vmin=-vmax, vmax=vmax, base=10)
    vmax = float(np.percentile(a, 99)) if a.size else 0.0
    return Normalize(-(vmax or 1.0), vmax or 1.0)


def _log_ticks(cb: Any, norm: Any) -> None:
    """0 and ±10^j of a symmetric-log colour bar, at most four decades a side and none crowding 0."""
    from matplotlib.colors import SymLogNorm

    if not isinstance(norm, SymLogNorm):
        return
    lo = math.floor(math.log10(norm.linthresh)) + 1
    hi = math.floor(math.log10(norm.vmax))
    if hi < lo:
        return
    step = max(1, math.ceil((hi - lo + 1) / 4))
    powers = [10.0**j for j in range(hi, lo - 1, -step)]
    cb.set_ticks([-p for p in powers] + [0.0] + powers[::-1])
    cb.set_ticklabels([f"$-10^{{{round(math.log10(p))}}}$" for p in powers] + ["0"]
                      + [f"$10^{{{round(math.log10(p))}}}$" for p in powers[::-1]])


def _what(ds: Any) -> str:
    """'conventional_spin (z,x,y; qiao, η = 0.1 eV; Kramers-pair mean)' for titles."""
    notes = [ds.attrs["component"]]
    params = json.loads(ds.attrs.get("quantity_parameters", "{}"))
    if "method" in params and "broadening" in params:
        notes.append(f"{params['method']}, η = {params['broadening']:g} eV")
    elif params:
        notes.append(", ".join(f"{key} = {value}" for key, value in params.items()))
    if int(ds.attrs.get("kramers_pair_mean", 0)):
        notes.append("Kramers-pair mean")
    return f"{ds.attrs['quantity']} ({'; '.join(notes)})"


def plot_bands(ds: Any, path: str | Path, window: tuple[float, float] | None = None, relative: bool = False) -> Path:
    """PNG of the bands coloured by ``value`` (diverging colours, 0 = white-grey), E_F dashed; ``relative``:
    energies as E − E_F (``window`` then relative too)."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    x, e, v = ds["distance"].values, ds["energy"].values, ds["value"].values
    fermi = ds.attrs["fermi_eV"]
    shown_fermi = fermi
    if relative:
        e, fermi = e - fermi, 0.0
    if window is None:
        window = (fermi - 3.0, fermi + 3.0) if np.ptp(e) > 6 else (float(e.min()), float(e.max()))
    lo, hi = window
    pad = 0.03 * (hi - lo)
    inside = (e >= lo - pad) & (e <= hi + pad)
    norm = _norm(v[inside] if inside.any() else v, log=ds.attrs["quantity"] != "spin")
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.subplots()
    step = np.diff(x) > 0  # no line across a joint or a break of the path (same distance, different k)
    for m in range(e.shape[1]):
        pts = np.stack([x, e[:, m]], axis=1)
        segs = np.stack([pts[:-1], pts[1:]], axis=1)[step]
        lc = LineCollection(segs, cmap="coolwarm", norm=norm, linewidths=2.2)
        lc.set_array((0.5 * (v[:-1, m] + v[1:, m]))[step])
        ax.add_collection(lc)
    ticks, labels = json.loads(ds.attrs["ticks"]), json.loads(ds.attrs["labels"])
    for t in ticks[1:-1]:
        ax.axvline(t, color="0.75", lw=0.7, zorder=0)
    ax.axhline(fermi, color="k", lw=0.8, ls="--", zorder=0)
    ax.set_xticks(ticks, labels, fontsize="large")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_ylabel("$E - E_F$ (eV)" if relative else "$E$ (eV)")
    ax.set_title(f"{ds.attrs['model']}, $E_F$ = {shown_fermi:g} eV (dashed)\nbands coloured by {_what(ds)}",
                 fontsize="medium")
    cb = fig.colorbar(lc, ax=ax, extend="both" if ds.attrs["quantity"] != "spin" else "neither")
    _log_ticks(cb, norm)
    cb.set_label(_label(ds) + (f", symmetric log, saturated beyond the {LOG_CLIP:g}th percentile"
                               if ds.attrs["quantity"] != "spin" else ""), fontsize="small")
    fig.savefig(path, dpi=130)
    return Path(path)


def plot_kslice(ds: Any, path: str | Path) -> Path:
    """PNG of the occupied sum Σ_m θ(E_F − ε_m) Q_m on the plane with the Fermi lines ε_m = E_F (black)."""
    from matplotlib.figure import Figure

    u, v = ds["u"].values, ds["v"].values
    occ, e = ds["occupied"].values, ds["energy"].values
    fermi = ds.attrs["fermi_eV"]
    fig = Figure(figsize=(6.6, 5.4), layout="constrained")
    ax = fig.subplots()
    norm = _norm(occ, log=True)
    mesh = ax.pcolormesh(u, v, occ.T, cmap="coolwarm", norm=norm, shading="nearest")
    for m in range(e.shape[-1]):
        if e[..., m].min() < fermi < e[..., m].max():
            ax.contour(u, v, e[..., m].T, levels=[fermi], colors="k", linewidths=0.9)
    boundary = "reciprocal" in ds.attrs and _zone_boundary(ax, ds)
    ax.set_xlim(u[0], u[-1])
    ax.set_ylim(v[0], v[-1])
    ax.set_aspect("equal")
    unit = {"1/Å": "Å⁻¹", "1/a": "1/a"}.get(ds["u"].attrs.get("units", "1/Å"), ds["u"].attrs.get("units"))
    ax.set_xlabel(f"${ds['u'].attrs['axis'][0]}_{ds['u'].attrs['axis'][1]}$ ({unit})")
    ax.set_ylabel(f"${ds['v'].attrs['axis'][0]}_{ds['v'].attrs['axis'][1]}$ ({unit})")
    ax.set_title(f"{ds.attrs['model']}: occupied {_what(ds)} at "
                 f"$k_{ds.attrs['normal']}$ = {ds.attrs['offset']:g}, $E_F$ = {fermi:g} eV\nFermi lines black"
                 + (", first Brillouin zone boundary grey dashed" if boundary else ""), fontsize="small")
    cb = fig.colorbar(mesh, ax=ax, extend="both")
    _log_ticks(cb, norm)
    cb.set_label(r"$\sum_m \theta(E_F - \varepsilon_m)$ " + _label(ds) + f", symmetric log, saturated beyond the "
                 f"{LOG_CLIP:g}th percentile", fontsize="small")
    fig.savefig(path, dpi=130)
    return Path(path)


def _zone_boundary(ax: Any, ds: Any) -> bool:
    """Draw where the plane of the map cuts the first Brillouin zone's boundary (the points equidistant from Γ
    and the nearest other reciprocal lattice point, G ∈ {−2..2}³); False when the plane misses it."""
    rec = np.asarray(json.loads(ds.attrs["reciprocal"]), dtype=float)
    dim = rec.shape[0]
    g = np.array(list(itertools.product(range(-2, 3), repeat=dim)), dtype=float) @ rec
    g = g[np.any(g != 0, axis=1)]
    u = np.linspace(ds["u"].values[0], ds["u"].values[-1], 241)
    uu, vv = np.meshgrid(u, u, indexing="ij")
    k = np.zeros((uu.size, 3))
    names = [ds["u"].attrs["axis"][1], ds["v"].attrs["axis"][1], ds.attrs["normal"]]
    for axis, values in zip(names, (uu.ravel(), vv.ravel(), ds.attrs["offset"]), strict=True):
        k[:, AXES.index(axis)] = values
    # > 0 outside the zone: k·G > |G|²/2 for some G
    outside = (k[:, :dim] @ g.T / (g * g).sum(axis=1) - 0.5).max(axis=1).reshape(uu.shape)
    if outside.min() > 0 or outside.max() < 0:
        return False
    ax.contour(u, u, outside.T, levels=[0.0], colors="0.35", linewidths=1.0, linestyles="--")
    return True


def save(ds: Any, path: str | Path) -> Path:
    """Write a bands/slice dataset as netCDF (atomically, as :func:`properspin.io.save`)."""
    from .io import _atomic, _engine

    with _atomic(path, ".nc.tmp") as tmp:
        ds.to_netcdf(tmp, engine=_engine())
    return Path(path)
