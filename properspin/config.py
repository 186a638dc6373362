"""TOML run files, part 2: from a validated file (:mod:`properspin.config_schema`) to a model, prepared jobs and
written results, :func:`run_config`.

Every check on the calculation's inputs is :func:`properspin.prepare.prepare`'s own; this module only maps the
:class:`~properspin.prepare.InputError` it raises to the run-file key of the parameter at fault, so a problem reads
``bad.toml: KEY: <the message the API gives>``.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config_schema import (
    FORMATS,
    MESH_KINDS,
    ConfigError,
    GridSpec,
    ModelSpec,
    RunConfig,
    SymmetrySpec,
    _blame,
    check_stem,
    load_config,
)
from .model import RunDefaults

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

log = logging.getLogger(__name__)

#: ``[output] units = "wannier"``: 3D results in the units postw90 and WannierBerri print
WANNIER_UNITS = {"(hbar/2e) S/m": "(hbar/e) S/cm", "S/m": "S/cm"}


def build_model(cfg: RunConfig, source: str | Path) -> Any:
    """The :class:`~properspin.Model` a run file describes (ConfigError naming the key on bad values)."""
    from . import registry

    spec, base = cfg.model, Path(source).parent
    try:
        if spec.kp is not None:
            kp = spec.kp
            words = [("parameter", "model.kp.parameters"), ("spin", "model.kp.spin"), ("dim", "model.kp.dim")]
            default = "model.kp.matrix"
            spin = None if kp.spin.lower() == "none" else kp.spin
            model = registry.get("kp").build(matrix=kp.matrix, parameters=kp.parameters, spin=spin,
                                             dim=kp.dim, name=kp.name)
        elif spec.wannier90 is not None:
            w = spec.wannier90
            words = [("lattice", "model.wannier90.lattice"), ("spinor_order", "model.wannier90.spinor_order"),
                     ("dim", "model.wannier90.dim")]
            default = "model.wannier90.path"
            file = (base / w.path).resolve()
            if not file.is_file():
                raise ConfigError(source, [("model.wannier90.path", f"no such file: {file}")])
            model = registry.get("wannier90").build(path=file, lattice=w.lattice, spinor_order=w.spinor_order,
                                                    use_position=w.use_position, dim=w.dim)
        elif spec.wannier90_run is not None:
            w = spec.wannier90_run
            words = [("use_ws_distance", "model.wannier90_run.use_ws_distance"),
                     ("scissors", "model.wannier90_run.scissors_shift"),
                     ("num_valence_bands", "model.wannier90_run.num_valence_bands"),
                     (".spn", "model.wannier90_run.spin"), ("projection", "model.wannier90_run.symmetrize"),
                     ("symmetr", "model.wannier90_run.symmetrize")]
            default = "model.wannier90_run.seedname"
            seed = (base / w.seedname).resolve()
            try:
                model = registry.get("wannier90_run").build(
                    seedname=seed, use_ws_distance=w.use_ws_distance, spin=w.spin, scissors_shift=w.scissors_shift,
                    num_valence_bands=w.num_valence_bands, spin_current_tol=w.spin_current_tol,
                    symmetrize=w.symmetrize, magnetization=w.magnetization, wannier_gauge=w.wannier_gauge)
            except FileNotFoundError as exc:
                raise ConfigError(source, [("model.wannier90_run.seedname", str(exc))]) from None
            except ValueError as exc:  # a problem of the run's own files (.win, .chk, ...): name that file first
                if not str(exc).startswith(str(seed)):
                    raise
                raise ValueError(f"{exc} (in the Wannier90 run that {source} reads; the run file itself is fine)"
                                 ) from None
        else:
            entry = registry.get(spec.name)  # type: ignore[arg-type]
            words = [(p.name, f"model.parameters.{p.name}") for p in entry.parameters()]
            default = "model.parameters"
            _check_parameters(entry, spec.parameters, source)
            model = entry.build(**spec.parameters)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        if str(exc).endswith("the run file itself is fine)"):
            raise
        raise ConfigError(source, [(_blame(str(exc), words, default), str(exc))]) from None
    if spec.zeeman is not None:
        try:
            model = model.with_zeeman(tuple(spec.zeeman))
        except ValueError as exc:
            raise ConfigError(source, [("model.zeeman", str(exc))]) from None
    return model


def _check_parameters(entry: Any, given: dict[str, Any], source: str | Path) -> None:
    params = entry.parameters()
    valid = ", ".join(p.name for p in params)
    unknown = f"unknown parameter of model '{entry.name}'; expected one of {valid}"
    problems = [(f"model.parameters.{k}", unknown) for k in given if not entry.accepts(k)]
    problems += [(f"model.parameters.{p.name}", f"missing required parameter ({p.unit or 'no unit'})")
                 for p in params if p.required and p.name not in given]
    if problems:
        raise ConfigError(source, problems)


def build_mesh(cfg: RunConfig, model: Any = None, source: str | Path | None = None) -> Any:
    """The :mod:`properspin.mesh` object of the ``[mesh]`` section (without one: a Wannier90 run's
    ``berry_kmesh``, a Γ-centred grid as postw90's).  With ``symmetry`` a ``grid(n, symmetry=...)``, resolved per
    response by :func:`properspin.conductivity` (``source``: the run file, for relative paths and errors)."""
    from . import mesh

    m = cfg.mesh
    if m is None:
        kmesh = _defaults(model).kmesh
        if not kmesh:
            raise ValueError("missing required key: no [mesh] section (only a Wannier90 run with berry_kmesh in its "
                             ".win can do without)")
        return mesh.grid(tuple(kmesh))
    if isinstance(m, GridSpec):
        shift = m.shift if isinstance(m.shift, float) else tuple(m.shift)
        spec = _symmetry_spec(m.symmetry)
        if spec is None:
            return mesh.grid(m.n, shift=shift)
        structure = build_structure(cfg, spec, model, source or "run file")
        return mesh.grid(m.n, shift=shift, symmetry=structure, symmetry_tol=spec.tolerance)
    params = m.model_dump(exclude={"kind"})
    return {"disk": mesh.disk, "sphere": mesh.sphere, "cylinder": mesh.cylinder}[m.kind](**params)


def _symmetry_spec(value: bool | str | SymmetrySpec) -> SymmetrySpec | None:
    """``symmetry = false | true | "file.win" | {table}`` as a :class:`SymmetrySpec` (None: no symmetry)."""
    if value is False:
        return None
    if value is True:
        return SymmetrySpec()
    if isinstance(value, str):
        return SymmetrySpec(win=value)
    return value


def _beside_model_file(cfg: RunConfig, base: Path) -> tuple[Path | None, str]:
    """The ``.win`` of the model's Wannier90 files (``seedname.win`` of a native run, ``X.win`` beside ``X_tb.dat`` or
    ``X_hr.dat``) and a description of where it was looked for."""
    spec = cfg.model
    if spec.wannier90_run is not None:
        win = (base / (spec.wannier90_run.seedname + ".win")).resolve()
        return win, str(win)
    if spec.wannier90 is not None:
        file = (base / spec.wannier90.path).resolve()
        stem = re.sub(r"_(tb|hr)$", "", file.name.removesuffix(".dat"))
        win = file.with_name(stem + ".win")
        return win, str(win)
    return None, ""


def build_structure(cfg: RunConfig, spec: SymmetrySpec, model: Any, source: str | Path) -> Any:
    """The :class:`~properspin.symmetry.Structure` of ``[mesh] symmetry``: from a ``.win`` (given, or the model's
    own), or positions and species in the lattice of the model; ConfigError naming the key otherwise."""
    from .symmetry import Structure, structure_from_win

    base = Path(source).parent
    mag = spec.magnetization
    key = "mesh.symmetry"
    if spec.positions is not None:
        if model is None or not getattr(model, "periodic", False):
            raise ConfigError(source, [(key, "symmetry needs a lattice model (periodic, with [mesh] kind = \"grid\")")])
        import numpy as np

        lattice = 2 * np.pi * np.linalg.inv(model.reciprocal).T
        try:
            return Structure(lattice, spec.positions, spec.species, mag)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ConfigError(source, [(f"{key}.positions", str(exc))]) from None
    if spec.win is not None:
        win, key = (base / spec.win).resolve(), f"{key}.win"
        if not win.is_file():
            raise ConfigError(source, [(key, f"no such file: {win}")])
    else:
        win, where = _beside_model_file(cfg, base)
        if win is None or not win.is_file():
            looked = f" (looked for {where})" if where else ""
            raise ConfigError(source, [(key, "no Wannier90 .win found for the crystal structure" + looked
                                        + "; give [mesh.symmetry] win = \"path/to/seedname.win\", or positions "
                                        "and species (fractional, in the model's lattice)")])
    try:
        return structure_from_win(win, mag)
    except (ValueError, OSError) as exc:
        raise ConfigError(source, [(key, f"{win}: {exc}" if str(win) not in str(exc) else str(exc))]) from None


def prepare_jobs(cfg: RunConfig, model: Any, source: str | Path) -> dict[str, Any]:
    """Every response of the run file as a :class:`~properspin.prepare.PreparedJob`, before anything runs: the
    checks are :func:`~properspin.prepare.prepare`'s own, and each refusal is a ConfigError naming the run-file key
    of the parameter at fault (same message as through the API)."""
    from . import responses
    from .prepare import InputError, prepare

    try:
        fermi = fermi_energies(cfg, model)
    except ValueError as exc:
        raise ConfigError(source, [("fermi", str(exc))]) from None
    try:
        built = build_mesh(cfg, model, source)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(source, [(_mesh_key(cfg, str(exc)), str(exc))]) from None
    calc, jobs = cfg.calculation, {}
    for name in calc.parameters:
        if name not in calc.responses:
            raise ConfigError(source, [(f"calculation.parameters.{name}", "not one of calculation.responses")])
    for name in calc.responses:
        given = calc.parameters.get(name, {})
        try:
            resp = responses.get(name, **given)
        except (ValueError, TypeError) as exc:
            raise ConfigError(source, [(f"calculation.parameters.{name}", str(exc))]) from None
        broadening = calc.broadening if "broadening" in resp.defaults and "broadening" not in given else None
        try:
            jobs[name] = prepare(model, resp, fermi=fermi, mesh=built, temperature=calc.temperature,
                                 broadening=broadening, degeneracy_tol=calc.degeneracy_tol, strict_symmetry=True)
        except InputError as exc:
            raise ConfigError(source, [(_input_key(cfg, exc, name), str(exc))]) from None
    return jobs


def _mesh_key(cfg: RunConfig, message: str) -> str:
    """The ``[mesh]`` key a mesh error concerns."""
    if cfg.mesh is None:
        return "mesh"
    return "mesh.shift" if "shift" in message else "mesh.n" if cfg.mesh.kind == "grid" else "mesh.kind"


def _input_key(cfg: RunConfig, exc: Any, response: str) -> str:
    """The run-file key of an :class:`~properspin.prepare.InputError`'s parameter."""
    given = cfg.calculation.parameters.get(response, {})
    keys = {"fermi": "fermi", "cutoff": "mesh.radius", "symmetry": "mesh.symmetry", "model": "model",
            "temperature": "calculation.temperature", "degeneracy_tol": "calculation.degeneracy_tol",
            "broadening": f"calculation.parameters.{response}" if "broadening" in given else "calculation.broadening",
            "response": "calculation.responses"}
    if exc.parameter == "mesh":
        return _mesh_key(cfg, str(exc))
    return keys.get(exc.parameter, "calculation")


