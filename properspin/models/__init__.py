"""Built-in models, one module per family.

* :mod:`.toy` — QWZ, massive Dirac, Rashba, spin-conserving BHZ (analytic checks).
* :mod:`.topological_insulator` — the 3D TI bulk model of Eq. (10) (Bi2Se3).
* :mod:`.hole_gas` — 2D hole quantum wells, Luttinger Eq. (11) projected on Bastard functions (Eq. 12).
* :mod:`.kp` — your own k·p model from a text matrix (sympy).
* :mod:`.wannier` — Wannier90 ``_hr.dat``/``_tb.dat`` readers and writers, and a native run (``.chk``, ``.eig``,
  ``.mmn``, ``.spn``: :func:`wannier90_run`); :mod:`.tight_binding` — a builder.
* :mod:`.point_orbital` — the point-orbital (tight-binding) approximation of a Wannier model (definition routes).
"""

from .hole_gas import hole_quantum_well
from .point_orbital import point_orbital_approximation
from .tight_binding import TightBinding
from .topological_insulator import topological_insulator
from .toy import bhz, massive_dirac, qwz, rashba
from .wannier import wannier90, wannier90_run

__all__ = ["TightBinding", "bhz", "hole_quantum_well", "kp_model", "massive_dirac", "point_orbital_approximation",
           "qwz", "rashba", "topological_insulator", "wannier90", "wannier90_run"]


def __getattr__(name: str):
    """``kp_model`` is imported on first use: sympy is slow to import and only text models need it."""
    if name == "kp_model":
        try:
            from .kp import kp_model
        except ModuleNotFoundError as exc:
            if exc.name != "sympy":
                raise
            raise ImportError("text k·p models need sympy: pip install 'properspin[kp]'") from None
        return kp_model
    raise AttributeError(f"module 'properspin.models' has no attribute {name!r}")
