"""Figures of results: σ(E_F) curves, optionally beside the band structure along a k path.

matplotlib is imported inside the functions and used through ``Figure`` + the Agg canvas (no pyplot),
so plotting neither slows ``import properspin`` nor changes the user's interactive backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from .model import Model

KPath = Sequence[tuple[str, Sequence[float]]]

#: Dimensions whose labels select a tensor component; every other dimension but the x axis gives curves.
COMPONENT_DIMS = ("spin", "current", "field")

_PRETTY_UNITS = {"e/8pi": "e/8π", "e^2/h": "e²/h", "(hbar/2e) S/m": "(ħ/2e) S/m", "C/m^2": "C/m²"}


def pretty_unit(unit: str) -> str:
    """``e/8pi`` → ``e/8π``, ``(hbar/2e) S/m`` → ``(ħ/2e) S/m``."""
    return _PRETTY_UNITS.get(unit, unit.replace("hbar", "ħ").replace("pi", "π"))


def _component_dims(result: xr.DataArray) -> list[str]:
    """The dimensions that select a component: the response's tensor indices (``Response.tensor_dims``: spin,
    current, field; axis of a magnetisation), else those among :data:`COMPONENT_DIMS`."""
    from .responses import of_result

    resp = of_result(result)
    if resp is not None and all(d in result.dims for d in resp.tensor_dims):
        return [d for d in result.dims if d in resp.tensor_dims]
    return [d for d in result.dims if d in COMPONENT_DIMS]


def _symbol_dims(result: xr.DataArray) -> set[str]:
    """Dimensions besides the components that the response's plot symbol names (Appendix C's ``term``)."""
    from .responses import _template_fields, of_result

    resp = of_result(result)
    return _template_fields(resp.symbol) if resp is not None and resp.symbol else set()


def x_dim(result: xr.DataArray) -> str:
    """The horizontal axis: ``fermi`` when there is one, else the last dimension with numeric coordinates
    (``gate_field`` of the paper's Fig. 2(b))."""
    if "fermi" in result.dims:
        return "fermi"
    comps = _component_dims(result)
    numeric = [d for d in result.dims if d not in comps and result[d].values.dtype.kind in "fiu"]
    if not numeric:
        raise ValueError(f"nothing to plot against: no numeric dimension among {list(result.dims)}")
    return numeric[-1]


def symbol(result: xr.DataArray, index: dict[str, str]) -> str:
    """Mathtext symbol of one component, from its response (``Response.symbol``): ``$\\sigma^{z}_{yx}$``,
    ``$\\sigma_{xy}$``, ``$t^{y}_{x}$``, ``$M_{z}$``; ``spin = x`` for a response not registered here."""
    if not any(d in index for d in _component_dims(result)):  # a result of one component (paper's Fig. 2(b))
        import re

        name = str(result.name or "σ").replace("$", "")
        match = re.fullmatch(r"sigma_([xyz])_([xyz]{2})", name)  # sigma_z_yx → σ^z_yx in mathtext
        return f"$\\sigma^{{{match[1]}}}_{{{match[2]}}}$" if match else name
    from .responses import component_text, of_result

    resp = of_result(result)
    if resp is None or not _symbol_dims(result) <= set(index):  # unknown, or a result whose dims were changed
        return component_text(None, index, plain=False)
    return resp.plot_symbol(index)


def parse_component(text: str | Sequence[str] | dict[str, str], result: xr.DataArray) -> dict[str, str]:
    """``"z,y,x"`` / ``"zyx"`` / ``("z", "y", "x")`` / a dict → ``{spin: z, current: y, field: x}``."""
    dims = _component_dims(result)
    if isinstance(text, dict):
        labels = [text.get(d) for d in dims]
    elif isinstance(text, str):
        labels = text.split(",") if "," in text else list(text)
    else:
        labels = list(text)
    labels = [str(v).strip() for v in labels]
    if len(labels) != len(dims):
        raise ValueError(f"component {text!r} needs {len(dims)} labels ({', '.join(dims)}), e.g. "
                         + ",".join(str(result[d].values[-1]) for d in dims))
    for d, v in zip(dims, labels, strict=True):
        if v not in [str(x) for x in result[d].values]:
            raise ValueError(f"component {text!r}: {d} must be one of {[str(x) for x in result[d].values]}")
    return dict(zip(dims, labels, strict=True))


def default_components(result: xr.DataArray, limit: int = 9) -> list[dict[str, str]]:
    """The non-negligible Hall components: σ^l_ij with i > j for spin (σ^z_yx), i < j for charge (σ_xy)."""
    dims = _component_dims(result)
    if not dims:
        return [{}]
    grids = np.meshgrid(*[[str(v) for v in result[d].values] for d in dims], indexing="ij")
    cands = [dict(zip(dims, combo, strict=True)) for combo in zip(*(g.ravel() for g in grids), strict=True)]
    if "current" in dims and "field" in dims:
        spin_like = "spin" in dims
        cands = [c for c in cands if (c["current"] > c["field"] if spin_like else c["current"] < c["field"])]
    mags = [float(np.nanmax(np.abs(result.sel(c).values))) if result.size else 0.0 for c in cands]
    big = max(mags, default=0.0)
    chosen = [c for c, m in zip(cands, mags, strict=True) if big > 0 and m > 1e-6 * big]
    return (chosen or cands[:1])[:limit]


def band_path(kpath: KPath, n: int = 60) -> tuple[np.ndarray, np.ndarray, list[float], list[str]]:
    """k-points along straight segments between labelled corners; (k, distance, tick positions, labels)."""
    # a corner is (label, k), or at a break of the path ("U|K", [k_U, k_K]): arrive at k_U, leave from k_K
    ends = [np.asarray(k, dtype=float) for _, k in kpath]
    ends = [(k[0], k[1]) if k.ndim == 2 else (k, k) for k in ends]
    if len(ends) < 2:
        raise ValueError("a k path needs at least two corners")
    ks, dist, ticks, start = [], [], [0.0], 0.0
    for (_, a), (b, b_next) in zip(ends[:-1], ends[1:], strict=True):
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        ks.append(a + t * (b - a))
        length = float(np.linalg.norm(b - a))
        dist.append(start + t[:, 0] * length)
        start += length
        ticks.append(start)
        if not np.array_equal(b, b_next):  # a break: this piece ends at b, the next starts at the same distance
            ks.append(b[None])
            dist.append(np.array([start]))
    ks.append(ends[-1][0][None])
    dist.append(np.array([start]))
    return np.concatenate(ks), np.concatenate(dist), ticks, [label for label, _ in kpath]


def default_kpath(model: Model, mesh: Any = None) -> list[tuple[str, list[float]]]:
    """The lattice's standard path (:mod:`properspin.kpath`: Γ–M–K–Γ hexagonal, Γ–X–U|K–Γ–L–W–X fcc, …; where it
    breaks, the corner is ``("U|K", [k_U, k_K])`` and no line joins U and K) for a lattice model; −k_x → Γ → k_x
    (or k_z) to the cutoff for a continuum model."""
    dim = model.dim
    if model.periodic:
        from . import kpath

        segments = kpath.lattice_path(2 * np.pi * np.linalg.inv(model.reciprocal).T, dim=dim)
        corners = [(segments[0][0], segments[0][1].tolist())]
        for la, ka, lb, kb in segments:
            if corners[-1][0] != la:  # a break in the path: "U|K", arriving at U and leaving from K
                corners[-1] = (f"{corners[-1][0]}|{la}", [corners[-1][1], ka.tolist()])
            corners.append((lb, kb.tolist()))
        return corners
    params = dict(getattr(mesh, "params", ())) if mesh is not None else {}
    r = float(params.get("radius", 0.1))
    h = float(params.get("half_height", r))
    unit = np.eye(dim)
    end = ("$k_z$", h * unit[2]) if dim == 3 else ("$k_x$", r * unit[0])
    return [("$-k_x$", (-r * unit[0]).tolist()), ("Γ", [0.0] * dim), (end[0], end[1].tolist())]


def plot_result(
    result: xr.DataArray,
    path: str | Path,
    components: Sequence[Any] | None = None,
    bands: tuple[Model, KPath] | None = None,
) -> Path:
    """Write a PNG of σ(E_F): one curve per component (default: the non-negligible Hall ones).

    ``components`` e.g. ``["z,y,x"]`` (σ^z_yx) or ``["x,y"]`` (σ_xy); ``bands = (model, kpath)`` adds a
    band-structure panel (``kpath`` a list of ``(label, k)`` corners, see :func:`default_kpath`).
    """
    import itertools

    from matplotlib.figure import Figure

    comps = [parse_component(c, result) for c in components] if components else default_components(result)
    unit = pretty_unit(str(result.attrs.get("units", "")))
    xd = x_dim(result)
    tensor, named = _component_dims(result), _symbol_dims(result)
    series = [d for d in result.dims if d not in tensor and d != xd]  # term, temperature, material, ...
    combos = [dict(zip(series, c, strict=True)) for c in itertools.product(*(result[d].values for d in series))]

    nseries = len(comps) * len(combos)
    fig = Figure(figsize=(10.5 if bands else 6.5, 4.5) if nseries <= 4 else (12 if bands else 8.5, 4.8),
                 layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=[1, 1.4]) if bands else [fig.subplots()]
    ax = axes[-1]
    x = result[xd].values
    order = np.argsort(x)
    curves = []
    for comp, extra in itertools.product(comps, combos):
        index = {**comp, **{d: str(v) for d, v in extra.items() if d in named}}
        label = ", ".join([symbol(result, index)] + [_series_label(result, d, v) for d, v in extra.items()
                                                      if d not in named])
        curves.append((label, result.sel({**comp, **extra}).values[order]))
    curves = _merge_coincident(curves)
    nseries = len(curves)
    ymin, ymax = np.inf, -np.inf
    for (label, y), style in zip(curves, _styles(nseries), strict=True):
        if np.isfinite(y).any():
            ymin, ymax = min(ymin, float(np.nanmin(y))), max(ymax, float(np.nanmax(y)))
        ax.plot(x[order], y, marker=style[2] if len(x) < 40 else None, color=style[0], linestyle=style[1],
                markersize=4, label=label)
    if ymin <= 0.0 <= ymax:  # the zero line only where it does not stretch the axis away from the curves
        ax.axhline(0.0, color="0.6", lw=0.6)
    ax.set_xlabel("$E_F$ (eV)" if xd == "fermi" else _axis_label(result, xd))
    single = nseries == 1 and " = " not in curves[0][0]
    first = {**comps[0], **{d: str(v) for d, v in combos[0].items() if d in named}}
    name = symbol(result, first) if single else r"$\sigma$"
    ax.set_ylabel(f"{name} ({unit})")
    if not single:  # beside the axes, never over the curves
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
                  ncol=2 if nseries > 12 else 1)
    ax.set_title(title(result), fontsize="medium", wrap=True)
    if bands:
        _bands(axes[0], *bands, x if xd == "fermi" else np.zeros(1))
    return _save_png(fig, path)