def _defaults(model: Any) -> RunDefaults:
    """The model's typed run defaults (none: empty)."""
    return getattr(model, "run_defaults", None) or RunDefaults()


def fermi_energies(cfg: RunConfig, model: Any = None) -> list[float]:
    """The ``[fermi]`` energies (``electrons = N`` alone: the level holding N electrons, :func:`fermi_level`);
    without the section, a Wannier90 run's ``fermi_energy`` or scan (eV)."""
    if cfg.fermi is not None:
        if cfg.fermi.values is None and cfg.fermi.start is None:
            return [fermi_level(cfg, model)]
        return cfg.fermi.energies()
    energies = _defaults(model).fermi_energies
    if not energies:
        raise ValueError("missing required key: no [fermi] section (only a Wannier90 run with fermi_energy or "
                         "fermi_energy_min/max in its .win can do without)")
    return list(energies)


def fermi_level(cfg: RunConfig, model: Any) -> float | None:
    """The model's Fermi level (eV): from ``[fermi] electrons = N`` on the run's mesh (grid, or the cutoff's
    states), else a Wannier90 run's single ``fermi_energy``; None when neither is given."""
    if cfg.fermi is not None and cfg.fermi.electrons is not None:
        from . import filling
        from . import mesh as meshes

        built = build_mesh(cfg, model)
        return filling.fermi_level(model, cfg.fermi.electrons, meshes.resolve(getattr(built, "grid", built), model))
    energies = _defaults(model).fermi_energies
    return float(energies[0]) if len(energies) == 1 else None


