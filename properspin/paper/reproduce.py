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
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .. import __version__, conductivity, mesh
from ..io import check_space, check_target, save, write_bytes
from ..models import hole_quantum_well, topological_insulator
from ..models.topological_insulator import topological_insulator_lattice
from . import holes, wedge
from . import sections as sections_
from .provenance import merge
from .report import FILES, Reproduction, write_report

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


def _ti(model, response: str, fermi, spec=None, ball=None) -> xr.DataArray:
    """``conductivity`` of the Bi2Se3 k·p model on the sphere ``spec`` (or the ball/shell ``ball``), computed on its
    symmetric octant with 4 azimuths when the model is axial (:mod:`.wedge`: the full mesh's numbers to
    round-off)."""
    m = model.parameters["magnetization"]
    if ball is None:
        r, nk, nt, nphi = spec
        ball = mesh.sphere(r, nk, nt, wedge.axial_nphi(nphi, m))
    elif wedge.axial_nphi(dict(ball.params)["nphi"], m) != dict(ball.params)["nphi"]:
        ball = _shell(*(dict(ball.params)[k] for k in ("inner_radius", "radius", "nk", "ntheta")), wedge.AXIAL_NPHI)
    return wedge.conductivity_wedge(model, response, wedge.sign_group(m), wedge.sphere_octant(ball), fermi=fermi)


def _component(res: xr.DataArray, spin: str, current: str, field: str) -> xr.DataArray:
    return res.sel(spin=spin, current=current, field=field, drop=True)


# ---------------------------------------------------------------------------- computations
def figure1(s: Settings, bar) -> xr.DataArray:
    """Proper spin conductivity tensor of Bi2Se3 for |m| = 1 meV along x, y, z (Fig. 1) and at m = 0
    (Kramers-degenerate: block trace, conventions §3), along a ``magnetization`` dimension x, y, z, none.
    ``attrs["seconds"]`` holds each choice's time (the cutoff scan reuses these runs)."""
    parts, seconds = [], {}
    for label, m in TI_CHOICES.items():
        t = time.perf_counter()
        res = _ti(topological_insulator(magnetization=m), "proper_spin", s.ti_fermi, s.ti_mesh)
        seconds[label] = time.perf_counter() - t
        parts.append(res.expand_dims(magnetization=[label]))
        bar.update()
    out = xr.concat(parts, dim="magnetization", combine_attrs="drop_conflicts")
    out.attrs = merge({str(p["magnetization"].item()): p for p in parts}, "magnetization")
    out.attrs["magnitude_m_eV"] = 1e-3
    _FIG1_SECONDS.clear()
    _FIG1_SECONDS.update(seconds)
    return out


#: Seconds per magnetisation choice of the last :func:`figure1` (rows of the cutoff scan taken from it).
_FIG1_SECONDS: dict[str, float] = {}


def conventional_ti(s: Settings, bar) -> xr.DataArray:
    res = _ti(topological_insulator(magnetization=TI_DIRECTIONS["z"]), "conventional_spin", s.ti_fermi, s.ti_mesh)
    bar.update()
    return res


def _gap_cb(res: xr.DataArray) -> tuple[float, float]:
    """σ^y_zx at TI_GAP_EF and TI_CB_EF (nearest Fermi energy of ``res``; ``s.ti_fermi`` holds both)."""
    v = _component(res, "y", "z", "x")
    return tuple(float(v.sel(fermi=ef, method="nearest")) for ef in (TI_GAP_EF, TI_CB_EF))


def _on_sweep(fermi: np.ndarray) -> bool:
    """Whether Fig. 1's Fermi sweep holds TI_GAP_EF and TI_CB_EF (to 1e-9 eV), so its runs can be reused."""
    return all(np.min(np.abs(np.asarray(fermi) - ef)) < 1e-9 for ef in (TI_GAP_EF, TI_CB_EF))


def _shell(r_in: float, r_out: float, nk: int, ntheta: int, nphi: int):
    """The shell r_in ≤ |k| ≤ r_out (Gauss–Legendre in |k| on that interval): with the ball of radius r_in it
    integrates the ball of radius r_out (Eq. 1 is a sum over k, so ball and shell values add)."""
    from ..mesh import Sphere, _azimuth, _gauss

    params = (("radius", r_out), ("inner_radius", r_in), ("nk", nk), ("ntheta", ntheta), ("nphi", nphi))
    return Sphere((_gauss(nk, r_in, r_out), _gauss(ntheta, -1, 1), _azimuth(nphi)), params)


