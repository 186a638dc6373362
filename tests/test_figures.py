"""Every figure type (reproduce's Figs. 1, 2a, 2b; ``plot``; ``bands`` path and map) is readable: titles, labels and
legends inside the canvas, legends off the axes' data area, no raw JSON, no literal carets or underscores of
unrendered TeX, y ranges that show the curves' variation (issue 24)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.text import Text

import properspin as ps
from properspin import bands, mesh, models
from properspin.paper import holes, reproduce
from properspin.plotting import plot_result


@pytest.fixture
def captured(monkeypatch):
    """The figures saved while the test runs (Figure.savefig wrapped), each drawn once for its layout."""
    figs = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        original(self, *args, **kwargs)
        figs.append(self)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figs


def _texts(fig: Figure) -> list[Text]:
    """Titles, axis labels, legend entries and figure texts (tick labels beyond the view limits exist undrawn)."""
    out = [*fig.texts, *([fig._suptitle] if fig._suptitle is not None else [])]
    for ax in fig.axes:
        out += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
    for lg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        if lg is not None:
            out += lg.get_texts()
    return [t for t in out if isinstance(t, Text) and t.get_visible() and t.get_text().strip()]


def check_readable(fig: Figure) -> None:
    """The automatic checks of a readable figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # pyplot's close() left a bare canvas
    fig.draw(renderer)
    box = fig.bbox
    for t in _texts(fig):
        text = t.get_text()
        plain = re.sub(r"\$[^$]*\$", "", text)  # outside mathtext
        assert "^" not in plain and "_{" not in plain, f"literal TeX in {text!r}"
        assert not re.search(r"\b[A-Za-z]_[A-Z]\b", plain), f"a subscript written as text in {text!r}"  # E_F
        assert '{"' not in text and "\": " not in text, f"raw JSON in {text!r}"
        ext = t.get_window_extent(renderer)
        assert ext.x0 >= box.x0 - 4 and ext.x1 <= box.x1 + 4 and ext.y0 >= box.y0 - 4 and ext.y1 <= box.y1 + 4, \
            f"{text!r} outside the canvas: {ext} vs {box}"
    legends = [lg for lg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if lg is not None]
    for lg in legends:
        ext = lg.get_window_extent(renderer)
        assert box.x0 - 2 <= ext.x0 and ext.x1 <= box.x1 + 2 and box.y0 - 2 <= ext.y0 and ext.y1 <= box.y1 + 2
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>" or not ax.lines:
                continue
            assert not ext.overlaps(ax.get_window_extent(renderer)), "legend over the data"


def _shows_variation(ax) -> bool:
    """The y range is at most 3 times the span of the plotted curves (the zero line does not flatten them)."""
    ys = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.lines if len(line.get_ydata()) > 2])
    lo, hi = ax.get_ylim()
    return (hi - lo) <= 3 * np.ptp(ys[np.isfinite(ys)])


