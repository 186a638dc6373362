"""The ``properspin`` command: run, reproduce, models, info, plot, bands.

Heavy modules (numpy, xarray, matplotlib) are imported inside the commands.  Errors are one message
on stderr and a non-zero exit status (2 for a bad configuration or value, 1 for a file that cannot be read
or written or for exhausted memory), never a traceback; 130 on Ctrl-C and 143 on SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import warnings
from pathlib import Path

log = logging.getLogger("properspin")

_RUN_EXAMPLES = """examples:
  properspin run examples/rashba.toml
  properspin run examples/qwz.toml --output /tmp/qwz --quiet
output: [output] path (relative to the file) or --output DIR, one file per response and format."""

_REPRODUCE_EXAMPLES = """examples:
  properspin reproduce                    # Figs. 1-2 of the paper into paper-figures/
  properspin reproduce --quick -o /tmp/f  # coarse meshes, under a minute"""

_CONVERGE_EXAMPLES = """examples:
  properspin converge examples/bhz.toml --rtol 1e-6
  properspin converge examples/rashba_kp.toml --panels -o /tmp/conv
exit status 3 when some value did not converge within --budget (it is printed as "not converged")."""

_INFO_EXAMPLES = """examples:
  properspin info results/rashba_proper_spin.nc
  properspin info path/to/Pt          # a Wannier90 run: Pt.win, Pt.chk(.fmt), Pt.eig, Pt.mmn, Pt.spn"""

_BANDS_EXAMPLES = """examples:
  properspin bands examples/wannier_fe.toml                          # Ω^z along Γ-H-N-Γ-P-H|P-N
  properspin bands examples/wannier_fe.toml -Q proper_spin -c z,z    # Σ^{z,z} (Eq. 2)
  properspin bands examples/qwz.toml --slice z=0 --extent 3.1416     # map of the occupied Ω with Fermi lines
  properspin bands examples/wannier90_pt_shc.toml -Q conventional_spin --method qiao   # Pt, Γ-X-U|K-Γ-L-W-X
conventional_spin takes method, broadening and eigval_max from [calculation.parameters.conventional_spin] (and
[calculation] broadening) of CONFIG; --method and --broadening override them."""