def run_config(path: str | Path, output: str | Path | None = None, progress: bool | None = None,
               formats: list[str] | None = None) -> dict[str, xr.DataArray]:
    """Run every response of a TOML file; write the outputs; return ``{response: result}``.

    ``output`` overrides ``[output] path`` (which is relative to the file's directory);
    ``formats`` overrides ``[output] formats``.
    """
    from .calculation import evaluate
    from .engine import Engine
    from .results import convert

    path = Path(path)
    cfg = load_config(path)
    model = build_model(cfg, path)
    jobs = prepare_jobs(cfg, model, path)
    calc, out = cfg.calculation, cfg.output
    outdir = Path(output) if output is not None else path.parent / out.path
    stem = out.name or path.stem
    if formats is not None and not formats:
        raise ValueError("formats=[] writes nothing: give one or more of 'netcdf', 'csv', 'png' (None: the run file's)")
    formats = list(out.formats) if formats is None else formats
    _check_outputs(outdir, stem, calc.responses, formats, path, output is not None)
    engine = Engine(chunk_size=calc.chunk_size or _default_chunk(model), progress=progress,
                    max_kpoints=calc.max_kpoints)
    results = {}
    for name, job in jobs.items():
        symmetric = cfg.mesh is not None and getattr(cfg.mesh, "symmetry", False) is not False
        log.info("%s: %s on %s mesh (%d k-points%s), %d Fermi energies, T = %g K", path.name, name,
                 cfg.mesh.kind if cfg.mesh else "grid (berry_kmesh)", job.mesh.size,
                 ", symmetry requested" if symmetric else "", len(job.fermi), calc.temperature)
        if calc.checkpoint:  # one file per response, relative to the run file: SIGTERM or Ctrl-C keeps it
            engine = replace(engine, checkpoint=path.parent / f"{calc.checkpoint}.{name}")
        try:
            res = evaluate(job, engine)
        except ValueError as exc:
            raise ConfigError(path, [("calculation", str(exc))]) from None
        if symmetric:
            a = res.attrs
            log.info("%s: symmetry %s: %s k-points of %s (group %s)", name, a.get("mesh_symmetry"),
                     a.get("mesh_size"), a.get("mesh_full_size", a.get("mesh_size")), a.get("mesh_symmetry_group", "-"))
        if out.units == "wannier" and model.dim == 3:
            res = convert(res, WANNIER_UNITS.get(res.attrs["units"], res.attrs["units"]))
        res.attrs["convergence"] = single_mesh_note(int(res.attrs.get("mesh_full_size", job.mesh.size)), path.name)
        results[name] = res
        failures = _write(res, outdir / f"{stem}_{name}", formats, model, job.mesh)
        if failures:
            raise OutputError(failures, results)
    return results


