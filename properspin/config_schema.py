"""TOML run files, part 1: the schema (pydantic), readable errors and :func:`load_config`.

A run file has the sections ``[model]``, ``[mesh]``, ``[fermi]``, ``[calculation]`` and ``[output]``
(reference: ``docs/configuration.md``).  Every problem is reported as a :class:`ConfigError` naming the
file, the key and what was expected, e.g. ``bad.toml: mesh.nk: expected a positive integer, got -3``.
What a valid file builds and runs is :mod:`properspin.config`.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .conventions import DEGENERACY_TOL

MESH_KINDS = ("grid", "disk", "sphere", "cylinder")
FORMATS = ("netcdf", "csv", "png")


class ConfigError(ValueError):
    """A run file that cannot be used; ``str()`` is ``FILE: KEY: problem`` (one line per problem)."""

    def __init__(self, source: str | Path, problems: list[tuple[str, str]]):
        self.source, self.problems = str(source), problems
        super().__init__("\n".join(f"{self.source}: {key}: {msg}" if key else f"{self.source}: {msg}"
                                   for key, msg in problems))


# --------------------------------------------------------------------------------------- schema
PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]


def _three(value: list[Any]) -> list[Any]:
    if len(value) != 3:
        raise PydanticCustomError("three", "expected exactly 3 entries (x, y, z), got {n}", {"n": len(value)})
    return value


Vector3 = Annotated[list[float], AfterValidator(_three)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class KpSpec(_Section):
    matrix: str | list[list[str | float]]
    parameters: dict[str, float] = {}
    spin: str = "pauli"  # "none" for a charge-only model
    dim: Literal[1, 2, 3] | None = None
    name: str = "kp"


class WannierSpec(_Section):
    path: str
    lattice: Annotated[list[Vector3], AfterValidator(_three)] | None = None
    spinor_order: Literal["interleaved", "block"] | None = None
    use_position: bool = True
    dim: Literal[1, 2, 3] = 3


class Wannier90RunSpec(_Section):
    seedname: str
    use_ws_distance: bool | None = None
    spin: bool | Literal["auto"] = "auto"
    scissors_shift: float | None = None
    num_valence_bands: PosInt | None = None
    spin_current_tol: PosFloat = 1e-7
    symmetrize: bool = False
    magnetization: Vector3 | None = None
    wannier_gauge: Literal["auto", "fit", "projections"] = "auto"


class ModelSpec(_Section):
    name: str | None = None
    parameters: dict[str, Any] = {}
    kp: KpSpec | None = None
    wannier90: WannierSpec | None = None
    wannier90_run: Wannier90RunSpec | None = None
    zeeman: Vector3 | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        from . import registry

        entry = registry.get(name)  # ValueError lists the known models
        if entry.kind != "builtin":
            raise ValueError(f"'{name}' is configured with a [model.{name}] table, not model.name")
        return name

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        given = [k for k in ("name", "kp", "wannier90", "wannier90_run") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("expected exactly one of name (built-in model), kp, wannier90 or wannier90_run, "
                             f"got {', '.join(given) or 'none'}")
        if self.parameters and self.name is None:
            raise ValueError("model.parameters belongs to a built-in model (model.name)")
        return self


class SymmetrySpec(_Section):
    """``[mesh.symmetry]``: the crystal whose magnetic point group reduces the grid (properspin.symmetry)."""

    win: str | None = None  # a Wannier90 .win (unit_cell_cart, atoms_frac/atoms_cart), relative to the run file
    positions: Annotated[list[list[float]], Field(min_length=1)] | None = None  # fractional, lattice of the model
    species: list[str] | None = None
    magnetization: Vector3 | list[Vector3] | None = None
    tolerance: Annotated[float, Field(gt=0, lt=1)] = 1e-3  # relative: 1 or more checks nothing

    @model_validator(mode="after")
    def _one_structure(self) -> SymmetrySpec:
        if self.win is not None and self.positions is not None:
            raise ValueError("give either win (a Wannier90 .win) or positions and species, not both")
        if (self.positions is None) != (self.species is None):
            raise ValueError("positions and species must be given together (one species label per atom)")
        if self.positions is not None:
            sizes = {len(p) for p in self.positions}
            if len(sizes) != 1 or sizes.pop() not in (2, 3):
                raise ValueError("positions: expected one array of 3 fractional coordinates per atom (2 for a "
                                 "2D lattice)")
            if len(self.species) != len(self.positions):  # type: ignore[arg-type]
                raise ValueError(f"species: expected one label per atom ({len(self.positions)}), got "
                                 f"{len(self.species)}")  # type: ignore[arg-type]
        mag = self.magnetization
        if mag is not None and isinstance(mag[0], list):
            atoms = len(self.positions) if self.positions is not None else None
            if atoms is not None and len(mag) != atoms:
                raise ValueError(f"magnetization: expected one 3-vector (a ferromagnet) or one per atom ({atoms}), "
                                 f"got {len(mag)}")
        return self


class GridSpec(_Section):
    kind: Literal["grid"]
    n: PosInt | list[PosInt]
    shift: float | list[float] = 0.0
    symmetry: bool | str | SymmetrySpec = False


class DiskSpec(_Section):
    kind: Literal["disk"]
    radius: PosFloat
    nk: PosInt = 200
    nphi: PosInt = 64


class SphereSpec(_Section):
    kind: Literal["sphere"]
    radius: PosFloat
    nk: PosInt = 60
    ntheta: PosInt = 24
    nphi: PosInt = 32


class CylinderSpec(_Section):
    kind: Literal["cylinder"]
    radius: PosFloat
    half_height: PosFloat
    nk: PosInt = 60
    nz: PosInt = 40
    nphi: PosInt = 32


MAX_FERMI = 1_000_000  # Fermi energies of one run file: each costs a row of partial sums per component


class FermiSpec(_Section):
    values: Annotated[list[float], Field(min_length=1, max_length=MAX_FERMI)] | None = None
    start: float | None = None
    stop: float | None = None
    num: Annotated[int, Field(gt=0, le=MAX_FERMI)] | None = None
    electrons: PosFloat | None = None  # per cell (lattice) or per Å^d (continuum): the Fermi level of the model

    @model_validator(mode="after")
    def _one_form(self) -> FermiSpec:
        ranged = (self.start, self.stop, self.num)
        if self.electrons is not None and self.values is None and all(v is None for v in ranged):
            return self  # electrons = N alone: one Fermi energy, the level holding N electrons
        if (self.values is None) == all(v is None for v in ranged):
            raise ValueError("expected either values = [...] or start, stop and num (eV)")
        if self.values is None and any(v is None for v in ranged):
            raise ValueError("start, stop and num must be given together")
        if self.values is not None and len(set(self.values)) != len(self.values):
            raise ValueError("Fermi energies must be distinct")
        if self.values is None and self.num > 1 and not self.stop > self.start:  # type: ignore[operator]
            raise ValueError(f"expected stop > start, got start = {self.start}, stop = {self.stop}")
        return self

    def energies(self) -> list[float]:
        if self.values is not None:
            return list(self.values)
        import numpy as np

        return np.linspace(self.start, self.stop, self.num).tolist()  # exact end points


class CalculationSpec(_Section):
    responses: Annotated[list[str], Field(min_length=1)] = ["proper_spin"]
    temperature: NonNegFloat = 0.0
    broadening: NonNegFloat = 0.0
    degeneracy_tol: PosFloat = DEGENERACY_TOL
    chunk_size: PosInt | None = None
    max_kpoints: PosInt = 10**9
    checkpoint: str | None = None
    parameters: dict[str, dict[str, Any]] = {}

    @field_validator("responses")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        from .responses import RESPONSES

        for name in names:
            if name not in RESPONSES:
                raise ValueError(f"unknown response {name!r}; choose from {', '.join(RESPONSES)}")
        if len(set(names)) != len(names):
            raise ValueError("responses are listed more than once")
        return names


class OutputSpec(_Section):
    path: str = "results"
    name: str | None = None
    formats: list[Literal["netcdf", "csv", "png"]] = ["netcdf", "csv", "png"]
    units: Literal["native", "wannier"] = "native"

    @field_validator("path")
    @classmethod
    def _no_nul(cls, path: str) -> str:
        if "\0" in path:
            raise ValueError("the path contains a NUL byte")
        return path

    @field_validator("formats")
    @classmethod
    def _some_format(cls, formats: list[str]) -> list[str]:
        if not formats:  # before: [] wrote nothing and exited 0
            raise ValueError("formats is empty: list at least one of 'netcdf', 'csv', 'png'")
        if len(set(formats)) != len(formats):
            raise ValueError(f"formats lists a format more than once: {formats}")
        return formats

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str | None) -> str | None:
        if name is not None:
            check_stem(name)
        return name


def check_stem(name: str) -> str:
    """An output file-name prefix must stay inside the output directory: no separators, '..' or NUL."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or name != name.strip():
        raise ValueError(f"expected a plain file-name prefix (no '/', '\\', '..', NUL or surrounding spaces; the "
                         f"directory is [output] path), got {_got(name)}")
    if any(ord(c) < 32 for c in name):
        raise ValueError(f"expected a file-name prefix without control characters, got {_got(name)}")
    return name


