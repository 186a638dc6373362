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
=====================  ==========================================================  =========================

Parameters of ``proper_spin`` (conventions §3): ``degenerate`` ("block_trace" default / "exclude" /
"regulated_limit" with ``regulator`` = m̂), ``occupation_split`` and ``dephasing`` η (eV); the regulated limit
and the occupation split add a leading ``part`` dimension.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import geometry as geo
from . import units

SPIN_LABELS = ("x", "y", "z")
APPENDIX_C_TERMS = ("C6", "C7", "C11", "C24")


@dataclass(frozen=True, eq=False)
class Response:
    """A response: its per-band formula, component dimensions, unit and its own parameters.

    ``defaults`` declares the parameters the formula understands (name → default value); ``params`` holds the
    values of this instance (defaults filled in).  Parameters are set with :meth:`with_params` or
    :func:`get` (``get("conventional_spin", broadening=0.01)``), validated by ``check`` when given, and
    recorded in every result's attributes.  ``kernel_mode`` is the fused-kernel path
    (:mod:`properspin.kernels`) for this response, used only while every parameter outside
    ``kernel_params`` keeps its default and those named in ``kernel_values`` take one of the values listed
    there; otherwise the numpy formula runs.  ``parts`` (params → labels or None) adds a leading ``part``
    dimension for parameter choices that split the response into parts.
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

    def __post_init__(self) -> None:
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
    def fused_mode(self) -> int | None:
        """The fused-kernel mode for these parameters, or ``None`` (numpy path)."""
        if self.kernel_mode is None:
            return None
        for key, default in self.defaults.items():
            if key in self.kernel_values:
                if self.params[key] not in self.kernel_values[key]:
                    return None
            elif key not in self.kernel_params and self.params[key] != default:
                return None
        return self.kernel_mode

    def coords(self, dim: int) -> dict[str, tuple[str, ...]]:
        labels = {"spin": SPIN_LABELS, "current": SPIN_LABELS[:dim], "field": SPIN_LABELS[:dim],
                  "term": APPENDIX_C_TERMS}
        out = {d: labels[d] for d in self.dims}
        parts = self.parts(self.params) if self.parts is not None else None
        return {"part": parts, **out} if parts else out

    def factor(self, dim: int) -> float:
        if self.kind == "spin":
            return units.spin_factor(dim)
        if self.kind == "charge":
            return units.charge_factor(dim)
        return units.E_CHARGE / units.ANGSTROM ** (dim - 1)  # torque: e Å^(1-d) → C m^(1-d)

    def unit(self, dim: int) -> str:
        if self.kind == "torque":
            return "C/m^2" if dim == 3 else "C/m"
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
    empty, occupied = geo.occupation_parts(g, geo.spin_pair_terms(g, mode), p["dephasing"])
    if p["occupation_split"]:
        return np.stack([geo.levi_civita_contract(q, g.dim) for q in (empty, occupied)])
    return geo.levi_civita_contract(empty + occupied, g.dim)


def _conventional(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return geo.conventional_spin_curvature(g, p["broadening"])


def _torque_dipole(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return _proper(g, p) - _conventional(g, p)


def _charge(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return -geo.levi_civita_contract(geo.berry_curvature(g)[:, None], g.dim)[0]


def _appendix_c(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    terms = geo.appendix_c_terms(g, p["degenerate"])
    return np.stack([terms[t] for t in APPENDIX_C_TERMS])


def _torque(g: geo.BandGeometry, p: Mapping[str, Any]) -> np.ndarray:
    return geo.torque_response(g)


_SPIN_DIMS = ("spin", "current", "field")
_ETA = {"broadening": 0.0}  # η (eV) in 1/(Δ² + η²) of the conventional current (Wannier90's habit); 0: clean limit
#: Degenerate bands (conventions §3): "block_trace" (default: Eq. (2) in block-trace form wherever bands are
#: degenerate within ``degeneracy_tol``), "exclude" (Eq. (2), pairs inside the tolerance dropped, s_nn of the
#: eigensolver's basis), "regulated_limit" (proper spin only: the λ → 0 limit of H + λ m̂·σ along
#: ``regulator``, reported as the parts block_trace + projection Π(m̂) + intra_pair X(m̂)).
_PROPER = {"degenerate": "block_trace", "regulator": None, "occupation_split": False, "dephasing": 0.0}
_DEG = {"degenerate": "block_trace"}
_KERNEL_DEG = {"degenerate": _DEGENERATE}  # the kernel does "exclude"; "block_trace" falls back where it matters


def _check_torque_dipole(params: dict[str, Any]) -> dict[str, Any]:
    return _check_degenerate(_check_broadening(params))

RESPONSES: dict[str, Response] = {
    r.name: r
    for r in (
        Response("proper_spin", "spin", _SPIN_DIMS, _proper, _PROPER, check=_check_proper, kernel_mode=1,
                 kernel_values=_KERNEL_DEG, parts=_proper_parts,
                 description="intrinsic proper (conserved) spin conductivity, Eq. (1)"),
        Response("conventional_spin", "spin", _SPIN_DIMS, _conventional, _ETA, check=_check_broadening,
                 kernel_mode=2, kernel_params=("broadening",),
                 description="conventional intrinsic (Kubo) spin Hall conductivity, j = ½{s, v}"),
        Response("torque_dipole", "spin", _SPIN_DIMS, _torque_dipole, {**_ETA, **_DEG}, check=_check_torque_dipole,
                 kernel_mode=3, kernel_params=("broadening",), kernel_values=_KERNEL_DEG,
                 description="torque-dipole spin conductivity = proper − conventional"),
        Response("charge", "charge", ("current", "field"), _charge, kernel_mode=0, geometry=("curvature",),
                 description="intrinsic anomalous Hall conductivity (Berry curvature)"),
        Response("appendix_c", "spin", ("term",) + _SPIN_DIMS, _appendix_c, _DEG, check=_check_degenerate,
                 geometry=("torque",),
                 description="Appendix C terms (C6), (C7), (C11), (C24) as spin conductivities"),
        Response("torque", "torque", ("spin", "field"), _torque, geometry=("torque",),
                 description="spin torque density per unit field, Tr(t^l ρ_E)"),
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