def single_mesh_note(kpoints: int, config_name: str) -> str:
    """The one line a ``properspin run`` result carries (attr ``convergence``) and prints: its values are on one
    mesh, not a converged limit; ``properspin converge`` gives value ± error (issue 24)."""
    return (f"on one mesh ({kpoints} k-points), not a converged limit: "
            f"`properspin converge {config_name}` gives value ± error")


class OutputError(OSError):
    """Writing results failed (disk full, directory removed meanwhile ...); ``results`` holds every result
    computed so far, in memory and intact, and ``str()`` names each file that could not be written."""

    def __init__(self, failures: list[str], results: dict[str, xr.DataArray]):
        super().__init__("; ".join(failures) + " (the results computed so far are kept: OutputError.results)")
        self.results = results


def _check_outputs(outdir: Path, stem: str, responses: list[str], formats: list[str], source: Path,
                   from_option: bool) -> None:
    """Refuse, before the first k-point, an output that could not be written (docs/cli.md)."""
    from . import io

    key = "--output" if from_option else "output.path"
    try:
        check_stem(stem)
    except ValueError as exc:
        raise ConfigError(source, [("output.name", f"{exc} (the run file's name is the default)")]) from None
    suffix = {"netcdf": ".nc", "csv": ".csv", "png": ".png"}
    try:
        if outdir.exists() and not outdir.is_dir():
            raise NotADirectoryError(f"{outdir} exists and is not a directory")
        for name in responses:
            for fmt in formats:
                io.check_target(outdir / f"{stem}_{name}{suffix[fmt]}")
        existing = next(p for p in (outdir, *outdir.parents) if p.exists())
        free = shutil.disk_usage(existing).free
    except (OSError, ValueError) as exc:
        raise ConfigError(source, [(key, f"cannot write the results there: {exc}")]) from None
    need = len(responses) * sum(_OUTPUT_BYTES[f] for f in formats)
    if free < need:
        raise ConfigError(source, [(key, f"{outdir} has {free} bytes free; the results need about {need}")])


