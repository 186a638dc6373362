"""What a response declares besides its formula (:class:`~properspin.responses.Response`): the meanings of its
``kind``, its symmetry :class:`Law`, its per-band :class:`BandView`, the :class:`Companion` sums it accumulates in the
same pass and the templates naming its components.

Kept apart from the response table (:mod:`properspin.responses`, which re-exports every name here) so that the
contract reads in one page.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .geometry import BandGeometry


#: Meanings of ``Response.kind``: what the response is, so which operator it needs, its factor and unit
#: (:meth:`Response.factor`, :meth:`Response.unit`); any other kind needs ``unit_of``.
KINDS: dict[str, str] = {
    "spin": "a quantity of the spin operator, needs it (s_nn-using formulas are checked for degenerate pairs); "
            "factor and unit of a spin current σ^l_ij (Eq. 1): (ħ/2e) S/m (3D), e/8π (2D), unless unit_of",
    "charge": "a charge current σ_ij: no spin operator; S/m (3D), e²/h (2D)",
    "torque": "a spin-torque density per unit field: needs the spin operator; C/m² (3D), C/m (2D)",
    "magnetization": "a magnetisation (orbital, modern theory): no spin operator; A/m (3D), A (2D)",
}

_INDEX_KINDS = ("polar", "axial", "none")


@dataclass(frozen=True)
class Law:
    """How a response tensor transforms under the magnetic point group (:mod:`properspin.symmetry`).

    ``indices``: one per component dimension, ``"polar"`` (r, v, E, a current direction: R), ``"axial"`` (s, Ω, M,
    a Zeeman field: det(R) R) or ``"none"`` (labels such as Appendix C's ``term``); ``time_reversal``: the tensor's
    parity under T (+1 even: the intrinsic spin Hall σ^l_ij = ½{s, v} response, −1 odd: the anomalous Hall σ_ij,
    M, the spin Drude weight).  The parity under inversion follows from the indices (:attr:`inversion`), as
    WannierBerri's ``transformInv`` (its ``transformTR`` is ``time_reversal``).
    """

    indices: tuple[str, ...]
    time_reversal: int

    def __post_init__(self) -> None:
        if any(i not in _INDEX_KINDS for i in self.indices) or self.time_reversal not in (1, -1):
            raise ValueError(f"Law needs indices among {_INDEX_KINDS} and time_reversal ±1, got {self}")

    @property
    def inversion(self) -> int:
        """Parity under inversion: −1 per polar index."""
        return (-1) ** self.indices.count("polar")


@dataclass(frozen=True)
class BandView:
    """What ``properspin bands`` shows for a response: a per-band quantity Q_m(k) (:mod:`properspin.bands`).

    ``quantity``: its name there (``-Q``); ``indices``: its component index names (``"c"`` a curvature axis: z only
    in 2D, ``"l"`` a spin axis, ``"i"``, ``"j"`` current and field: within the model's dimension); ``values(g, params)``
    → ``(*components, N, n)`` with components on x, y, z for ``c``/``l`` and on the model's axes for ``i``/``j``;
    ``symbol``: mathtext with ``{0}``, ``{1}``, … for the component labels; ``params``: whether it takes the
    response's parameters.
    """

    quantity: str
    indices: tuple[str, ...]
    unit: str
    symbol: str
    default: str
    values: Callable[[BandGeometry, Mapping[str, Any]], np.ndarray]
    needs_spin: bool = True
    params: bool = False


@dataclass(frozen=True)
class Companion:
    """A second sum that a response accumulates in the same pass over the mesh, turned into attributes of its result.

    ``response``: the name of a registered response whose formula runs on the same band geometry and chunk as the
    response's own (its per-state columns follow the response's in the partial sums: one k-point visit for both);
    its sums are finished with its own ``surface``/``grand`` parts and projected with its own symmetry law.
    ``summary(job, values, sums)`` → attrs (and any warning): ``job`` the prepared job, ``values`` the response's
    finished result ``(temperature, fermi, *components)``, ``sums`` the companion's, same leading axes, in its
    result units.  E.g. the spin Drude weight of the metal routes (:func:`properspin.conserved_metal.drude_summary`).
    """

    response: str
    summary: Callable[[Any, np.ndarray, np.ndarray], dict[str, Any]]


class MetallicFermiWarning(UserWarning):
    """A Fermi energy lies in a band, where an insulator-only response is not defined (or where a metal response
    leaves out a term, e.g. the symmetric Drude term)."""


def _template_fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def component_text(template: str | None, index: Mapping[str, str], plain: bool = True) -> str:
    """One component named by ``template`` (``str.format`` over ``index``); dimensions it does not name are
    appended (``_part_re``; in a plot symbol ``, part = re``).  ``None``: ``spin_x_current_y`` / ``spin = x, …``."""
    if template is None:
        if plain:
            return "_".join(f"{d}_{v}" for d, v in index.items())
        return ", ".join(f"{d} = {v}" for d, v in index.items())
    named = _template_fields(template)
    missing = named - set(index)
    if missing:
        raise ValueError(f"component label {template!r} needs the dimension(s) {', '.join(sorted(missing))}, "
                         f"got {dict(index)}")
    text = template.format(**{d: index[d] for d in named})
    rest = [(d, v) for d, v in index.items() if d not in named]
    if plain:
        return text + "".join(f"_{d}_{v}" for d, v in rest)
    return ", ".join([text] + [f"{d} = {v}" for d, v in rest])