def _cutoff_rows(s: Settings, label: str, fig1: xr.DataArray | None) -> list[dict]:
    """σ^y_zx (gap, CB) of one magnetisation choice at every radius of ``s.convergence_radii``.  Radii up to Fig. 1's
    are balls (Fig. 1's own read from ``fig1``); larger ones add shells to the previous radius, with Fig. 1's radial
    density (nk0 / r0 points per Å⁻¹): the same points as one ball of the largest radius, every radius on the way."""
    r0, nk0, nt0, np0 = s.ti_mesh
    model = topological_insulator(magnetization=TI_CHOICES[label])
    rows, prev = [], None  # prev: (radius, gap, cb, seconds) of the last ball
    for r in sorted(s.convergence_radii):
        t = time.perf_counter()
        if fig1 is not None and r == r0 and _on_sweep(s.ti_fermi):
            gap, cb = _gap_cb(fig1.sel(magnetization=label, drop=True))
            seconds, nk = _FIG1_SECONDS.get(label, float("nan")), nk0
        elif r <= r0 or prev is None:
            nk = max(8, round(nk0 * r / r0)) if r < r0 else nk0  # Fig. 1's radial density
            gap, cb = _gap_cb(_ti(model, "proper_spin", [TI_GAP_EF, TI_CB_EF], (r, nk, nt0, np0)))
            seconds = time.perf_counter() - t
        else:
            nk_shell = max(8, round(nk0 * (r - prev[0]) / r0))
            g, c = _gap_cb(_ti(model, "proper_spin", [TI_GAP_EF, TI_CB_EF],
                               ball=_shell(prev[0], r, nk_shell, nt0, np0)))
            gap, cb, seconds = prev[1] + g, prev[2] + c, prev[3] + time.perf_counter() - t
            nk = prev[4] + nk_shell
        if r >= r0:
            prev = (r, gap, cb, seconds, nk)
        rows.append({"radius": r, "nk": nk, "ntheta": nt0, "nphi": np0, "choice": label, "gap": gap, "cb": cb,
                     "seconds": seconds})
    return rows


def convergence(s: Settings, bar, fig1: xr.DataArray | None = None) -> list[dict]:
    """In-gap and conduction-band σ^y_zx against the cutoff radius (every choice of TI_CHOICES, :func:`_cutoff_rows`)
    and against the mesh density (m ∥ z).  Rows: radius, mesh, choice, gap, cb, seconds (cumulative over the
    shells of a radius).  Rows on Fig. 1's own mesh are read from ``fig1`` (same model, mesh and Fermi energies:
    identical numbers) instead of computed again."""
    rows = []
    for label in TI_CHOICES:
        rows += _cutoff_rows(s, label, fig1)
        bar.update(len(s.convergence_radii))
    for m in s.convergence_meshes:
        spec = (s.ti_mesh[0], *m)
        t = time.perf_counter()
        if fig1 is not None and tuple(spec) == tuple(s.ti_mesh) and _on_sweep(s.ti_fermi):
            gap, cb = _gap_cb(fig1.sel(magnetization="z", drop=True))
            seconds = _FIG1_SECONDS.get("z", float("nan"))
        else:
            gap, cb = _gap_cb(_ti(topological_insulator(magnetization=TI_CHOICES["z"]), "proper_spin",
                                  [TI_GAP_EF, TI_CB_EF], spec))
            seconds = time.perf_counter() - t
        rows.append({"radius": spec[0], "nk": spec[1], "ntheta": spec[2], "nphi": spec[3], "choice": "z",
                     "gap": gap, "cb": cb, "seconds": seconds})
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
            res = conductivity(model, "proper_spin", fermi=[TI_GAP_EF, TI_CB_EF], engine=wedge.ENGINE,
                               mesh=mesh.grid(n, symmetry=_lattice_structure(model)))
            vals = _component(res, "y", "z", "x").values
            rows.append({"n": n, "choice": label, "gap": float(vals[0]), "cb": float(vals[1]),
                         "seconds": time.perf_counter() - t, "lattice": model.parameters["lattice"],
                         "a": model.parameters["a_angstrom"], "c": model.parameters["c_angstrom"]})
        bar.update()
    return rows