def _default_chunk(model: Any) -> int:
    from .engine import default_chunk_size

    return default_chunk_size(model.nbands)


#: Bytes a result file may take (a generous bound for the free-space check before computing).
_OUTPUT_BYTES = {"netcdf": 200_000, "csv": 200_000, "png": 400_000}


def _write(res: xr.DataArray, base: Path, formats: list[str], model: Any, mesh: Any) -> list[str]:
    """Write every format; returns the failures (each an OSError message naming its file)."""
    from . import io

    failures = []
    for fmt in formats:
        try:
            if fmt == "netcdf":
                target = io.save(res, base.with_name(base.name + ".nc"))
            elif fmt == "csv":
                target = io.to_csv(res, base.with_name(base.name + ".csv"))
            elif fmt == "png":
                from .plotting import default_kpath, plot_result

                target = plot_result(res, base.with_name(base.name + ".png"),
                                     bands=(model, default_kpath(model, mesh)))
            else:  # pragma: no cover - validated by the schema
                raise ValueError(f"unknown output format {fmt!r}; choose from {', '.join(FORMATS)}")
        except OSError as exc:
            failures.append(str(exc))
            continue
        log.info("wrote %s", target)
    return failures


__all__ = ["MESH_KINDS", "ConfigError", "ModelSpec", "OutputError", "RunConfig", "build_mesh", "build_model",
           "fermi_energies", "fermi_level", "load_config", "prepare_jobs", "run_config", "single_mesh_note"]