class RunConfig(_Section):
    model: ModelSpec
    mesh: Annotated[GridSpec | DiskSpec | SphereSpec | CylinderSpec, Field(discriminator="kind")] | None = None
    fermi: FermiSpec | None = None
    calculation: CalculationSpec = CalculationSpec()
    output: OutputSpec = OutputSpec()


# --------------------------------------------------------------------------------------- errors
def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _explain(err: dict[str, Any]) -> str:
    """One pydantic error as 'expected ..., got ...'."""
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    got = f", got {_got(value)}"
    simple = {
        "missing": "missing required key", "extra_forbidden": "unknown key",
        "int_type": "expected an integer" + got, "float_type": "expected a number" + got,
        "finite_number": "expected a finite number" + got, "string_type": "expected a string" + got,
        "bool_type": "expected true or false" + got, "list_type": "expected an array" + got,
        "dict_type": "expected a table" + got, "model_type": "expected a table" + got,
        "model_attributes_type": "expected a table" + got,
        "union_tag_not_found": "missing required key 'kind' (" + ", ".join(MESH_KINDS) + ")",
    }
    if kind in simple:
        return simple[kind]
    if kind == "greater_than" and ctx.get("gt") == 0:
        names = [p for p in err["loc"] if isinstance(p, str)]
        what = "integer" if names and names[-1] in _INT_KEYS else "number"
        return f"expected a positive {what}{got}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op, bound = {"greater_than": (">", "gt"), "greater_than_equal": ("≥", "ge"),
                     "less_than": ("<", "lt"), "less_than_equal": ("≤", "le")}[kind]
        return f"expected a number {op} {ctx[bound]}{got}"
    if kind in ("too_short", "too_long"):
        lo, hi = ctx.get("min_length"), ctx.get("max_length")
        n = f"exactly {lo}" if lo == hi else f"at least {lo}" if kind == "too_short" else f"at most {hi}"
        return f"expected {n} entries, got {ctx.get('actual_length')}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}{got}"
    if kind == "union_tag_invalid":
        return f"expected one of {ctx.get('expected_tags')}, got {_got(ctx.get('tag'))}"
    return re.sub(r"^(Value error|Assertion failed), ", "", err["msg"])