def test_reproduce_figures_are_readable(captured, tmp_path):
    ef = np.linspace(-0.3, 0.5, 41)
    yzx = {m: 1e3 * (np.tanh(10 * (ef - 0.27)) + s) for m, s in (("x", 1.5), ("y", 0.5), ("z", 1.2), ("none", 0.5))}
    reproduce.plot_fig1(tmp_path / "fig1.png", ef, yzx, 1e-6 * ef, 0.5, (0.02, 0.27))
    fig1 = captured[-1]
    check_readable(fig1)
    labels = fig1.axes[0].get_legend_handles_labels()[1]
    assert any("on top of m = 0" in lab for lab in labels)  # m ∥ y = m = 0 here: the hidden curve says so
    assert any("≈ 0" in lab for lab in labels)  # σ^x_zx on the axis
    fermi = np.linspace(0, 0.03, 21)
    paper2a = xr.DataArray(-np.outer([1, 1.2], np.clip(fermi / 0.01, 0, 1)), dims=("gate_field", "fermi"),
                           coords={"gate_field": [1e6, 2e6], "fermi": fermi})
    sub2a = (1.1 * paper2a).assign_attrs(nsub=4, nbasis=24)
    holes.plot_2a(tmp_path / "fig2a.png", paper2a, sub2a)
    check_readable(captured[-1])
    fields = np.linspace(0.5e6, 5e6, 6)
    mats = {"GaAs": 0.015, "InAs": 0.04}
    paper2b = xr.DataArray(-1 - 0.01 * np.outer([1, 2], np.sqrt(fields / 1e6)), dims=("material", "gate_field"),
                           coords={"material": list(mats), "gate_field": fields})
    holes.plot_2b(tmp_path / "fig2b.png", paper2b, (1.3 * paper2b).assign_attrs(nsub=4), mats)
    fig2b = captured[-1]
    check_readable(fig2b)
    assert "varies by ≤ 2.9 %" in fig2b.axes[0].get_title()  # InAs: 1 − (1 + 0.02·√0.5) / (1 + 0.02·√5)
    mats3 = {"GaAs": 0.015, "InAs": 0.04, "InSb": 0.06}
    three = xr.concat([paper2b, paper2b.sel(material="InAs").expand_dims(material=["InSb"]) + 1e-5], "material")
    holes.plot_2b(tmp_path / "fig2b3.png", three, (1.3 * three).assign_attrs(nsub=4), mats3)
    assert "InSb on InAs (curves coincide)" in captured[-1].axes[0].get_title()  # the hidden curve is named


