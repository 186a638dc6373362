"""Reproduce Figs. 1–2 of Liu, Cullen & Culcer (2023) and check each claim the paper makes about them.

``properspin reproduce [--quick]`` calls :func:`run`, which writes into the output folder:
``fig1.png/.nc/.csv`` (Bi2Se3 σ^y_zx and σ^x_zx vs E_F for m ∥ x, y, z and the block trace at m = 0),
``fig2a.*`` (GaAs σ^z_yx vs E_F at two gate fields), ``fig2b.*`` (σ^z_yx vs F_z for GaAs, InAs, InSb, Ge),
``fig2a_subbands.*`` and ``fig2b_subbands.*`` (the same with the well solved in z, :mod:`.holes`; the PNGs show
both) and ``REPORT.md``.  The Bi2Se3 in-gap values are also computed against the cutoff radius and on the lattice
regularisation of Eq. (10) (:func:`~properspin.models.topological_insulator.topological_insulator_lattice`), and
the report says which of them depend on the cutoff.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .. import __version__, conductivity, mesh
from ..io import check_space, check_target, save, write_bytes
from ..models import hole_quantum_well, topological_insulator
from ..models.topological_insulator import topological_insulator_lattice
from . import holes
from .provenance import merge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Meshes and sweeps; ``quick`` is for CI and first contact."""

    ti_mesh: tuple[float, int, int, int]  # sphere (radius Å⁻¹, nk, ntheta, nphi)
    ti_fermi: np.ndarray
    convergence_radii: tuple[float, ...]
    convergence_meshes: tuple[tuple[int, int, int], ...]
    hole_mesh: tuple[float, int, int]  # disk (radius Å⁻¹, nk, nphi)
    hole_fermi: np.ndarray
    fields: np.ndarray
    lattice_grids: tuple[int, ...] = (16, 24)  # Monkhorst–Pack grids of the lattice-regularised Bi2Se3

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if quick:
            return cls((0.5, 60, 12, 12), np.linspace(-0.3, 0.5, 33), (0.3, 0.5), ((40, 8, 8), (60, 12, 12)),
                       (0.2, 120, 16), np.linspace(-0.01, 0.03, 21), np.linspace(0.5e6, 5e6, 5), (12, 16))
        return cls((0.5, 200, 40, 40), np.linspace(-0.3, 0.5, 161), (0.3, 0.5, 1.0, 2.0),
                   ((80, 16, 16), (160, 32, 32), (240, 48, 48)),
                   (0.2, 400, 64), np.linspace(-0.01, 0.03, 81), np.linspace(0.25e6, 5e6, 20), (48, 64, 96))


TI_DIRECTIONS = {"x": (1e-3, 0.0, 0.0), "y": (0.0, 1e-3, 0.0), "z": (0.0, 0.0, 1e-3)}
#: The Bi2Se3 choices reported: |m| = 1 meV along x, y, z (the paper's regulator) and none (block trace).
TI_CHOICES = {**TI_DIRECTIONS, "none": (0.0, 0.0, 0.0)}
TI_GAP_EF, TI_CB_EF = 0.1, 0.4  # eV: in the bulk gap, in the conduction band
HOLE_FERMI = {"GaAs": 0.015, "InAs": 0.040, "InSb": 0.060, "Ge": 0.020}  # eV, Fig. 2(b)


def _sphere(spec):
    return mesh.sphere(*spec)


def _component(res: xr.DataArray, spin: str, current: str, field: str) -> xr.DataArray:
    return res.sel(spin=spin, current=current, field=field, drop=True)


# ---------------------------------------------------------------------------- computations
def figure1(s: Settings, bar) -> xr.DataArray:
    """Proper spin conductivity tensor of Bi2Se3 for |m| = 1 meV along x, y, z (Fig. 1) and at m = 0
    (Kramers-degenerate: block trace, conventions §3), along a ``magnetization`` dimension x, y, z, none."""
    parts = []
    for label, m in TI_CHOICES.items():
        res = conductivity(topological_insulator(magnetization=m), "proper_spin", fermi=s.ti_fermi,
                           mesh=_sphere(s.ti_mesh))
        parts.append(res.expand_dims(magnetization=[label]))
        bar.update()
    out = xr.concat(parts, dim="magnetization", combine_attrs="drop_conflicts")
    out.attrs = merge({str(p["magnetization"].item()): p for p in parts}, "magnetization")
    out.attrs["magnitude_m_eV"] = 1e-3
    return out


