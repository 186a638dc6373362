"""Registry of built-in models: name → factory, with parameter docs (units, defaults).

Factories are imported lazily (:meth:`ModelEntry.factory`), so listing models is cheap and a
model family that is not installed does not break the others.  Defaults are read from the
factories' signatures; units and one-line docs come from the table below.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_NO_DEFAULT = inspect.Parameter.empty


@dataclass(frozen=True)
class Parameter:
    """One documented factory parameter."""

    name: str
    unit: str
    doc: str
    default: Any = _NO_DEFAULT
    default_note: str = ""  # shown instead of the default (e.g. "material value")

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT and not self.default_note

    def default_text(self) -> str:
        return self.default_note or ("required" if self.required else f"default {self.default!r}")


@dataclass(frozen=True)
class ModelEntry:
    """A built-in model: where its factory lives and what its parameters mean."""

    name: str
    target: str  # "module:function"
    summary: str
    docs: tuple[tuple[str, str, str], ...]  # (parameter, unit, doc)
    kind: str = "builtin"  # "builtin", "kp" (text matrix), "wannier90" (file) or "wannier90_run" (native run)
    #: extra keyword parameters accepted through ``**kwargs`` (documented in ``docs``)
    open_keywords: bool = False
    #: a working set of parameters (the required ones); file paths relative to the repository (../shared/data)
    example: tuple[tuple[str, Any], ...] = ()
    #: "module:function" whose signature gives the defaults when the factory takes ``**options``
    defaults_from: str = ""

    def factory(self) -> Callable[..., Any]:
        """Import and return the factory function."""
        return _load(self.name, self.target)

    def parameters(self) -> list[Parameter]:
        """Parameters from the factory signature (defaults) merged with the doc table (units)."""
        table = {name: (unit, doc) for name, unit, doc in self.docs}
        out = []
        try:
            sig = list(inspect.signature(self.factory()).parameters.values())
            if self.defaults_from:  # the factory passes **options on: the options' own signature (after the path)
                sig += list(inspect.signature(_load(self.name, self.defaults_from)).parameters.values())[1:]
        except ValueError:
            sig = []
        for p in sig:
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            unit, doc = table.pop(p.name, ("", ""))
            out.append(Parameter(p.name, unit, doc, p.default))
        out += [Parameter(n, u, d, default_note="default: material value") for n, (u, d) in table.items()]
        return out

    def accepts(self, name: str) -> bool:
        return self.open_keywords or any(p.name == name for p in self.parameters())

    def build(self, **params: Any) -> Any:
        """Call the factory with ``params`` (ValueError on a bad value, as the factory raises it)."""
        return self.factory()(**params)


def _load(name: str, target: str) -> Callable[..., Any]:
    """The function ``target`` ("module:function") of model ``name``; ValueError when it cannot be imported."""
    module, func = target.split(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        hint = ": pip install 'properspin[kp]'" if getattr(exc, "name", None) == "sympy" else ""
        raise ValueError(f"model {name!r} is not available in this installation ({exc}){hint}") from None


_TI = tuple((p, u, d) for p, u, d in (
    ("A0", "eV Å", "A(k) = A0 + A2 k∥²"),
    ("A2", "eV Å^3", "cubic in-plane term (conventions decision: 0)"),
    ("B0", "eV Å", "B(k) = B0 + B2 k_z²"),
    ("B2", "eV Å^3", "cubic out-of-plane term (conventions decision: 0)"),
    ("C0", "eV", "ε(k) = C0 + C1 k_z² + C2 k∥²"),
    ("C1", "eV Å^2", "ε(k) k_z² coefficient"),
    ("C2", "eV Å^2", "ε(k) k∥² coefficient"),
    ("M0", "eV", "M(k) = M0 + M1 k_z² + M2 k∥² (band inversion: M0 < 0)"),
    ("M1", "eV Å^2", "M(k) k_z² coefficient"),
    ("M2", "eV Å^2", "M(k) k∥² coefficient"),
))

MODELS: dict[str, ModelEntry] = {e.name: e for e in (
    ModelEntry("qwz", "properspin.models.toy:qwz",
               "Qi–Wu–Zhang Chern insulator (lattice, 2D, charge only); σ_xy = −C e²/h",
               (("u", "", "mass term u + cos kx + cos ky; C = −1 for 0<u<2, +1 for −2<u<0"),),
               example=(("u", 1.0),)),
    ModelEntry("massive_dirac", "properspin.models.toy:massive_dirac",
               "2D massive Dirac cone v(kx σx + ky σy) + Δ σz (continuum); σ_xy = −sgn(Δ) e²/2h in the gap",
               (("velocity", "eV Å", "Dirac velocity ħv"), ("mass", "eV", "Dirac mass Δ")),
               example=(("velocity", 1.0), ("mass", 0.1))),
    ModelEntry("rashba", "properspin.models.toy:rashba",
               "Rashba 2DEG ħ²k²/2m + α(ky σx − kx σy) + m·σ (continuum); conventional σ^z_yx = e/8π",
               (("alpha", "eV Å", "Rashba coefficient α"), ("mass", "m_e", "effective mass"),
                ("zeeman", "eV", "exchange field (mx, my, mz)")),
               example=(("alpha", 0.3), ("mass", 1.0), ("zeeman", (0.0, 0.0, 1e-3)))),
    ModelEntry("bhz", "properspin.models.toy:bhz",
               "lattice BHZ quantum spin Hall model (2D); σ^z_yx = 4 e/8π in the gap without the Rashba term",
               (("u", "", "QWZ mass of each spin block"),
                ("rashba", "eV", "Rashba-like λ(sin ky σx − sin kx σy)⊗1 (breaks s_z conservation; default 0)")),
               example=(("u", 1.0),)),
    ModelEntry("haldane", "properspin.models.tight_binding:haldane_model",
               "Haldane Chern insulator on the honeycomb lattice (2D, a = 1, k Cartesian in 1/a, charge only); "
               "σ_xy = ±e²/h for |M| < 3√3 |t2 sin φ|",
               (("t1", "eV", "nearest-neighbour hopping"), ("t2", "eV", "next-nearest-neighbour hopping t2 e^{±iφ}"),
                ("phi", "rad", "Haldane flux phase φ"), ("M", "eV", "sublattice potential ±M")),
               example=(("t1", 1.0), ("t2", 0.1), ("phi", 1.5707963267948966), ("M", 0.1))),
    ModelEntry("topological_insulator", "properspin.models.topological_insulator:topological_insulator",
               "3D TI bulk k·p model, paper Eq. (10) (continuum, 4 bands)",
               (("material", "", "parameter set (Bi2Se3)"),
                ("magnetization", "eV", "exchange field (mx, my, mz) entering as 1⊗(m·σ)"), *_TI),
               open_keywords=True,
               example=(("material", "Bi2Se3"), ("magnetization", (0.0, 0.0, 1e-3)))),
    ModelEntry("topological_insulator_lattice", "properspin.models.topological_insulator:topological_insulator_lattice",
               "3D TI Eq. (10) regularised on a lattice (periodic, 4 bands): k → sin(k a)/a, k² → 2(1 − cos k a)/a²",
               (("material", "", "parameter set (Bi2Se3)"),
                ("magnetization", "eV", "exchange field (mx, my, mz) entering as 1⊗(m·σ)"),
                ("lattice", "", "'hexagonal' (triangular in-plane net) or 'tetragonal' (square)"),
                ("a", "Å", "in-plane lattice constant (Bi2Se3: 4.14)"),
                ("c", "Å", "lattice constant along z, a regulator (default 3.0; the crystal's 9.55 closes the gap)"),
                *_TI), open_keywords=True,
               example=(("material", "Bi2Se3"), ("lattice", "hexagonal"))),
    ModelEntry("hole_quantum_well", "properspin.models.hole_gas:hole_quantum_well",
               "2D hole gas: Luttinger model, paper Eqs. (11)–(12), or solved in z (method='subbands')",
               (("material", "", "GaAs, InAs, InSb or Ge (Luttinger parameters)"),
                ("width", "m", "well width d, 0 < d ≤ 1e-6"),
                ("field", "V/m", "gate field F_z"),
                ("magnetization", "eV", "exchange m_z"),
                ("spin", "", "'hbar_J' (s = ħJ) or 'hbar_J_over_3' (s = ħJ/3)"),
                ("magnetization_form", "", "'projected' ((2/3) m_z J_z), 'J' (m_z J_z) or 'none'"),
                ("luttinger", "", "None (material table), 'paper', or [γ1, γ2, γ3]"),
                ("method", "", "'bastard' (the paper's 2 functions), 'subbands' (solved in z, projected) or 'full'"),
                ("nsub", "", "HH and LH subbands kept by method='subbands' (4·nsub bands)"),
                ("nbasis", "", "hard-wall sine functions per component (methods 'subbands', 'full')"),
                ("barrier", "eV", "barrier height of the confinement check E < barrier − e|F_z|d/2"),
                ("energy_max", "eV", "highest energy the model is meant for (e.g. max E_F), checked")),
               example=(("material", "GaAs"), ("width", 25e-9), ("field", 1e6), ("magnetization", 1e-3))),
    ModelEntry("kp", "properspin.models.kp:kp_model",
               "user k·p model from a text matrix in k_x, k_y, k_z (Å⁻¹) and named parameters (eV)",
               (("matrix", "eV", "\"[[a, b], [c, d]]\" of sympy expressions; I is the imaginary unit"),
                ("parameters", "", "{name: value} for every other symbol"),
                ("spin", "ħ", "'pauli', 'spin3/2', 'kron(tau0, pauli)', ... or none"),
                ("dim", "", "number of k directions (default: highest used, at least 2)"),
                ("name", "", "label stored in results")), kind="kp",
               example=(("matrix", "[[D*(k_x**2 + k_y**2) + mz, alpha*(k_y + I*k_x)], "
                                   "[alpha*(k_y - I*k_x), D*(k_x**2 + k_y**2) - mz]]"),
                        ("parameters", {"D": 3.80998, "alpha": 0.3, "mz": 1e-3}), ("spin", "pauli"))),
    ModelEntry("wannier90", "properspin.models.wannier:wannier90",
               "Wannier90 tight-binding model from seedname_hr.dat / seedname_tb.dat",
               (("path", "", "the _hr.dat or _tb.dat file"),
                ("lattice", "Å", "3×3 lattice vectors (rows); needed for _hr.dat without a .win"),
                ("spinor_order", "", "'interleaved' or 'block' gives s = 1_orb ⊗ σ/2; none: charge only"),
                ("spin", "ħ", "explicit (3, n, n) spin operators instead of spinor_order"),
                ("use_position", "", "use the stored <0m|r|Rn> of a _tb.dat"),
                ("wsvec", "", "seedname_wsvec.dat (true: beside path)"),
                ("dim", "", "2 for a layer model")), kind="wannier90",
               example=(("path", "../shared/data/Fe_tb.dat"), ("spinor_order", "interleaved"))),
    ModelEntry("wannier90_run", "properspin.models.wannier:wannier90_run",
               "native Wannier90 run (seedname.win, .chk, .eig, .mmn, .spn): H, A, S and the Qiao spin current "
               "as postw90 builds them",
               (("seedname", "", "path prefix of the run (path/Fe for path/Fe.win, path/Fe.chk.fmt.bz2, ...)"),
                ("use_ws_distance", "", "minimal-distance images of every (R, m, n); none: the .win value"),
                ("spin", "", "'auto': S(R) from .spn when present; true: required; false: none"),
                ("spin_current", "", "the Qiao et al. operators (needs .spn and .mmn); 'auto': whenever spin is read"),
                ("scissors_shift", "eV", "rigid shift above num_valence_bands; none: the .win value"),
                ("num_valence_bands", "", "bands below the scissors; none: the .win value"),
                ("spin_current_tol", "eV", "D_nm of the Qiao spin current is 0 where |ε_m − ε_n| is below it")),
               kind="wannier90_run", defaults_from="properspin.models.wannier:read_wannier90_run",
               example=(("seedname", "../shared/data/wannier90/Pt/Pt"),)),
)}


def get(name: str) -> ModelEntry:
    """The registry entry of ``name``; ValueError listing the known names otherwise."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


def describe(names: list[str] | None = None) -> str:
    """Human-readable listing of the models with parameters, units and defaults."""
    lines = []
    for entry in (get(n) for n in (names or MODELS)):
        lines.append(f"{entry.name}  —  {entry.summary}")
        try:
            params = entry.parameters()
        except ValueError as exc:
            lines += [f"    (unavailable: {exc})", ""]
            continue
        width = max((len(p.name) for p in params), default=0)
        for p in params:
            unit = f"[{p.unit}]" if p.unit else ""
            lines.append(f"    {p.name:<{width}}  {unit:<9} {p.doc}  ({p.default_text()})")
        if entry.example:
            lines.append("    example: " + ", ".join(f"{k}={v!r}" for k, v in entry.example))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
