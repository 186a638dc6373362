"""The response stage: what each response accumulates per band, its labelled components and unit.

Each response maps a :class:`~properspin.geometry.BandGeometry` to per-band values ``Q`` with shape
``(*components, N, n)`` such that the response is ``σ = factor · Σ_k w_k Σ_m f(ε_mk) Q_mk``.

=====================  ==========================================================  =========================
response               per-band quantity                                           components
=====================  ==========================================================  =========================
``proper_spin``        ``ε_ijc Σ^{c,l}_m`` — Eq. (1)/(C25), Σ of Eq. (2)           spin, current, field
``conventional_spin``  ``Tr(½{s^l, v_i} ρ_E)`` — Kubo spin Hall                   spin, current, field
``torque_dipole``      proper − conventional                                       spin, current, field
``charge``             ``−ε_ijc Ω^c_m`` — anomalous Hall (s_nn → −e)               current, field
``appendix_c``         (C6), (C7), (C11), (C24)                                    term, spin, current, field
``torque``             ``Tr(t^l ρ_E)``, the torque density (conventions §6)               spin, field
``conventional_spin_ac`` Re, Im of the ac Kubo spin current at ħω (postw90's freq. scan)  part, spin, current, field
``torque_dipole_kubo`` torque dipole from its definition, finite-q Kubo (route 1)          spin, current, field
``conserved_spin_kubo`` conventional + ``torque_dipole_kubo``: Shi's 𝒥 = d(rs)/dt        spin, current, field
``conserved_spin_streda`` ``ε_ijc (−ħ/e) ∂M_c/∂h_l``, spin Středa (route 2)             spin, current, field
``orbital_magnetization`` ``M_c`` (modern theory), A (2D) or A/m (3D)                     axis
``torque_dipole_metal`` route 1 torque dipole with Fermi-surface terms (metals, T > 0)     spin, current, field
``conserved_spin_metal`` conventional + ``torque_dipole_metal``                            spin, current, field
``conserved_spin_streda_metal`` Hall part, −(ħ/e)∂M/∂h at fixed μ + σ^I (metals)         spin, current, field
``spin_drude_weight``  ``Σ δ(ε − E_F) s_nn v_i v_j``, the left-out symmetric 1/Γ weight    spin, current, field
=====================  ==========================================================  =========================

The definition routes (:mod:`properspin.conserved`, :mod:`properspin.orbital`, :mod:`properspin.conserved_metal`)
need a lattice model with point orbitals (the ``_metal`` ones also a continuum model with every band empty at the
cutoff); ``conserved_spin_kubo``, ``torque_dipole_kubo`` and ``conserved_spin_streda`` hold with E_F in a gap, the
``_metal`` ones everywhere (``surface=True``: Fermi-surface parts weighted by ``−f'``, T > 0 in a band).
A response with ``grand=True`` returns
three parts ``(q_f, q_G, ε q_G)`` and is summed as ``Σ f(ε − μ) q_f + Σ G(ε − μ) q_G`` with the grand-potential
occupation ``G(x) = k_BT ln(1 + e^{−x/k_BT})`` (:meth:`properspin.sweep.Sweep.finish`).

Parameters of ``proper_spin`` (conventions §3): ``degenerate`` ("block_trace" default / "exclude" /
"regulated_limit" with ``regulator`` = m̂), ``occupation_split`` and ``dephasing`` η (eV); the regulated limit
and the occupation split add a leading ``part`` dimension.  ``torque_dipole`` and ``appendix_c`` take
``degenerate`` ("block_trace" / "exclude") too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import conserved, conserved_metal, orbital, units
from . import geometry as geo
from .kernel_modes import KernelMode
from .response_contract import (  # noqa: F401 - re-exported
    KINDS,
    BandView,
    Companion,
    Law,
    MetallicFermiWarning,
    _template_fields,
    component_text,
)

SPIN_LABELS = ("x", "y", "z")
APPENDIX_C_TERMS = ("C6", "C7", "C11", "C24")


@dataclass(frozen=True, eq=False)
class Response:
    """A response: its per-band formula, component dimensions, unit and its own parameters.

    ``defaults`` declares the parameters the formula understands (name → default value); ``params`` holds the
    values of this instance (defaults filled in).  Parameters are set with :meth:`with_params` or
    :func:`get` (``get("conventional_spin", broadening=0.01)``), validated by ``check`` when given, and
    recorded in every result's attributes.  ``kernel_mode`` is the fused-kernel path
    (:class:`properspin.kernels.KernelMode`) for this response, used only while every parameter outside
    ``kernel_params`` keeps its default and those named in ``kernel_values`` take one of the values listed
    there; otherwise the numpy formula runs (:mod:`properspin.chunk`).
    ``diagonal_spin`` says whether the formula uses the band-diagonal spin ``s_nn`` (then near-degenerate
    pairs where it is gauge-dependent are counted and reported, conventions §3); unset: every ``"spin"``
    response does.  ``labels`` gives the coordinate labels of dimensions of its own (e.g. ``{"term": (...)}``);
    ``parts`` (params → labels or None) adds a leading ``part`` dimension for parameter choices that split the
    response into parts; ``geometry`` names the optional :class:`~properspin.geometry.BandGeometry` pieces the
    formula needs (``"torque"``, ``"curvature"``: the Wannier curvature); ``unit_of = (factor(dim), unit(dim))``
    replaces the factor and unit of its ``kind`` (a new kind of quantity; the kinds: :data:`KINDS`).
    ``law`` is its symmetry law (:class:`Law`; ``None``: symmetry is refused for it), ``column`` and ``symbol``
    name one component in CSV columns and plots (``str.format`` templates over the component dimensions,
    ``"sigma_{spin}_{current}{field}"`` and ``"$\\sigma^{{{spin}}}_{{{current}{field}}}$"``; a dimension the
    template does not name is appended as ``_<dim>_<label>``; ``None``: ``<dim>_<label>`` joined), and
    ``band_view`` its per-band quantity for ``properspin bands`` (:class:`BandView`, or ``None``).
    ``companions`` are further sums accumulated in the same pass over the mesh and turned into attrs
    (:class:`Companion`; a response with companions runs on the numpy path).
    """

    name: str
    kind: str  # "spin", "charge" or "torque"
    dims: tuple[str, ...]
    formula: Callable[[geo.BandGeometry, Mapping[str, Any]], np.ndarray]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    kernel_mode: int | None = None
    kernel_params: tuple[str, ...] = ()
    kernel_values: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    parts: Callable[[Mapping[str, Any]], tuple[str, ...] | None] | None = None
    geometry: tuple[str, ...] = ()  # optional BandGeometry pieces the formula needs: "torque", "curvature"
    description: str = ""
    diagonal_spin: bool | None = None
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unit_of: tuple[Callable[[int], float], Callable[[int], str]] | None = None
    grand: bool = False  # parts (q_f, q_G, ε q_G): Σ f q_f + Σ G q_G (see module docstring)
    insulator_only: bool = False  # defined with E_F in a gap only: NaN (and a warning) at other Fermi energies
    surface: bool = False  # parts (q_f, q_d): Σ f q_f + Σ (−f') q_d, Fermi-surface terms (Sweep.finish_surface)
    point_orbitals: bool = False  # needs a lattice model with point orbitals and a local spin (refused otherwise)
    law: Law | None = None
    column: str | None = None
    symbol: str | None = None
    band_view: BandView | None = None
    companions: tuple[Companion, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS and self.unit_of is None:
            raise ValueError(f"response {self.name!r}: kind {self.kind!r} is none of {', '.join(KINDS)}; "
                             "a new kind of quantity needs unit_of=(factor(dim), unit(dim))")
        if self.law is not None and len(self.law.indices) != len(self.dims):
            raise ValueError(f"response {self.name!r}: its law has {len(self.law.indices)} indices for the "
                             f"{len(self.dims)} dimensions {self.dims}")
        unknown = set(self.params) - set(self.defaults)
        if unknown:
            raise ValueError(self._unknown(unknown))
        params = {**self.defaults, **self.params}
        if self.check is not None:
            params = self.check(params)
        object.__setattr__(self, "params", params)

    def _unknown(self, names: Any) -> str:
        known = ", ".join(self.defaults) or "none"
        return f"response {self.name!r} has no parameter(s) {', '.join(sorted(names))} (its parameters: {known})"

    def with_params(self, **params: Any) -> Response:
        """A copy with some parameters changed (unknown names are refused)."""
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(self._unknown(unknown))
        return replace(self, params={**self.params, **params})

    @property
    def needs_spin(self) -> bool:
        """Whether the formula needs the model's spin operator."""
        return self.kind in ("spin", "torque")

    def band_geometry(self, model: Any, k: np.ndarray, tol: float) -> geo.BandGeometry:
        """The band geometry this response's formula needs (no spin, torque or Wannier curvature it does not use)."""
        return geo.band_geometry(model, k, tol, with_spin=self.needs_spin, with_torque="torque" in self.geometry,
                                 with_curvature="curvature" in self.geometry)

    @property
    def uses_diagonal_spin(self) -> bool:
        """Whether the formula uses ``s_nn`` (Eq. 2), so that degenerate pairs are checked (conventions §3)."""
        return self.kind == "spin" if self.diagonal_spin is None else bool(self.diagonal_spin)

    @property
    def fused_mode(self) -> int | None:
        """The fused-kernel mode for these parameters, or ``None`` (numpy path; always with companions)."""
        if self.kernel_mode is None or self.companions:
            return None
        for key, default in self.defaults.items():
            if key in self.kernel_values:
                if self.params[key] not in self.kernel_values[key]:
                    return None
            elif key not in self.kernel_params and self.params[key] != default:
                return None
        return self.kernel_mode

    @property
    def companion_responses(self) -> tuple[Response, ...]:
        """The responses whose sums :attr:`companions` accumulate (registered names; an unknown one is refused)."""
        try:
            return tuple(RESPONSES[c.response] for c in self.companions)
        except KeyError as exc:
            raise ValueError(f"response {self.name!r}: companion {exc.args[0]!r} is not a registered response "
                             f"({', '.join(RESPONSES)})") from None

    def width(self, dim: int) -> int:
        """Per-state columns of the formula: the flattened components times the summed parts (``surface``: 2,
        ``grand``: 3, both: 4; :meth:`properspin.sweep.Sweep.finish_surface`)."""
        parts = (4 if self.grand else 2) if self.surface else (3 if self.grand else 1)
        return parts * int(np.prod([len(v) for v in self.coords(dim).values()]))

    def columns(self, dim: int) -> tuple[int, ...]:
        """Per-state columns of one pass: the formula's own (:meth:`width`), then each companion's."""
        return (self.width(dim),) + tuple(c.width(dim) for c in self.companion_responses)

    def coords(self, dim: int) -> dict[str, tuple[str, ...]]:
        labels = {"spin": SPIN_LABELS, "current": SPIN_LABELS[:dim], "field": SPIN_LABELS[:dim],
                  "axis": SPIN_LABELS if dim == 3 else ("z",), **self.labels}
        out = {d: tuple(labels[d]) for d in self.dims}
        parts = self.parts(self.params) if self.parts is not None else None
        return {"part": tuple(parts), **out} if parts else out

    def column_label(self, index: Mapping[str, str]) -> str:
        """CSV column of one component (``{dim: label}``): ``sigma_z_yx``, ``C6_sigma_z_yx``, ``sigma_z_yx_part_re``."""
        return component_text(self.column, index)

    def plot_symbol(self, index: Mapping[str, str]) -> str:
        """Mathtext symbol of one component: ``$\\sigma^{z}_{yx}$``, ``$t^{y}_{x}$``, ``C6: $\\sigma^{z}_{yx}$``."""
        return component_text(self.symbol, index, plain=False)

    @property
    def tensor_dims(self) -> tuple[str, ...]:
        """The dimensions that select a tensor component (law index polar or axial); the others (``term``,
        ``part``) label curves.  Without a law: those among spin, current, field, axis."""
        if self.law is None:
            return tuple(d for d in self.dims if d in ("spin", "current", "field", "axis"))
        return tuple(d for d, kind in zip(self.dims, self.law.indices, strict=True) if kind != "none")

    def factor(self, dim: int) -> float:
        if self.unit_of is not None:
            return self.unit_of[0](dim)
        if self.kind == "spin":
            return units.spin_factor(dim)
        if self.kind == "charge":
            return units.charge_factor(dim)
        if self.kind == "magnetization":
            return units.E2_OVER_HBAR / units.ANGSTROM ** (dim - 2)  # (e/ħ)·eV·Å^(2−d) → A (2D), A/m (3D)
        return units.E_CHARGE / units.ANGSTROM ** (dim - 1)  # torque: e Å^(1-d) → C m^(1-d)

    def unit(self, dim: int) -> str:
        if self.unit_of is not None:
            return self.unit_of[1](dim)
        if self.kind == "torque":
            return "C/m^2" if dim == 3 else "C/m"
        if self.kind == "magnetization":
            return "A/m" if dim == 3 else "A"
        return units.UNITS[(self.kind, dim)]