def test_plot_of_a_combined_result_has_a_title_without_json_and_distinct_curves(captured, tmp_path):
    """Before: `properspin plot fig2b.nc` titled the figure with the JSON table of models, drew the axis from 0
    (flattening curves between −1.00 and −1.05) and repeated colours over 12 curves under a legend."""
    fields = np.linspace(0.25e6, 5e6, 8)
    data = xr.DataArray(-1 - 0.05 * np.outer(np.arange(12) / 11, fields / 5e6), dims=("material", "gate_field"),
                        coords={"material": [f"m{i}" for i in range(12)], "gate_field": fields}, name="sigma_z_yx")
    data.attrs = {"units": "e/8pi", "model": json.dumps({f"m{i} 1e6 V/m": "hole_quantum_well" for i in range(12)}),
                  "response": "proper_spin"}
    data["gate_field"].attrs["units"] = "V/m"
    plot_result(data, tmp_path / "p.png")
    fig = captured[-1]
    check_readable(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "proper spin — hole_quantum_well"
    assert _shows_variation(ax)
    styles = {(line.get_color(), line.get_linestyle()) for line in ax.lines if len(line.get_xdata()) > 2}
    assert len(styles) == 12


def test_bands_and_map_figures_are_readable(captured, tmp_path):
    model = models.bhz(u=1.0).with_zeeman((0, 0, 0.05))
    ds = bands.bands(model, "proper_spin", "z,z", fermi=0.1, npoints=20)
    bands.plot_bands(ds, tmp_path / "b.png", relative=True)
    fig = captured[-1]
    check_readable(fig)
    assert fig.axes[0].get_ylabel() == "$E - E_F$ (eV)"
    sl = bands.kslice(model, "berry", "z", fermi=0.1, normal="z", n=15)
    bands.plot_kslice(sl, tmp_path / "s.png")
    check_readable(captured[-1])
    assert captured[-1].axes[0].get_xlabel() == "$k_x$ (1/a)"  # BHZ has no lattice constant: k in 1/a, not Å⁻¹
    res = ps.conductivity(models.qwz(1.0), "charge", fermi=np.linspace(-1, 1, 5), mesh=mesh.grid(12))
    plot_result(res, tmp_path / "c.png")
    check_readable(captured[-1])


def test_coincident_curves_share_one_legend_entry(captured, tmp_path):
    """Before: a cubic crystal's σ plot listed 9 components for 3 visible curves (three equal σ^x_zy = σ^y_xz =
    σ^z_yx, six ≈ 0).  Coinciding curves are drawn once and named together; distinct ones keep their own entry."""
    fermi = np.linspace(-1, 1, 7)
    data = np.zeros((7, 3, 3, 3))
    for l, i, j in ((0, 2, 1), (1, 0, 2), (2, 1, 0)):  # σ^x_zy = σ^y_xz = σ^z_yx
        data[:, l, i, j] = 100 * np.tanh(fermi)
    data[:, 2, 2, 0] = 1e-4 * fermi  # tiny noise: ≈ 0
    data[:, 0, 1, 0] = 40 * fermi**2  # a distinct curve
    res = xr.DataArray(data, dims=("fermi", "spin", "current", "field"),
                       coords={"fermi": fermi, "spin": list("xyz"), "current": list("xyz"), "field": list("xyz")},
                       attrs={"units": "(hbar/e) S/cm", "response": "conventional_spin", "model": "toy"})
    plot_result(res, tmp_path / "p.png", components=["x,z,y", "y,x,z", "z,y,x", "z,z,x", "y,z,x", "x,y,x"])
    fig = captured[-1]
    check_readable(fig)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(labels) == 3 == len([ln for ln in fig.axes[0].lines if len(ln.get_xdata()) > 2])
    assert labels[0].count(" = ") == 2 and any(lab.endswith("≈ 0") for lab in labels)


def test_band_panel_breaks_the_fcc_path_at_u_k(captured, tmp_path):
    """Before: the band panel of ``run`` joined U and K with a straight line where ``bands`` breaks the path."""
    from properspin.model import Model
    from properspin.plotting import default_kpath

    cell = 3.9 / 2 * np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    bonds = np.array([s * a for a in cell for s in (1, -1)] + [a - b for a in cell for b in cell if a is not b])

    def h(k):
        return np.cos(np.asarray(k) @ bonds.T).sum(1)[:, None, None].astype(complex)

    def dh(k):
        return np.stack([(-np.sin(np.asarray(k) @ bonds.T) * bonds[:, a]).sum(1)[:, None, None].astype(complex)
                         for a in range(3)])

    model = Model(hamiltonian=h, gradient=dh, spin=None, dim=3, reciprocal=2 * np.pi * np.linalg.inv(cell).T,
                  name="fcc s")
    path = default_kpath(model)
    names = [name for name, _ in path]
    assert "U|K" in names and "U" not in names and "K" not in names
    res = ps.conductivity(model, "charge", fermi=[0.0, 1.0], mesh=mesh.grid(4))
    plot_result(res, tmp_path / "b.png", bands=(model, path))
    fig = captured[-1]
    check_readable(fig)
    x = fig.axes[0].lines[0].get_xdata()
    ticks = list(fig.axes[0].get_xticks())
    u_k = ticks[names.index("U|K")]
    gap = np.isnan(x)
    assert gap.sum() == 1 and abs(x[np.flatnonzero(gap)[0] - 1] - u_k) < 1e-12  # the line stops at U and restarts


def test_map_draws_the_zone_boundary_on_a_symmetric_log_scale(captured, tmp_path):
    """Before: the Σ/Ω map had no zone boundary and a linear scale clipped at the 99th percentile (a few hot spots
    left most pixels white).  Now: the first Brillouin zone's edge (QWZ: |k_x|, |k_y| = π) is drawn and the colours
    are symmetric-log."""
    from matplotlib.colors import SymLogNorm

    sl = bands.kslice(models.qwz(1.0), "berry", "z", fermi=0.0, extent=4.0, n=31)
    bands.plot_kslice(sl, tmp_path / "m.png")
    fig = captured[-1]
    check_readable(fig)
    ax = fig.axes[0]
    assert "Brillouin zone boundary" in ax.get_title()
    assert isinstance(ax.collections[0].norm, SymLogNorm)
    edge = [c for c in ax.collections if hasattr(c, "levels") and np.allclose(c.get_edgecolor()[0][:3], 0.35)]
    pts = np.concatenate([p.vertices for c in edge for p in c.get_paths()])
    assert len(pts) > 20 and np.allclose(np.abs(pts).max(axis=1), np.pi, atol=0.05)