#: Curves closer than this fraction of the plot's y range are drawn once, with one legend entry naming all of them.
COINCIDE = 0.005


def _merge_coincident(curves: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """Curves that lie on top of each other (within :data:`COINCIDE` of the y range: symmetry-equal components, or
    several that vanish) become one curve labelled ``a = b = c`` (``≈ 0`` where they vanish), so that no legend
    entry names a hidden curve."""
    finite = [y[np.isfinite(y)] for _, y in curves]
    values = np.concatenate(finite) if finite else np.zeros(0)
    span = float(np.ptp(values)) if values.size else 0.0
    tol = COINCIDE * (span or 1.0)
    groups: list[tuple[list[str], np.ndarray]] = []
    for label, y in curves:
        for names, ref in groups:
            if y.shape == ref.shape and np.array_equal(np.isnan(y), np.isnan(ref)) and np.nanmax(
                    np.abs(y - ref), initial=0.0) <= tol:
                names.append(label)
                break
        else:
            groups.append(([label], y))
    merged = []
    for names, y in groups:
        zero = len(names) > 1 and np.nanmax(np.abs(y), initial=0.0) <= tol
        merged.append((" = ".join(names) + (" ≈ 0" if zero else ""), y))
    return merged


def title(result: xr.DataArray) -> str:
    """``response — model``; a combined result (the paper's figures) has a JSON table of models in its
    attributes: then the model names only, once each (never the raw JSON)."""
    import json

    what = str(result.attrs.get("response", result.name or "result")).replace("_", " ")
    model = str(result.attrs.get("model", ""))
    if model.lstrip().startswith(("{", "[")):
        try:
            table = json.loads(model)
            names = table.values() if isinstance(table, dict) else table
            model = ", ".join(dict.fromkeys(str(n) for n in names))
        except json.JSONDecodeError:
            model = ""
    return f"{what} — {model}" if model else what


def _styles(n: int) -> list[tuple[Any, str, str]]:
    """``n`` distinguishable (colour, line style, marker): ten colours, then the next line style and marker."""
    lines, markers = ["-", "--", ":", "-."], ["o", "s", "^", "D"]
    return [(f"C{i % 10}", lines[(i // 10) % 4], markers[(i // 10) % 4]) for i in range(n)]


def _series_label(result: xr.DataArray, dim: str, value: Any) -> str:
    if dim == "temperature":
        return f"T = {float(value):g} K"
    unit = result[dim].attrs.get("units", "")
    text = f"{float(value):g}" if np.asarray(value).dtype.kind in "fiu" else str(value)
    return f"{dim} = {text} {unit}".rstrip()


def _axis_label(result: xr.DataArray, dim: str) -> str:
    unit = result[dim].attrs.get("units", "")
    return f"{dim.replace('_', ' ')} ({unit})" if unit else dim.replace("_", " ")


def _save_png(fig: Any, path: str | Path) -> Path:
    """PNG made in memory, then written atomically (an OSError naming ``path`` on failure)."""
    import io as stdio

    from .io import write_bytes

    buf = stdio.BytesIO()
    fig.savefig(buf, dpi=120, format="png")
    return write_bytes(path, buf.getvalue())


def _bands(ax: Any, model: Model, kpath: KPath, fermi: np.ndarray) -> None:
    k, x, ticks, labels = band_path(kpath)
    e = model.energies(k)
    cut = np.flatnonzero(np.diff(x) == 0) + 1  # breaks of the path (U|K): no line across
    ax.plot(np.insert(x, cut, np.nan), np.insert(e, cut, np.nan, axis=0), color="k", lw=1)
    lo, hi = float(np.min(fermi)), float(np.max(fermi))
    ax.axhspan(lo, hi, color="tab:blue", alpha=0.12, lw=0)
    below, above = e[e < lo], e[e > hi]  # show at least the nearest bands (an insulator's gap edges)
    lo = min(lo, float(below.max())) if below.size else lo
    hi = max(hi, float(above.min())) if above.size else hi
    pad = max(0.5 * (hi - lo), 0.02 * max(1.0, abs(hi)), 1e-3)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(x[0], x[-1])
    ax.set_xticks(ticks, labels)
    for t in ticks[1:-1]:
        ax.axvline(t, color="0.7", lw=0.6)
    ax.set_ylabel("E (eV)")
    ax.set_title(f"bands ({model.name})", fontsize="medium")