def _lattice_structure(model):
    """One site per cell of the lattice-regularised model: its magnetic point group (6/mmm with T where m
    requires) reduces the Γ-centred grid to its irreducible wedge, checked against the model by
    :func:`properspin.symmetry.resolve` (the full grid, with a warning, if the model broke it)."""
    from ..symmetry import Structure

    return Structure(2 * np.pi * np.linalg.inv(model.reciprocal).T, np.zeros((1, 3)), ["site"])


def magnitude_scan(s: Settings, bar, fig1: xr.DataArray | None = None) -> dict[float, float]:
    """In-gap σ^y_zx for |m_z| = 0.1, 1, 10 meV: conventions §3 says the size should not matter for Bi2Se3.
    A comparison at one mesh, so the coarsest of ``s.convergence_meshes`` (:func:`magnitude_mesh`; the mesh table
    of REPORT.md shows how far it is from Fig. 1's) serves; ``fig1`` is not used."""
    out = {}
    for mz in (1e-4, 1e-3, 1e-2):
        res = _ti(topological_insulator(magnetization=(0, 0, mz)), "proper_spin", [TI_GAP_EF], magnitude_mesh(s))
        out[mz] = float(_component(res, "y", "z", "x").values[0])
        bar.update()
    return out


def magnitude_mesh(s: Settings) -> tuple[float, int, int, int]:
    """The sphere of :func:`magnitude_scan`: Fig. 1's radius, the coarsest mesh density of the mesh scan."""
    return (s.ti_mesh[0], *min(s.convergence_meshes, key=lambda m: m[0] * m[1] * m[2]))


def _hole(model, fermi, spec: tuple[float, int, int]) -> xr.DataArray:
    """Proper spin conductivity of a hole well on the disk ``spec``, computed on its C4v wedge (:mod:`.wedge`)."""
    group = wedge.c4v_group(model.parameters["magnetization_eV"])
    return wedge.conductivity_wedge(model, "proper_spin", group, wedge.disk_wedge(mesh.disk(*spec)), fermi=fermi)


def figure2a(s: Settings, bar) -> xr.DataArray:
    parts = []
    for field in (1e6, 2e6):
        model = hole_quantum_well("GaAs", field=field, luttinger="paper")
        res = _hole(model, s.hole_fermi, s.hole_mesh)
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
            res = _hole(model, [ef], s.hole_mesh)
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