def _check_broadening(params: dict[str, Any]) -> dict[str, Any]:
    eta = params["broadening"]
    try:
        eta = float(eta)
    except (TypeError, ValueError):
        raise ValueError(f"broadening must be a finite number ≥ 0 eV, got {params['broadening']!r}") from None
    if not math.isfinite(eta) or eta < 0:
        raise ValueError(f"broadening must be a finite number ≥ 0 eV, got {params['broadening']!r}")
    return {**params, "broadening": eta}


def _check_conventional(params: dict[str, Any]) -> dict[str, Any]:
    params = _check_broadening(params)
    if params["method"] not in ("simple", "qiao"):
        raise ValueError(f"method must be 'simple' (½{{s, v}} inside the model) or 'qiao' (ab-initio spin current "
                         f"of a Wannier90 run), got {params['method']!r}")
    emax = params["eigval_max"]
    try:
        emax = float(emax)
    except (TypeError, ValueError):
        raise ValueError(f"eigval_max must be a number in eV (inf: no limit), got {params['eigval_max']!r}") from None
    if math.isnan(emax) or emax == -math.inf:  # −inf was read as "no limit" (as +inf) before
        raise ValueError(f"eigval_max must be a number in eV or +inf (no limit), got {emax!r}: −inf would drop "
                         "every band pair")
    return {**params, "eigval_max": emax}