def conventional_ti(s: Settings, bar) -> xr.DataArray:
    res = conductivity(topological_insulator(magnetization=TI_DIRECTIONS["z"]), "conventional_spin",
                       fermi=s.ti_fermi, mesh=_sphere(s.ti_mesh))
    bar.update()
    return res


def convergence(s: Settings, bar) -> list[dict]:
    """In-gap and conduction-band σ^y_zx against the cutoff radius (every choice of TI_CHOICES) and against the
    mesh density (m ∥ z).  Rows: radius, mesh, choice, gap, cb, seconds."""
    rows = []
    fermi = [TI_GAP_EF, TI_CB_EF]
    nk0, nt0, np0 = s.ti_mesh[1:]
    r0 = s.ti_mesh[0]
    cases = [(label, (r, max(nk0, round(nk0 * r / r0)), nt0, np0)) for r in s.convergence_radii
             for label in TI_CHOICES]
    cases += [("z", (r0, *m)) for m in s.convergence_meshes]
    for label, spec in cases:
        t = time.perf_counter()
        res = conductivity(topological_insulator(magnetization=TI_CHOICES[label]), "proper_spin", fermi=fermi,
                           mesh=_sphere(spec))
        vals = _component(res, "y", "z", "x").values
        rows.append({"radius": spec[0], "nk": spec[1], "ntheta": spec[2], "nphi": spec[3], "choice": label,
                     "gap": float(vals[0]), "cb": float(vals[1]), "seconds": time.perf_counter() - t})
        bar.update()
    return rows


def lattice(s: Settings, bar) -> list[dict]:
    """In-gap σ^y_zx of the lattice-regularised Eq. (10) (no cutoff) for every choice of TI_CHOICES, on the
    grids ``s.lattice_grids`` (Γ-centred: a shifted Monkhorst–Pack grid breaks the hexagonal symmetry)."""
    rows = []
    for n in s.lattice_grids:
        for label, m in TI_CHOICES.items():
            t = time.perf_counter()
            model = topological_insulator_lattice(magnetization=m)
            res = conductivity(model, "proper_spin", fermi=[TI_GAP_EF, TI_CB_EF], mesh=mesh.grid(n))
            vals = _component(res, "y", "z", "x").values
            rows.append({"n": n, "choice": label, "gap": float(vals[0]), "cb": float(vals[1]),
                         "seconds": time.perf_counter() - t, "lattice": model.parameters["lattice"],
                         "a": model.parameters["a_angstrom"], "c": model.parameters["c_angstrom"]})
        bar.update()
    return rows


def magnitude_scan(s: Settings, bar) -> dict[float, float]:
    """In-gap σ^y_zx for |m_z| = 0.1, 1, 10 meV: conventions §3 says the size should not matter for Bi2Se3."""
    out = {}
    for mz in (1e-4, 1e-3, 1e-2):
        res = conductivity(topological_insulator(magnetization=(0, 0, mz)), "proper_spin", fermi=[0.1],
                           mesh=_sphere(s.ti_mesh))
        out[mz] = float(_component(res, "y", "z", "x").values[0])
        bar.update()
    return out


def figure2a(s: Settings, bar) -> xr.DataArray:
    parts = []
    for field in (1e6, 2e6):
        model = hole_quantum_well("GaAs", field=field, luttinger="paper")
        res = conductivity(model, "proper_spin", fermi=s.hole_fermi, mesh=mesh.disk(*s.hole_mesh))
        parts.append(_component(res, "z", "y", "x").expand_dims(gate_field=[field]))
        bar.update()
    out = xr.concat(parts, dim="gate_field", combine_attrs="drop_conflicts")
    out.attrs = merge({f"{p['gate_field'].item():g} V/m": p for p in parts}, "gate_field")
    out["gate_field"].attrs["units"] = "V/m"
    return out