def plot_fig1(path: Path, ef: np.ndarray, yzx: dict[str, np.ndarray], xzx: np.ndarray, radius: float,
              edges: tuple[float, float]) -> None:
    """Fig. 1: σ^y_zx for m ∥ x, y, z and m = 0, σ^x_zx (m ∥ z); the bulk gap shaded, legend beside the axes.
    Curves that lie on another one are drawn dashed on top and say so in the legend."""
    from .holes import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.2, 4.4))
    scale = max(float(np.max(np.abs(v))) for v in yzx.values())
    styles = {"x": ("C0", "-", 2.2), "z": ("C3", "-", 2.2), "none": ("k", "-", 2.6), "y": ("C2", "--", 1.4)}
    names = {"x": r"$\mathbf{m}\parallel x$", "y": r"$\mathbf{m}\parallel y$", "z": r"$\mathbf{m}\parallel z$",
             "none": r"$\mathbf{m}=0$ (block trace)"}
    for m in ("none", "x", "z", "y"):
        color, line, width = styles[m]
        same = m == "y" and np.max(np.abs(yzx["y"] - yzx["none"])) < 0.01 * scale
        ax.plot(ef, yzx[m], line, color=color, lw=width,
                label=r"$\sigma^{y}_{zx}$, " + names[m] + (" — on top of m = 0" if same else ""))
    tiny = np.max(np.abs(xzx)) < 0.01 * scale
    ax.plot(ef, xzx, ":", color="C1", lw=1.8, label=r"$\sigma^{x}_{zx}$, $\mathbf{m}\parallel z$"
            + (" — ≈ 0 (on the axis)" if tiny else ""))
    ax.axvspan(*edges, color="0.9", lw=0, zorder=0, label=f"bulk gap {1e3 * edges[0]:.0f}…{1e3 * edges[1]:.0f} meV")
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_xlim(ef[0], ef[-1])
    ax.set_xlabel(r"$E_F$ (eV)")
    ax.set_ylabel(r"$\sigma$ ($\hbar/2e$ S/m)")
    ax.set_title(f"Fig. 1: Bi$_2$Se$_3$, |m| = 1 meV, k·p cutoff {radius:g} Å$^{{-1}}$\n"
                 "every value depends on the cutoff (valence band); REPORT.md has the limits", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    _write_png(fig, path)
    plt.close(fig)


def _write_png(fig, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, dpi=130, format="png")
    write_bytes(path, buf.getvalue())


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


def sections(s: Settings, hs: holes.HoleSettings) -> list[list[sections_.Section]]:
    """The computations in two groups of about equal CPU time (:mod:`.sections` runs them in two processes; REPORT.md
    lists each section's seconds): Bi2Se3 (k·p sphere and lattice) with the paper's hole model (Fig. 2a, the
    definition table), and the well solved in z with Fig. 2b of the paper's model."""
    bi2se3 = [("fig1", lambda r: figure1(s, _Steps()), len(TI_CHOICES)),
              ("conventional", lambda r: conventional_ti(s, _Steps()), 1),
              ("convergence", lambda r: convergence(s, _Steps(), r["fig1"]),
               len(TI_CHOICES) * len(s.convergence_radii) + len(s.convergence_meshes)),
              ("magnitudes", lambda r: magnitude_scan(s, _Steps()), 3),
              ("lattice", lambda r: lattice(s, _Steps()), len(s.lattice_grids)),
              ("definition", lambda r: holes.definition_lines(HOLE_FERMI), 1),
              ("fig2a", lambda r: figure2a(s, _Steps()), 2)]
    wells = [("subbands", lambda r: holes.compute(hs, s.hole_fermi, s.fields, HOLE_FERMI, _Steps()),
              2 + len(HOLE_FERMI) + len(hs.convergence_nsub) + 2),  # first: on a first run its kernel (any band
             ("fig2b", lambda r: figure2b(s, _Steps()), len(HOLE_FERMI))]  # count) compiles beside the 4-band one
    return [bi2se3, wells]


class _Steps:
    """A progress bar that ignores updates (the section runner counts whole sections)."""

    def update(self, n: int = 1) -> None:
        pass


def run(output_dir: Path, quick: bool = False, progress: bool = True, force: bool = False,
        workers: int | None = None) -> Reproduction:
    """Compute every figure, write data, plots and REPORT.md into ``output_dir``; return the report path, the
    checked statements, the main finding and each section's wall and CPU seconds
    (:class:`~properspin.paper.report.Reproduction`).

    ``quick`` refuses to overwrite a full-resolution reproduction unless ``force`` (:func:`check_output`).
    ``workers``: processes for the two groups of :func:`sections` (default: 2 when two cores are available).
    """
    from tqdm import tqdm

    s = Settings.make(quick)
    hs = holes.HoleSettings.make(quick)
    out = Path(output_dir)
    check_output(out, quick, force)
    groups = sections(s, hs)
    if workers is None:
        workers = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    t0 = time.perf_counter()
    with tqdm(total=sum(n for g in groups for _, _, n in g), desc="reproduce", disable=not progress,
              unit="run") as bar:
        res, seconds = sections_.run(groups, bar, workers)
    elapsed = time.perf_counter() - t0
    fig1, conv_ti, conv, lat, mags = (res[k] for k in ("fig1", "conventional", "convergence", "lattice", "magnitudes"))
    fig2a, fig2b, sub = res["fig2a"], res["fig2b"], res["subbands"]

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
    from .report import ti_band_edges

    plot_fig1(out / "fig1.png", ef, yzx, xzx["z"], s.ti_mesh[0], ti_band_edges())
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
    return write_report(out, s, quick, elapsed, fig1, conv_ti, conv, mags, fig2a, fig2b, lat,
                        holes=holes.report_lines(hs, fig2a, fig2b, sub, elapsed) + res["definition"],
                        sub=sub, seconds=seconds)