_PLOT_EXAMPLES = """examples:
  properspin plot results/rashba_proper_spin.nc                     # -> results/rashba_proper_spin.png
  properspin plot res.nc -o sigma.png --component z,y,x             # σ^z_yx only
  properspin plot hall.nc --component x,y                           # σ_xy of a charge result
  properspin plot ti.nc --component y,z,x --component x,z,x         # several components"""


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(
        prog="properspin",
        description="Intrinsic proper spin current, conventional spin current, torque dipole and anomalous "
                    "Hall conductivity (Liu, Cullen & Culcer 2023).",
        epilog="examples:\n  properspin models\n  properspin run examples/qwz.toml\n  properspin reproduce --quick\n"
               "Run 'properspin COMMAND --help' for the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"properspin {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    run = sub.add_parser("run", help="run a TOML configuration file", epilog=_RUN_EXAMPLES, formatter_class=fmt,
                         description="Build the model and mesh of CONFIG, compute every response, write outputs.")
    run.add_argument("config", type=Path, metavar="CONFIG.toml")
    run.add_argument("-o", "--output", type=Path, metavar="DIR", help="output directory (overrides [output] path)")
    run.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")

    rep = sub.add_parser("reproduce", help="reproduce the paper's figures", epilog=_REPRODUCE_EXAMPLES,
                         formatter_class=fmt, description="Recompute Figs. 1-2 of the paper (PNG, netCDF, CSV, "
                                                          "REPORT.md).")
    rep.add_argument("-o", "--output", type=Path, default=None, metavar="DIR",
                     help="output directory (default: paper-figures, or paper-figures-quick with --quick)")
    rep.add_argument("--quick", action="store_true", help="coarse meshes (under a minute)")
    rep.add_argument("--force", action="store_true",
                     help="let a --quick run replace the figures of a full-resolution one")
    rep.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    _converge_parser(sub)

    sub.add_parser("models", help="list built-in models with parameters, units and defaults", formatter_class=fmt,
                   epilog="examples:\n  properspin models\n  properspin models rashba",
                   ).add_argument("names", nargs="*", metavar="NAME", help="only these models")

    info = sub.add_parser("info", help="describe a result file or a Wannier90 run", epilog=_INFO_EXAMPLES,
                          formatter_class=fmt,
                          description="Print what a result holds: response, dims, units, mesh, temperature, "
                                      "model and parameters, version, timestamp; or, for a Wannier90 seedname, "
                                      "what was read from the run.")
    info.add_argument("result", type=Path, metavar="RESULT.nc|SEEDNAME")
    info.add_argument("--symmetrize", action="store_true",
                      help="Wannier90 run: average its operators over the crystal's magnetic group and print what "
                           "the averaging removed (docs/wannier90-native.md)")

    _bands_parser(sub)

    plot = sub.add_parser("plot", help="plot a result file to PNG", epilog=_PLOT_EXAMPLES, formatter_class=fmt,
                          description="Plot σ(E_F) of a result, one curve per component.")
    plot.add_argument("result", type=Path, metavar="RESULT.nc")
    plot.add_argument("-o", "--output", type=Path, metavar="OUT.png", help="default: RESULT.png")
    plot.add_argument("-c", "--component", action="append", metavar="L,I,J",
                      help="spin,current,field (e.g. z,y,x) or current,field for charge; repeatable")
    return p


def _converge_parser(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    conv = sub.add_parser("converge", help="value ± error of each response of a run file from a mesh sequence",
                          formatter_class=fmt, epilog=_CONVERGE_EXAMPLES,
                          description="Refine the [mesh] of CONFIG until every component meets --rtol/--atol "
                                      "(properspin.converge); unconverged values are reported as such.")
    conv.add_argument("config", type=Path, metavar="CONFIG.toml")
    conv.add_argument("--rtol", type=float, default=1e-3, help="relative accuracy (default 1e-3)")
    conv.add_argument("--atol", type=float, default=None, help="absolute accuracy in the response's units")
    conv.add_argument("--budget", type=int, default=4_000_000, help="k-points over all meshes (default 4e6)")
    conv.add_argument("--rule", default="auto", choices=("auto", "richardson", "difference", "shift"))
    conv.add_argument("--panels", action="store_true", help="2D disk: radial Gauss–Legendre panels at the Fermi "
                                                            "crossings and anticrossings (properspin.quadrature)")
    conv.add_argument("-o", "--output", type=Path, metavar="DIR", help="write RESPONSE_converged.nc there")
    conv.add_argument("-q", "--quiet", action="store_true", help="no progress line")


def _bands_parser(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    bands = sub.add_parser("bands", help="bands coloured by Ω, Σ, conventional spin curvature or spin; k maps",
                           epilog=_BANDS_EXAMPLES, formatter_class=fmt,
                           description="Bands of CONFIG's model along the lattice's standard path (or a map on a "
                                       "plane with --slice), coloured by a per-band quantity; PNG + netCDF.")
    bands.add_argument("config", type=Path, metavar="CONFIG.toml")
    bands.add_argument("-Q", "--quantity", default="berry",
                       choices=["berry", "proper_spin", "conventional_spin", "torque_dipole", "torque_dipole_kubo",
                                "conserved_spin_kubo", "spin"],
                       help="berry: Ω^c; proper_spin: Σ^{c,l} (Eq. 2); conventional_spin: Ω^{s,l}_ij; torque_dipole, "
                            "torque_dipole_kubo, conserved_spin_kubo: that response's per-band integrand (l,i,j); "
                            "spin: <s^l> (the responses' band views, bands.quantities())")
    bands.add_argument("-c", "--component", help="c (berry), c,l (proper_spin), l,i,j (conventional_spin), "
                                                 "l (spin); default z / z,z / z,x,y / z")
    bands.add_argument("--method", choices=["simple", "qiao"],
                       help="conventional_spin: ½{s, v} inside the model (simple) or the Qiao et al. spin current "
                            "of a Wannier90 run (qiao); default: CONFIG's, else simple")
    bands.add_argument("--broadening", type=float, metavar="ETA",
                       help="conventional_spin: η in eV, 1/(Δ² + η²); default: CONFIG's, else 0")
    bands.add_argument("--kramers", action="store_true",
                       help="colour each band by the mean over its Kramers pair (bands 2i, 2i+1): for P·T-symmetric "
                            "crystals whose Wannier bands are split slightly (per-band curvatures ~1/Δ² inside a pair)")
    bands.add_argument("--fermi", type=float, help="E_F in eV (default: the model's Fermi level: [fermi] electrons "
                                                   "= N of CONFIG, or a Wannier90 run's .win fermi_energy; else "
                                                   "the first [fermi] energy)")
    bands.add_argument("--relative", action="store_true", help="energies as E − E_F (bands only)")
    bands.add_argument("--slice", metavar="AXIS=VALUE", help="a map on the plane k_AXIS = VALUE (Å⁻¹), e.g. z=0")
    bands.add_argument("--extent", type=float, help="half-width of the map (Å⁻¹; default: half the longest "
                                                    "reciprocal vector)")
    bands.add_argument("-n", type=int, default=None, help="points per side of the map (81) or on the longest "
                                                          "path segment (120)")
    bands.add_argument("-o", "--output", type=Path, metavar="OUT.png",
                       help="default: NAME_bands.png / NAME_slice.png in CONFIG's [output] path (NAME: [output] name "
                            "or the file's stem)")


# ------------------------------------------------------------------------------------------- commands
def _converge(args: argparse.Namespace) -> int:
    from .converge import run_file, summary

    results = run_file(args.config, rtol=args.rtol, atol=args.atol, budget=args.budget, rule=args.rule,
                       panels=args.panels, progress=not args.quiet)
    for name, res in results.items():
        print(f"{name} ({res.attrs['converge_family']}, {res.attrs['converge_kpoints_spent']} k-points):")
        print("\n".join("  " + line for line in summary(res)))
        if args.output:
            args.output.mkdir(parents=True, exist_ok=True)
            res.to_netcdf(args.output / f"{name}_converged.nc")
    return 0 if all(int(r.attrs["converged_all"]) for r in results.values()) else 3


def _run(args: argparse.Namespace) -> int:
    from .config import run_config

    results = run_config(args.config, output=args.output, progress=False if args.quiet else None)
    for name, res in results.items():
        print(f"{name}: {dict(res.sizes)} in {res.attrs.get('units')}")
    notes = {res.attrs["convergence"] for res in results.values() if "convergence" in res.attrs}
    for note in sorted(notes):  # one line: single-mesh values are not converged limits (issue 24)
        print(f"note: {note.replace(args.config.name, str(args.config))}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    try:
        from .paper import reproduce
    except ModuleNotFoundError as exc:
        if exc.name not in ("properspin.paper", "properspin.paper.reproduce"):
            raise
        print("properspin: error: the paper reproduction (properspin.paper.reproduce) is not available in this "
              "installation", file=sys.stderr)
        return 1
    output = args.output or Path("paper-figures-quick" if args.quick else "paper-figures")
    result = reproduce.run(output_dir=output, quick=args.quick, progress=not args.quiet, force=args.force)
    if hasattr(result, "summary"):  # the verdicts, the main finding and the files written
        print(result.summary())
    return int(result) if isinstance(result, int) else 0


def _models(args: argparse.Namespace) -> int:
    from . import registry

    print(registry.describe(args.names or None), end="")
    return 0


def _info(args: argparse.Namespace) -> int:
    from . import io
    from .results import parameters

    seed = str(args.result)[: -len(".win")] if str(args.result).endswith(".win") else str(args.result)
    if not args.result.is_file() and Path(seed + ".win").is_file() or str(args.result).endswith(".win"):
        return _info_run(seed, getattr(args, "symmetrize", False))
    try:
        res = io.load(args.result)
    except ValueError:
        if _info_bands(args.result):  # what `properspin bands` writes (a Dataset)
            return 0
        raise
    a = res.attrs
    say = _clean_print  # every line goes through the sanitiser: attributes may hold terminal escapes
    say(f"file:        {args.result}")
    say(f"response:    {a.get('response', res.name)} — {a.get('description', '')}")
    say(f"units:       {a.get('units', '?')}")
    say("dims:        " + ", ".join(f"{d} ({n})" for d, n in res.sizes.items()))
    for d in res.dims:
        v = res[d].values
        span = f"{v.min():g} … {v.max():g} {res[d].attrs.get('units', '')}" if v.dtype.kind == "f" \
            else " ".join(str(x) for x in v)
        say(f"  {d:<10} {span.strip()}")
    mesh = {k: a[k] for k in a if k.startswith("mesh")}
    say("mesh:        " + ", ".join(f"{k.removeprefix('mesh_') if k != 'mesh' else 'kind'}={v}"
                                      for k, v in mesh.items()))
    if "convergence" in a:  # a `properspin run` result: one mesh, not a converged limit
        say(f"convergence: {a['convergence']}")
    say(f"temperature: {a.get('temperature_K', '?')} K    broadening: {a.get('broadening_eV', 0)} eV")
    say(f"model:       {a.get('model', '?')} (dim {a.get('dim', '?')}, {a.get('nbands', '?')} bands)")
    for key in ("model_parameters", "model_info"):
        if key in a:
            value = parameters(res, key)
            items = value.items() if isinstance(value, dict) else [("", value)]
            say(f"  {key.removeprefix('model_')}: " + ", ".join(f"{k}={v}" for k, v in items))
    if a.get("degenerate_kpoints"):
        how = str(a.get("degenerate_treatment", "exclude")).split(":")[0]
        say(f"degenerate:  {a['degenerate_kpoints']} k-points with degenerate blocks ({how}), "
            f"band pairs {a.get('degenerate_band_pairs')}")
    say(f"version:     properspin {a.get('properspin_version', '?')}    created: {a.get('created', '?')}")
    _info_values(res, say)
    return 0


def _info_values(res, say, limit: int = 12) -> None:  # noqa: ANN001
    """The values: each non-negligible component (plotting.default_components) at up to ``limit`` points of the
    sweep (every point when there are few; else evenly spaced, the ends included)."""
    import numpy as np

    from .plotting import default_components, pretty_unit, x_dim

    try:
        xd = x_dim(res)
    except ValueError:
        return
    x = res[xd].values
    pick = np.unique(np.linspace(0, len(x) - 1, min(limit, len(x))).round().astype(int))
    unit = pretty_unit(str(res.attrs.get("units", "")))
    say(f"values ({unit}) at {xd} = " + ", ".join(f"{x[i]:g}" for i in pick)
        + (f" (every {len(x) // len(pick)}th of {len(x)})" if len(pick) < len(x) else "") + ":")
    for comp in default_components(res):
        sub = res.sel(comp) if comp else res
        rest = [d for d in sub.dims if d != xd]
        for idx in np.ndindex(*(sub.sizes[d] for d in rest)):
            line = sub.isel(dict(zip(rest, idx, strict=True))).values
            name = ",".join([*comp.values(), *(str(sub[d].values[i]) for d, i in zip(rest, idx, strict=True))])
            say(f"  {name or res.name or 'value':<12} " + "  ".join(f"{line[i]:.6g}" for i in pick))


def _info_bands(path: Path) -> bool:
    """Describe a netCDF of `properspin bands` (path or map); False when the file is not one."""
    import json

    import numpy as np
    import xarray as xr

    try:
        ds = xr.load_dataset(path, engine="h5netcdf")
    except (OSError, ValueError, KeyError, TypeError):
        return False
    a = ds.attrs
    if "quantity" not in a or "energy" not in ds:
        return False
    kind = "map on a plane" if "occupied" in ds else "bands along a path"
    _clean_print(f"file:        {path}")
    _clean_print(f"bands file:  {kind}: {a['quantity']} component {a.get('component', '?')} in "
                 f"{a.get('units', '?')}; E_F = {a.get('fermi_eV', '?')} eV")
    _clean_print(f"model:       {a.get('model', '?')}")
    e = ds["energy"].values
    _clean_print(f"energies:    {e.shape[-1]} bands, {np.nanmin(e):.4g} … {np.nanmax(e):.4g} eV; "
                 "dims " + ", ".join(f"{d} ({n})" for d, n in ds["energy"].sizes.items()))
    value = ds["occupied"] if "occupied" in ds else ds["value"]
    v = value.values[np.isfinite(value.values)]
    if v.size:
        _clean_print(f"values:      {value.name}: min {v.min():.4g}, max {v.max():.4g}, median |value| "
                     f"{np.median(np.abs(v)):.4g} {a.get('units', '')}")
    if "labels" in a:
        _clean_print("path:        " + "–".join(json.loads(a["labels"])))
    _clean_print(f"version:     properspin {a.get('properspin_version', '?')}")
    return True


_SHOWN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}  # categories printed as escapes (terminal control, bidi)


def _clean(value: object) -> object:
    """Text from a file, made safe for a terminal: control, format (bidi) and unassigned characters escaped."""
    import unicodedata

    if not isinstance(value, str):
        return value
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _SHOWN else c
                   for c in value)


def _clean_print(*parts: object) -> None:
    print(*(_clean(str(p)) for p in parts))


def _info_run(seed: str, symmetrize: bool = False) -> int:
    """What :func:`properspin.models.wannier90_run` reads from a Wannier90 run (and removes when symmetrising)."""
    from .models.wannier import read_wannier90_run

    run = read_wannier90_run(seed, symmetrize=symmetrize)
    d = run.describe()
    s = run.settings
    print(f"run:         {d['seedname']}")
    for kind, path in d["files"].items():
        print(f"  {kind:<10} {path}")
    print(f"bands:       num_wann {d['num_wann']}, num_bands {d['num_bands']}, excluded {d['exclude_bands'] or 'none'}")
    print(f"k-grid:      mp_grid {d['mp_grid']} ({d['num_kpts']} k-points), nntot {d['nntot']}, shells " + ", ".join(
        f"|b| = {sh['radius_inv_angstrom']:.6f} Å⁻¹ × {sh['multiplicity']} (w_b = {sh['weight_angstrom2']:.6f} Å²)"
        for sh in d["bvector_shells"]))
    if d["disentangled"]:
        print(f"disentangled: yes, outer window bands {d['outer_window_bands'][0]}..{d['outer_window_bands'][1]}, "
              f"ndimwin {d['ndimwin_range'][0]}..{d['ndimwin_range'][1]}")
    else:
        print("disentangled: no")
    print(f"real space:  {d['nrpts_wigner_seitz']} Wigner–Seitz vectors, use_ws_distance "
          f"{'true' if d['use_ws_distance'] else 'false'}")
    print(f"spin:        {d['spin_operator']}" + ("  (Qiao et al. spin current available)" if d["qiao_spin_current"]
                                                  else ""))
    if d["num_valence_bands"]:
        print(f"scissors:    {d['scissors_shift_eV']} eV above band {d['num_valence_bands']}")
    print(f"postw90:     fermi {s['fermi_energies'] or 'none'} eV, berry_kmesh {s['berry_kmesh']}, "
          f"berry_task '{s['berry_task']}', kubo_smr_fixed_en_width {s['kubo_smr_fixed_en_width']} eV"
          f"{' (adaptive smearing requested: not supported)' if s['kubo_adpt_smr'] else ''}, "
          f"kubo_eigval_max {s['kubo_eigval_max']} eV, shc_method {s['shc_method']}")
    if "symmetrization" in d:
        _print_symmetrization(d["symmetrization"])
    return 0


def _print_symmetrization(r: dict) -> None:
    """The group, gauge and removed asymmetry of a symmetrised run (``info["symmetrization"]``)."""
    mag = "non-magnetic" if r["magnetization"] is None else f"m ∥ {[round(x, 6) for x in r['magnetization']]}"
    print(f"symmetrised: group {r['group']} ({r['order']} operations, {mag}, {r['magnetization_source']}), "
          f"gauge {r['wannier_gauge']}, R vectors {r['nrpts_before']} → {r['nrpts_after']}")
    units = {"H": "eV", "A": "Å", "S": "ħ", "SH": "ħ·eV", "SR": "ħ·Å", "SHR": "ħ·eV·Å"}
    for name, e in r["removed"].items():
        extra = f", band shifts ≤ {e['band_shift_bound_eV']:.3g} eV" if "band_shift_bound_eV" in e else ""
        print(f"  removed {name:<4} max {e['max_abs']:.3g} {units[name]} ({e['relative']:.2g} of max |{name}|){extra}")


def _plot(args: argparse.Namespace) -> int:
    from . import io
    from .plotting import plot_result

    res = io.load(args.result)
    out = args.output or args.result.with_suffix(".png")
    if out.resolve() == args.result.resolve():
        raise ValueError(f"{out}: the plot would replace the result it is made from; choose another -o")
    print(plot_result(res, out, components=args.component))
    return 0


def _bands(args: argparse.Namespace) -> int:
    from . import bands
    from .config import build_model, fermi_energies, fermi_level, load_config

    if args.quantity != "conventional_spin" and (args.method is not None or args.broadening is not None):
        raise ValueError("--method and --broadening apply to -Q conventional_spin only")
    cfg = load_config(args.config)
    model = build_model(cfg, args.config)
    fermi = args.fermi
    if fermi is None:
        fermi = fermi_level(cfg, model)
    if fermi is None:
        fermi = fermi_energies(cfg, model)[0]
        log.info("properspin: E_F = %g eV, the first [fermi] energy (set [fermi] electrons = N or --fermi for the "
                 "model's Fermi level)", fermi)
    stem = args.config.parent / cfg.output.path / (cfg.output.name or args.config.stem)
    params = None
    if args.quantity == "conventional_spin":
        calc = cfg.calculation
        params = dict(calc.parameters.get("conventional_spin", {}))
        if calc.broadening and "broadening" not in params:
            params["broadening"] = calc.broadening
        params |= {k: v for k, v in (("method", args.method), ("broadening", args.broadening)) if v is not None}
    common = {"parameters": params, "degeneracy_tol": cfg.calculation.degeneracy_tol, "kramers": args.kramers}
    out = _bands_output(args, stem)
    if args.slice:
        axis, _, value = args.slice.partition("=")
        try:
            offset = float(value or 0.0)
        except ValueError:
            offset = math.nan
        if not math.isfinite(offset):
            raise ValueError(f"--slice expects AXIS=VALUE with a finite VALUE in Å⁻¹ (e.g. z=0), got {args.slice!r}")
        ds = bands.kslice(model, args.quantity, args.component, fermi=fermi, normal=axis.strip(), offset=offset,
                          extent=args.extent, n=81 if args.n is None else args.n, **common)
        png = bands.plot_kslice(ds, out)
    else:
        npoints = 120 if args.n is None else args.n
        ds = bands.bands(model, args.quantity, args.component, fermi=fermi, npoints=npoints, **common)
        png = bands.plot_bands(ds, out, relative=args.relative)
    print(png)
    print(bands.save(ds, Path(png).with_suffix(".nc")))
    return 0


def _bands_output(args: argparse.Namespace, stem: Path) -> Path:
    """The PNG path of ``bands`` (and its ``.nc`` beside it): ``-o`` or ``stem`` + ``_bands.png``/``_slice.png`` in
    the run's output folder (created), checked before computing: a directory, a name without ``.png`` (matplotlib
    would write another file) or an unwritable place is refused naming it."""
    from .io import check_target

    if args.output:
        out = Path(args.output)
    else:
        stem.parent.mkdir(parents=True, exist_ok=True)
        out = stem.with_name(stem.name + ("_slice.png" if args.slice else "_bands.png"))
    if out.is_dir() or out.suffix.lower() != ".png":
        raise ValueError(f"-o/--output must name a .png file (the .nc goes beside it), got {str(out)!r}"
                         + (": a directory" if out.is_dir() else ""))
    check_target(out)
    check_target(out.with_suffix(".nc"))
    return out


#: where each warning is explained (the CLI prints one line per warning, once per run, with this pointer)
_WARNING_DOCS = {"DegeneracyWarning": "docs/conventions.md §3", "UnresolvedDegeneracyWarning": "docs/conventions.md §3",
                 "MetallicFermiWarning": "docs/physics.md", "SymmetryWarning": "docs/configuration.md, [mesh] symmetry",
                 "QiaoConditioningWarning": "docs/wannier90-native.md"}
_WARNING_LIMIT = 200  # characters of a warning's first sentence shown on the command line
_seen_warnings: set[tuple[str, str]] = set()


def warning_line(message: object, category: type) -> str:
    """A warning as one line: its first sentence (at most :data:`_WARNING_LIMIT` characters) and where to read
    more; the full text stays available from Python (``warnings``) and, for degeneracies, in the result's attrs."""
    text = " ".join(str(message).split())
    first = text.split(". ")[0].rstrip(".")
    if len(first) > _WARNING_LIMIT:
        first = first[: _WARNING_LIMIT - 1].rstrip() + "…"
    more = _WARNING_DOCS.get(category.__name__, "docs/")
    return f"warning: {category.__name__}: {first} (more: {more})"


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    import re

    text = warning_line(message, category)
    key = (category.__name__, re.sub(r"^\S+: |[\d.eE+-]+", "", text.split(": ", 2)[-1]))  # counts may differ
    if key in _seen_warnings:  # once per run
        return
    _seen_warnings.add(key)
    log.warning("%s", _clean(text))


_COMMANDS = {"run": _run, "reproduce": _reproduce, "models": _models, "info": _info, "plot": _plot,
             "bands": _bands, "converge": _converge}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``properspin`` command; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    loggers = [log]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
        lg.propagate = False
    show, warnings.showwarning = warnings.showwarning, _log_warning
    _seen_warnings.clear()
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt as exc:
        from .engine import Terminated

        print("properspin: " + ("terminated" if isinstance(exc, Terminated) else "interrupted"), file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except (ValueError, TypeError) as exc:  # includes ConfigError (one line per problem)
        print("properspin: error: " + "\n  ".join(str(_clean(line)) for line in str(exc).splitlines()),
              file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name != "sympy":
            raise
        print("properspin: error: text k·p models ([model.kp]) need sympy: pip install 'properspin[kp]'",
              file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"properspin: error: {_clean(str(exc))}", file=sys.stderr)
        return 1
    except MemoryError as exc:
        print(f"properspin: error: out of memory{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return 1
    except RecursionError:
        print("properspin: error: input nested too deeply (recursion limit reached)", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = show
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