def figure2b(s: Settings, bar) -> xr.DataArray:
    data = np.zeros((len(HOLE_FERMI), len(s.fields)))
    edges, runs = {}, {}
    for i, (mat, ef) in enumerate(HOLE_FERMI.items()):
        for j, field in enumerate(s.fields):
            model = hole_quantum_well(mat, field=float(field), luttinger="paper")
            res = conductivity(model, "proper_spin", fermi=[ef], mesh=mesh.disk(*s.hole_mesh))
            runs[f"{mat} {float(field):g} V/m"] = res
            data[i, j] = _component(res, "z", "y", "x").item()
            edges[(mat, float(field))] = model.info["subband_edges_eV"]
        bar.update()
    out = xr.DataArray(data, dims=("material", "gate_field"),
                       coords={"material": list(HOLE_FERMI), "gate_field": s.fields}, name="sigma_z_yx")
    out.attrs = merge(runs, "material, gate_field")
    out.attrs |= {"properspin_version": __version__, "units": "e/8pi", "fermi_eV": str(HOLE_FERMI),
                  "width_m": 25e-9, "magnetization_eV": 1e-3, "luttinger": "paper Table I", "mesh": "disk",
                  "mesh_radius": s.hole_mesh[0], "mesh_nk": s.hole_mesh[1], "mesh_nphi": s.hole_mesh[2]}
    out["gate_field"].attrs["units"] = "V/m"
    return out


# ---------------------------------------------------------------------------- output
def _write_csv(path: Path, columns: dict[str, np.ndarray], header: str) -> None:
    import io

    names = list(columns)
    table = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
    buf = io.BytesIO()
    np.savetxt(buf, table, delimiter=",", header=header + "\n" + ",".join(names), comments="# ", fmt="%.10g")
    write_bytes(path, buf.getvalue())