_INT_KEYS = {"n", "nk", "nphi", "ntheta", "nz", "num", "chunk_size", "constrained-int"}
_TYPE_WORDS = {"int_type": "an integer", "float_type": "a number", "list_type": "an array",
               "string_type": "a string", "bool_type": "true or false", "dict_type": "a table"}


def _is_branch(part: Any) -> bool:
    """A union-branch segment pydantic adds to a location ('constrained-int', 'list[float]', 'str')."""
    return isinstance(part, str) and (part in ("int", "float", "str", "bool") or any(c in part for c in "[-"))


def _key(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "mesh" and parts[1] in MESH_KINDS:
        del parts[1]  # the discriminated-union tag
    out = ""
    for p in (p for p in parts if not _is_branch(p)):
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _merge_unions(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the branch of a union (``int | list[int]``) whose type matched; merge pure type mismatches."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    out: list[dict[str, Any]] = []
    for err in errors:
        cut = next((i for i, p in enumerate(err["loc"]) if _is_branch(p)), None)
        if cut is None:
            out.append(err)
        else:
            groups.setdefault(err["loc"][:cut], []).append(err)
    for base, errs in groups.items():
        def mismatch(e: dict[str, Any], n: int = len(base)) -> bool:
            return e["type"] in _TYPE_WORDS and len(e["loc"]) == n + 1
        kept = [e for e in errs if not mismatch(e)]
        if kept:
            out += kept
        else:
            words = " or ".join(dict.fromkeys(_TYPE_WORDS[e["type"]] for e in errs))
            out.append({"type": "union", "loc": base, "msg": f"expected {words}, got {_got(errs[0]['input'])}"})
    return out


def _submodels(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _submodels(arg)]


def _allowed(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the table that contains ``loc`` (for 'unknown key' messages)."""
    classes: list[type[BaseModel]] = [RunConfig]
    for part in loc[:-1]:
        fields = [c.model_fields for c in classes]
        inner = [m for f in fields if part in f for m in _submodels(f[part].annotation)]
        tagged = [c for c, f in zip(classes, fields, strict=True)
                  if "kind" in f and part in get_args(f["kind"].annotation)]
        classes = inner or tagged
    return list(dict.fromkeys(k for c in classes for k in c.model_fields))


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    seen, out = set(), []
    for err in _merge_unions(exc.errors()):  # type: ignore[arg-type]
        item = (_key(err["loc"]), _explain(err))
        if err["type"] == "extra_forbidden" and (allowed := _allowed(err["loc"])):
            item = (item[0], f"unknown key; expected one of {', '.join(allowed)}")
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _blame(message: str, candidates: list[tuple[str, str]], default: str) -> str:
    """The key whose name (first of ``(word, key)``) occurs in an error message."""
    for word, key in candidates:
        if re.search(rf"\b{re.escape(word)}", message):
            return key
    return default


# --------------------------------------------------------------------------------------- loading
def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run file (ConfigError on any problem)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise ConfigError(path, [("", f"{size} bytes: a run file of more than {_MAX_BYTES} bytes is refused")])
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, [("", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError(path, [("", "is a directory, not a TOML file")]) from None
    except OSError as exc:
        raise ConfigError(path, [("", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        raw = tomllib.loads(_text(data))
    except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError
        raise ConfigError(path, [("", f"invalid TOML: {exc}" if isinstance(exc, tomllib.TOMLDecodeError)
                                  else str(exc))]) from None
    except RecursionError:
        raise ConfigError(path, [("", "invalid TOML: arrays or tables nested too deeply")]) from None
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, _problems(exc)) from None


_MAX_BYTES = 16 * 2**20


def _text(data: bytes) -> str:
    """UTF-8 text of a run file; a UTF-8 byte-order mark (Windows editors) is dropped, anything else that is
    not UTF-8 is a ValueError saying where."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValueError("the file is UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}; save the file as UTF-8"
                         ) from None
