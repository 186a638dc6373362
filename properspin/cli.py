"""The ``properspin`` command: run, reproduce, models, info, plot, bands.

Heavy modules (numpy, xarray, matplotlib) are imported inside the commands.  Errors are one message
on stderr and a non-zero exit status (2 for a bad configuration or value, 1 for a file that cannot be read
or written or for exhausted memory), never a traceback; 130 on Ctrl-C and 143 on SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
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

    bands = sub.add_parser("bands", help="bands coloured by Ω, Σ, conventional spin curvature or spin; k maps",
                           epilog=_BANDS_EXAMPLES, formatter_class=fmt,
                           description="Bands of CONFIG's model along the lattice's standard path (or a map on a "
                                       "plane with --slice), coloured by a per-band quantity; PNG + netCDF.")
    bands.add_argument("config", type=Path, metavar="CONFIG.toml")
    bands.add_argument("-Q", "--quantity", default="berry",
                       choices=["berry", "proper_spin", "conventional_spin", "spin"],
                       help="berry: Ω^c; proper_spin: Σ^{c,l} (Eq. 2); conventional_spin: Ω^{s,l}_ij; spin: <s^l>")
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
    bands.add_argument("--fermi", type=float, help="E_F in eV (default: the first Fermi energy of CONFIG: [fermi], "
                                                   "or a Wannier90 run's .win)")
    bands.add_argument("--slice", metavar="AXIS=VALUE", help="a map on the plane k_AXIS = VALUE (Å⁻¹), e.g. z=0")
    bands.add_argument("--extent", type=float, help="half-width of the map (Å⁻¹; default: half the longest "
                                                    "reciprocal vector)")
    bands.add_argument("-n", type=int, default=None, help="points per side of the map (81) or on the longest "
                                                          "path segment (120)")
    bands.add_argument("-o", "--output", type=Path, metavar="OUT.png", help="default: CONFIG_bands.png / _slice.png")

    plot = sub.add_parser("plot", help="plot a result file to PNG", epilog=_PLOT_EXAMPLES, formatter_class=fmt,
                          description="Plot σ(E_F) of a result, one curve per component.")
    plot.add_argument("result", type=Path, metavar="RESULT.nc")
    plot.add_argument("-o", "--output", type=Path, metavar="OUT.png", help="default: RESULT.png")
    plot.add_argument("-c", "--component", action="append", metavar="L,I,J",
                      help="spin,current,field (e.g. z,y,x) or current,field for charge; repeatable")
    return p


# ------------------------------------------------------------------------------------------- commands
def _run(args: argparse.Namespace) -> int:
    from .config import run_config

    results = run_config(args.config, output=args.output, progress=False if args.quiet else None)
    for name, res in results.items():
        print(f"{name}: {dict(res.sizes)} in {res.attrs.get('units')}")
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
    res = io.load(args.result)
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
    return 0


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
    from .config import build_model, fermi_energies, load_config

    if args.quantity != "conventional_spin" and (args.method is not None or args.broadening is not None):
        raise ValueError("--method and --broadening apply to -Q conventional_spin only")
    cfg = load_config(args.config)
    model = build_model(cfg, args.config)
    fermi = args.fermi if args.fermi is not None else fermi_energies(cfg, model)[0]
    params = None
    if args.quantity == "conventional_spin":
        calc = cfg.calculation
        params = dict(calc.parameters.get("conventional_spin", {}))
        if calc.broadening and "broadening" not in params:
            params["broadening"] = calc.broadening
        params |= {k: v for k, v in (("method", args.method), ("broadening", args.broadening)) if v is not None}
    common = {"parameters": params, "degeneracy_tol": cfg.calculation.degeneracy_tol, "kramers": args.kramers}
    if args.slice:
        axis, _, value = args.slice.partition("=")
        try:
            offset = float(value or 0.0)
        except ValueError:
            raise ValueError(f"--slice expects AXIS=VALUE (e.g. z=0), got {args.slice!r}") from None
        ds = bands.kslice(model, args.quantity, args.component, fermi=fermi, normal=axis.strip(), offset=offset,
                          extent=args.extent, n=args.n or 81, **common)
        out = args.output or args.config.with_name(args.config.stem + "_slice.png")
        png = bands.plot_kslice(ds, out)
    else:
        ds = bands.bands(model, args.quantity, args.component, fermi=fermi, npoints=args.n or 120, **common)
        out = args.output or args.config.with_name(args.config.stem + "_bands.png")
        png = bands.plot_bands(ds, out)
    print(png)
    print(bands.save(ds, Path(png).with_suffix(".nc")))
    return 0


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    log.warning("warning: %s: %s", category.__name__, message)


_COMMANDS = {"run": _run, "reproduce": _reproduce, "models": _models, "info": _info, "plot": _plot,
             "bands": _bands}


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
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt as exc:
        from .engine import Terminated

        print("properspin: " + ("terminated" if isinstance(exc, Terminated) else "interrupted"), file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except (ValueError, TypeError) as exc:  # includes ConfigError
        print(f"properspin: error: {_clean(str(exc))}", file=sys.stderr)
        return 2
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