def _check_ac(params: dict[str, Any]) -> dict[str, Any]:
    params = _check_conventional(params)
    try:
        omega = float(params["frequency"])
    except (TypeError, ValueError):
        raise ValueError(f"frequency must be a number ħω ≥ 0 in eV, got {params['frequency']!r}") from None
    if not math.isfinite(omega) or omega < 0:
        raise ValueError(f"frequency must be a number ħω ≥ 0 in eV, got {params['frequency']!r}")
    if omega > 0 and params["broadening"] <= 0:
        raise ValueError("an ac response (frequency > 0) needs a broadening η > 0 eV: the poles at Δ = ħω are real")
    return {**params, "frequency": omega}


def _conventional_ac(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return geo.conventional_spin_curvature_ac(g, p["frequency"], p["broadening"], p["method"], p["eigval_max"])


@dataclass(frozen=True)
class _positive_step:  # noqa: N801 - used as a function: check=_positive_step("q_step")
    """Validate a finite-difference step ``name`` in (0, 0.1] (and ``method``); a picklable check."""

    name: str

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self.name
        try:
            step = float(params[name])
        except (TypeError, ValueError):
            step = math.nan
        if not math.isfinite(step) or not 0 < step <= 0.1:
            raise ValueError(f"{name} must be a finite number in (0, 0.1], got {params[name]!r}")
        out = {**params, name: step}
        if "method" in params and params["method"] not in ("analytic", "finite_difference"):
            raise ValueError(f"method must be 'analytic' or 'finite_difference', got {params['method']!r}")
        return out


_DEGENERATE = ("block_trace", "exclude")
OCCUPATION_PARTS = ("occupied_empty", "occupied_occupied")


def _check_degenerate(params: dict[str, Any], modes: tuple[str, ...] = _DEGENERATE) -> dict[str, Any]:
    if params["degenerate"] not in modes:
        raise ValueError(f"degenerate must be one of {', '.join(map(repr, modes))}, got {params['degenerate']!r}")
    return params


def _check_proper(params: dict[str, Any]) -> dict[str, Any]:
    """Validate the proper-spin parameters (conventions §3)."""
    params = _check_degenerate(params, _DEGENERATE + ("regulated_limit",))
    reg = params["regulator"]
    if params["degenerate"] == "regulated_limit":
        try:
            m = np.asarray(reg, dtype=float)
        except (TypeError, ValueError):
            m = np.zeros(0)
        if reg is None or m.shape != (3,) or not np.all(np.isfinite(m)) or not np.any(m):
            raise ValueError("degenerate='regulated_limit' needs regulator=(mx, my, mz), the direction of the "
                             "exchange field m̂ whose λ → 0 limit is taken (three finite numbers, not all 0), "
                             f"got {reg!r}")
        params = {**params, "regulator": tuple(float(x) for x in m / np.linalg.norm(m))}
        if params["occupation_split"] or params["dephasing"]:
            raise ValueError("degenerate='regulated_limit' reports its own parts; it cannot be combined with "
                             "occupation_split or dephasing")
    elif reg is not None:
        raise ValueError("regulator is used only with degenerate='regulated_limit' (to regulate the model itself "
                         "use model.with_zeeman((mx, my, mz)))")
    if not isinstance(params["occupation_split"], (bool, np.bool_)):
        raise ValueError(f"occupation_split must be True or False, got {params['occupation_split']!r}")
    try:
        eta = float(params["dephasing"])
    except (TypeError, ValueError):
        eta = math.nan
    if not math.isfinite(eta) or eta < 0:
        raise ValueError(f"dephasing must be a finite number ≥ 0 eV (η = ħ/2τ), got {params['dephasing']!r}")
    return {**params, "occupation_split": bool(params["occupation_split"]), "dephasing": eta}


def _proper_parts(p: Mapping[str, Any]) -> tuple[str, ...] | None:
    if p["degenerate"] == "regulated_limit":
        return geo.REGULATED_PARTS
    return OCCUPATION_PARTS if p["occupation_split"] else None


def _proper(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    """ε_ijc Σ^{c,l}: Eq. (2) / block trace, its regulated-limit parts or its occupation parts."""
    mode = p.get("degenerate", "block_trace")
    if mode == "regulated_limit":
        parts = geo.regulated_limit_parts(g, np.asarray(p["regulator"]))
        return np.stack([geo.levi_civita_contract(q, g.dim) for q in parts])
    if not (p.get("occupation_split") or p.get("dephasing")):
        return geo.levi_civita_contract(geo.proper_spin_curvature(g, mode), g.dim)
    empty, occupied = geo.occupation_parts(g, geo.spin_pair_terms(g, mode), p["dephasing"], mode == "block_trace")
    if p["occupation_split"]:
        return np.stack([geo.levi_civita_contract(q, g.dim) for q in (empty, occupied)])
    return geo.levi_civita_contract(empty + occupied, g.dim)


def _conventional(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return geo.conventional_spin_curvature(g, p["broadening"], p.get("method", "simple"),
                                           p.get("eigval_max", math.inf))


def _torque_dipole(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return _proper(g, p) - geo.conventional_spin_curvature(g, p["broadening"])


def _charge(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return -geo.levi_civita_contract(geo.berry_curvature(g)[:, None], g.dim)[0]


def _appendix_c(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    terms = geo.appendix_c_terms(g, p["degenerate"])
    return np.stack([terms[t] for t in APPENDIX_C_TERMS])


def _torque(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return geo.torque_response(g)


def _torque_dipole_kubo(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    if p["method"] == "analytic":
        return conserved.torque_dipole_analytic(g)
    return conserved.torque_dipole_finite_difference(g, p["q_step"])


def _conserved_kubo(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return conserved.conserved_kubo(g, p["method"], p["q_step"])


def _conserved_streda(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return conserved.spin_streda(g, p["zeeman_step"])


def _torque_dipole_metal(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return conserved_metal.torque_dipole_parts(g)


def _conserved_metal(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return conserved_metal.conserved_kubo_parts(g)


def _conserved_streda_metal(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return conserved_metal.streda_metal_parts(g, p["zeeman_step"])


def _drude(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return conserved_metal.drude_parts(g)


def _orbital_magnetization(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return orbital.orbital_magnetization(g)


_SPIN_DIMS = ("spin", "current", "field")
# route 1: "analytic" (Daleckii–Krein) or "finite_difference" in q with step q_step (Å⁻¹, 4th order)
_KUBO = {"method": "analytic", "q_step": 1e-3}
_ZEEMAN = {"zeeman_step": 1e-3}  # eV: step of the 4th-order difference in h (H + h s^l, s in ħ)
_ETA = {"broadening": 0.0}  # η (eV) in 1/(Δ² + η²) of the conventional current (Wannier90's habit); 0: clean limit
#: conventional spin current: η; the spin-current matrix ("simple" ½{s, v} inside the model, "qiao" the ab-initio
#: one of a Wannier90 run); eigval_max (eV): pairs with a band above it are dropped (postw90's kubo_eigval_max)
_CONVENTIONAL = {**_ETA, "method": "simple", "eigval_max": math.inf}
#: Degenerate bands (conventions §3): "block_trace" (default: Eq. (2) in block-trace form wherever bands are
#: degenerate within ``degeneracy_tol``), "exclude" (Eq. (2), pairs inside the tolerance dropped, s_nn of the
#: eigensolver's basis), "regulated_limit" (proper spin only: the λ → 0 limit of H + λ m̂·σ along
#: ``regulator``, reported as the parts block_trace + projection Π(m̂) + intra_pair X(m̂)).
_PROPER = {"degenerate": "block_trace", "regulator": None, "occupation_split": False, "dephasing": 0.0}
_DEG = {"degenerate": "block_trace"}
_KERNEL_DEG = {"degenerate": _DEGENERATE}  # the kernel does both; "regulated_limit" runs on the numpy path


def _check_torque_dipole(params: dict[str, Any]) -> dict[str, Any]:
    return _check_degenerate(_check_broadening(params))


# symmetry laws: spin s and velocity v are T-odd, E is T-even, so a spin current ½{s, v} (and every route to the
# conserved one: d(rs)/dt, ∂M/∂h) is T-even, and so are their Fermi-surface Hall parts; Ω, M and the spin Drude
# weight Σ δ(ε − E_F) s v v (a dissipative ∝ 1/Γ term) are T-odd; the torque i[H, s]/ħ is axial and T-even.  The
# ac parts Re, Im: the per-k factor 1/(Δ² − (ħω + iη)²) depends on energies only, so both transform as the static one.
_SPIN_LAW = Law(("axial", "polar", "polar"), +1)
_SPIN_COLUMN, _SPIN_SYMBOL = "sigma_{spin}_{current}{field}", "$\\sigma^{{{spin}}}_{{{current}{field}}}$"
_SPIN_LABELS = {"law": _SPIN_LAW, "column": _SPIN_COLUMN, "symbol": _SPIN_SYMBOL}
#: the metal routes' Drude weight, accumulated in their own pass (attrs ``drude_weight_max``, a warning if ≠ 0)
_DRUDE = (Companion("spin_drude_weight", conserved_metal.drude_summary),)


@dataclass(frozen=True)
class _OwnFormula:
    """The formula of response ``name`` as a band view's values (a picklable callable: jobs travel to workers)."""

    name: str

    def __call__(self, g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
        return RESPONSES[self.name].formula(g, p)


def _spin_view(name: str, symbol: str, params: bool = True) -> BandView:
    """The per-band integrand of a spin response itself, components (l, i, j), Å² ħ per state."""
    return BandView(name, ("l", "i", "j"), "Å^2 hbar", symbol, "z,x,y", _OwnFormula(name), params=params)


def _berry_view(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return geo.berry_curvature(g)


def _proper_view(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return geo.proper_spin_curvature(g)


def _conventional_view(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return geo.conventional_spin_curvature(g, p["broadening"], p["method"], p["eigval_max"])


_BERRY = BandView("berry", ("c",), "Å^2", "Ω^{{{0}}}", "z", _berry_view, needs_spin=False)
_PROPER_VIEW = BandView("proper_spin", ("c", "l"), "Å^2 hbar", "Σ^{{{0},{1}}}", "z,z", _proper_view)
_CONVENTIONAL_VIEW = BandView("conventional_spin", ("l", "i", "j"), "Å^2 hbar", "Ω^{{s,{0}}}_{{{1}{2}}}", "z,x,y",
                              _conventional_view, params=True)


RESPONSES: dict[str, Response] = {
    r.name: r
    for r in (
        Response("proper_spin", "spin", _SPIN_DIMS, _proper, _PROPER, check=_check_proper,
                 kernel_mode=KernelMode.PROPER_SPIN, kernel_params=("occupation_split", "dephasing"),
                 kernel_values=_KERNEL_DEG, parts=_proper_parts,
                 description="intrinsic proper (conserved) spin conductivity, Eq. (1)",
                 band_view=_PROPER_VIEW, **_SPIN_LABELS),
        Response("conventional_spin", "spin", _SPIN_DIMS, _conventional, _CONVENTIONAL, check=_check_conventional,
                 kernel_mode=KernelMode.CONVENTIONAL_SPIN, kernel_params=("broadening", "eigval_max"),
                 kernel_values={"method": ("simple", "qiao")}, diagonal_spin=False,
                 description="conventional intrinsic (Kubo) spin Hall conductivity, j = ½{s, v}",
                 band_view=_CONVENTIONAL_VIEW, **_SPIN_LABELS),
        Response("torque_dipole", "spin", _SPIN_DIMS, _torque_dipole, {**_ETA, **_DEG}, check=_check_torque_dipole,
                 kernel_mode=KernelMode.TORQUE_DIPOLE, kernel_params=("broadening",), kernel_values=_KERNEL_DEG,
                 description="torque-dipole spin conductivity = proper − conventional",
                 band_view=_spin_view("torque_dipole", "Σ^{{τ,{0}}}_{{{1}{2}}}"), **_SPIN_LABELS),
        Response("charge", "charge", ("current", "field"), _charge, kernel_mode=KernelMode.CHARGE,
                 geometry=("curvature",), description="intrinsic anomalous Hall conductivity (Berry curvature)",
                 law=Law(("polar", "polar"), -1), column="sigma_{current}{field}",
                 symbol="$\\sigma_{{{current}{field}}}$", band_view=_BERRY),
        Response("appendix_c", "spin", ("term",) + _SPIN_DIMS, _appendix_c, _DEG, check=_check_degenerate,
                 labels={"term": APPENDIX_C_TERMS}, geometry=("torque",), kernel_mode=KernelMode.APPENDIX_C,
                 kernel_values=_KERNEL_DEG,
                 description="Appendix C terms (C6), (C7), (C11), (C24) as spin conductivities",
                 law=Law(("none",) + _SPIN_LAW.indices, +1), column="{term}_" + _SPIN_COLUMN,
                 symbol="{term}: " + _SPIN_SYMBOL),
        Response("torque", "torque", ("spin", "field"), _torque, geometry=("torque",), kernel_mode=KernelMode.TORQUE,
                 description="spin torque density per unit field, Tr(t^l ρ_E)",
                 law=Law(("axial", "polar"), +1), column="torque_{spin}_{field}", symbol="$t^{{{spin}}}_{{{field}}}$"),
        Response("conventional_spin_ac", "spin", ("part",) + _SPIN_DIMS, _conventional_ac,
                 {**_CONVENTIONAL, "frequency": 0.0}, check=_check_ac, labels={"part": ("re", "im")},
                 diagonal_spin=False,
                 description="ac conventional spin Hall conductivity σ(ω) (Kubo, fixed broadening η): Re and Im",
                 law=Law(("none",) + _SPIN_LAW.indices, +1), column=_SPIN_COLUMN, symbol=_SPIN_SYMBOL),
        Response("torque_dipole_kubo", "spin", _SPIN_DIMS, _torque_dipole_kubo, _KUBO, check=_positive_step("q_step"),
                 diagonal_spin=False, insulator_only=True, geometry=("torque",), point_orbitals=True,
                 description="torque dipole from its definition (finite-q Kubo, τ = −∇·P_τ), insulators",
                 band_view=_spin_view("torque_dipole_kubo", "Σ^{{τ,{0}}}_{{{1}{2}}}"), **_SPIN_LABELS),
        Response("conserved_spin_kubo", "spin", _SPIN_DIMS, _conserved_kubo, _KUBO, check=_positive_step("q_step"),
                 diagonal_spin=False, insulator_only=True, geometry=("torque",), point_orbitals=True,
                 description="conserved spin current d(rs)/dt from its definition: conventional + finite-q "
                             "Kubo torque dipole, insulators",
                 band_view=_spin_view("conserved_spin_kubo", "Ω^{{𝒥,{0}}}_{{{1}{2}}}"), **_SPIN_LABELS),
        Response("conserved_spin_streda", "spin", _SPIN_DIMS, _conserved_streda, _ZEEMAN,
                 check=_positive_step("zeeman_step"), grand=True, diagonal_spin=False, insulator_only=True,
                 point_orbitals=True,
                 description="Hall part of the conserved spin current by spin Středa, −(ħ/e)∂M_c/∂h_l, insulators",
                 **_SPIN_LABELS),
        Response("torque_dipole_metal", "spin", _SPIN_DIMS, _torque_dipole_metal, diagonal_spin=False,
                 geometry=("torque",), surface=True, point_orbitals=True,
                 description="torque dipole from its definition (finite-q Kubo) with Fermi-surface terms: "
                             "insulators and metals (T > 0 in a band)",
                 companions=_DRUDE, **_SPIN_LABELS),
        Response("conserved_spin_metal", "spin", _SPIN_DIMS, _conserved_metal, diagonal_spin=False,
                 geometry=("torque",), surface=True, point_orbitals=True,
                 description="conserved spin current d(rs)/dt, route 1 (conventional + finite-q torque dipole) "
                             "with Fermi-surface terms: insulators and metals (T > 0 in a band)",
                 companions=_DRUDE, **_SPIN_LABELS),
        Response("conserved_spin_streda_metal", "spin", _SPIN_DIMS, _conserved_streda_metal, _ZEEMAN,
                 check=_positive_step("zeeman_step"), grand=True, surface=True, diagonal_spin=False,
                 point_orbitals=True,
                 description="Hall part of the conserved spin current, route 2: spin Středa term −(ħ/e)∂M_c/∂h_l "
                             "at fixed μ + Fermi-surface term σ^I; insulators and metals (T > 0 in a band)",
                 **_SPIN_LABELS),
        Response("spin_drude_weight", "spin", _SPIN_DIMS, _drude, diagonal_spin=False, surface=True,
                 description="Drude weight Σ δ(ε − E_F) s^l_nn v_i v_j (eV·Å² per state) of the symmetric 1/Γ term "
                             "that the metal conserved-spin responses leave out; T > 0 in a band",
                 law=Law(_SPIN_LAW.indices, -1), column="W_{spin}_{current}{field}",
                 symbol="$W^{{{spin}}}_{{{current}{field}}}$"),
        Response("orbital_magnetization", "magnetization", ("axis",), _orbital_magnetization, grand=True,
                 diagonal_spin=False, description="orbital magnetisation (modern theory), point orbitals",
                 law=Law(("axial",), -1), column="M_{axis}", symbol="$M_{{{axis}}}$"),
    )
}


def get(name: str | Response, **params: Any) -> Response:
    """A response by name (or a :class:`Response` itself), with parameters set; clear errors for unknown names."""
    if isinstance(name, Response):
        return name.with_params(**params) if params else name
    try:
        resp = RESPONSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown response {name!r}; choose one of {', '.join(RESPONSES)}") from None
    return resp.with_params(**params) if params else resp


def of_result(result: Any) -> Response | None:
    """The response whose labels name a result's components: the registered one it was computed with
    (``attrs["response"]``); for a name not registered in this process (a file of a custom response), the first
    registered response with the same component dimensions (``(spin, field)``: a torque density); else None."""
    name = result.attrs.get("response", result.name)
    if isinstance(name, str) and name in RESPONSES:
        return RESPONSES[name]
    dims = tuple(d for d in result.dims if d not in ("temperature", "fermi", "part"))
    return next((r for r in RESPONSES.values() if r.dims == dims), None)