def _plot(path: Path, curves: list[tuple[np.ndarray, np.ndarray, str]], xlabel: str, ylabel: str, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for x, y, label in curves:
        ax.plot(x, y, label=label)
    ax.axhline(0, color="0.7", lw=0.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, dpi=130, format="png")
    plt.close(fig)
    write_bytes(path, buf.getvalue())


FILES = tuple(f"fig{n}.{ext}" for n in ("1", "2a", "2b") for ext in ("png", "nc", "csv")) + ("REPORT.md",)


def check_output(out: Path, quick: bool, force: bool = False) -> None:
    """Before computing: every file can be written, and a quick run does not replace full-resolution figures
    (a folder whose REPORT.md was written without ``--quick``) unless ``force``."""
    report = out / "REPORT.md"
    if quick and not force and report.is_file():
        try:
            full = "properspin reproduce --quick" not in report.read_text(encoding="utf-8", errors="replace")
        except OSError:
            full = True
        if full:
            raise ValueError(f"{out} holds full-resolution figures (its REPORT.md is of a run without --quick); a "
                             "--quick run would replace them: choose another --output, or pass --force")
    for name in FILES:
        check_target(out / name)
    check_space(out, len(FILES) * _FILE_BYTES, "the reproduction (its data, plots and REPORT.md)")


#: Bytes one output file of the reproduction may take (a generous bound for the free-space check).
_FILE_BYTES = 500_000


def run(output_dir: Path, quick: bool = False, progress: bool = True, force: bool = False) -> Path:
    """Compute every figure, write data, plots and REPORT.md into ``output_dir``; return the report path.

    ``quick`` refuses to overwrite a full-resolution reproduction unless ``force`` (:func:`check_output`).
    """
    from tqdm import tqdm

    s = Settings.make(quick)
    hs = holes.HoleSettings.make(quick)
    out = Path(output_dir)
    check_output(out, quick, force)
    steps = (len(TI_CHOICES) + 1 + len(TI_CHOICES) * len(s.convergence_radii) + len(s.convergence_meshes)
             + len(s.lattice_grids) + 3 + 2 + len(HOLE_FERMI))
    steps += 2 + len(HOLE_FERMI) + len(hs.convergence_nsub) + 2
    t0 = time.perf_counter()
    with tqdm(total=steps, desc="reproduce", disable=not progress, unit="run") as bar:
        fig1 = figure1(s, bar)
        conv_ti = conventional_ti(s, bar)
        conv = convergence(s, bar)
        lat = lattice(s, bar)
        mags = magnitude_scan(s, bar)
        fig2a = figure2a(s, bar)
        fig2b = figure2b(s, bar)
        sub = holes.compute(hs, s.hole_fermi, s.fields, HOLE_FERMI, bar)
    elapsed = time.perf_counter() - t0

    ef = s.ti_fermi
    yzx = {m: _component(fig1.sel(magnetization=m), "y", "z", "x").values for m in TI_CHOICES}
    xzx = {m: _component(fig1.sel(magnetization=m), "x", "z", "x").values for m in TI_DIRECTIONS}
    save(fig1, out / "fig1.nc")
    _write_csv(out / "fig1.csv", {"fermi_eV": ef, **{f"sigma_y_zx_m{m}": yzx[m] for m in TI_DIRECTIONS},
                                  **{f"sigma_x_zx_m{m}": v for m, v in xzx.items()},
                                  "conventional_sigma_y_zx_mz": _component(conv_ti, "y", "z", "x").values,
                                  "sigma_y_zx_block_trace_m0": yzx["none"]},
               f"Bi2Se3 proper spin conductivity, units (hbar/2e) S/m; |m| = 1 meV, or m = 0 (block trace); "
               f"sphere cutoff {s.ti_mesh[0]} 1/Angstrom: every value depends on the cutoff (REPORT.md)")
    _plot(out / "fig1.png", [(ef, yzx[m], f"σ^y_zx, m ∥ {m}") for m in TI_DIRECTIONS]
          + [(ef, yzx["none"], "σ^y_zx, m = 0 (block trace)"), (ef, xzx["z"], "σ^x_zx, m ∥ z")],
          "E_F (eV)", "σ (ħ/2e) S/m", f"Fig. 1: Bi2Se3, |m| = 1 meV; cutoff {s.ti_mesh[0]} Å⁻¹ — "
          "in-gap values depend on the cutoff (see REPORT.md)")
    save(fig2a, out / "fig2a.nc")
    _write_csv(out / "fig2a.csv", {"fermi_eV": fig2a.fermi.values,
                                   **{f"sigma_z_yx_F{f:.0e}": fig2a.sel(gate_field=f).values for f in (1e6, 2e6)}},
               "GaAs hole gas sigma^z_yx, units e/8pi; d = 25 nm, m_z = 1 meV")
    sub2a, sub2b = sub["fig2a"], sub["fig2b"]
    holes.plot_2a(out / "fig2a.png", fig2a, sub2a)
    save(sub2a, out / "fig2a_subbands.nc")
    _write_csv(out / "fig2a_subbands.csv", {"fermi_eV": sub2a.fermi.values,
                                            **{f"sigma_z_yx_F{f:.0e}": sub2a.sel(gate_field=f).values
                                               for f in (1e6, 2e6)}},
               f"GaAs hole gas solved in z (nsub = {hs.nsub}), sigma^z_yx, units e/8pi; d = 25 nm, m_z = 1 meV")
    save(fig2b, out / "fig2b.nc")
    _write_csv(out / "fig2b.csv", {"gate_field_V_per_m": s.fields,
                                   **{f"sigma_z_yx_{m}": fig2b.sel(material=m).values for m in HOLE_FERMI}},
               "sigma^z_yx (e/8pi) vs gate field; E_F = " + str(HOLE_FERMI))
    holes.plot_2b(out / "fig2b.png", fig2b, sub2b, HOLE_FERMI)
    save(sub2b, out / "fig2b_subbands.nc")
    _write_csv(out / "fig2b_subbands.csv", {"gate_field_V_per_m": sub2b.gate_field.values,
                                            **{f"sigma_z_yx_{m}": sub2b.sel(material=m).values for m in HOLE_FERMI}},
               f"hole gas solved in z (nsub = {hs.nsub}): sigma^z_yx (e/8pi) vs gate field; E_F = {HOLE_FERMI}")
    from .report import write_report

    return write_report(out, s, quick, elapsed, fig1, conv_ti, conv, mags, fig2a, fig2b, lat,
                        holes=holes.report_lines(hs, fig2a, fig2b, sub, elapsed) + holes.definition_lines(HOLE_FERMI))
