"""properspin: intrinsic proper spin current, conventional spin current, torque dipole and AHC.

Implements Liu, Cullen & Culcer, "Topological nature of the proper spin current and the spin-Hall
torque" (2023).  The path of a calculation: model → k-mesh → band geometry → response → Fermi sweep
→ result, one module each (:mod:`.model`, :mod:`.mesh`, :mod:`.geometry`, :mod:`.responses`,
:mod:`.sweep`, :mod:`.results`), driven by :func:`conductivity`.
"""

from . import geometry, mesh, models, quadrature, responses, results, symmetry, units  # noqa: E402
from ._version import __version__  # noqa: E402
from .adaptive import adaptive_conductivity  # noqa: E402
from .calculation import (  # noqa: E402
    DegeneracyWarning,
    MetallicFermiWarning,
    UnresolvedDegeneracyWarning,
    conductivity,
)
from .converge import NotConvergedWarning, converge  # noqa: E402
from .engine import Engine  # noqa: E402
from .filling import carrier_density, fermi_level  # noqa: E402
from .model import PAULI, SPIN_HALF, Model  # noqa: E402

__all__ = [
    "DegeneracyWarning", "Engine", "MetallicFermiWarning", "Model", "NotConvergedWarning", "PAULI", "SPIN_HALF",
    "UnresolvedDegeneracyWarning", "__version__",
    "adaptive_conductivity", "carrier_density", "conductivity", "converge", "fermi_level",
    "geometry", "mesh", "models", "quadrature", "responses", "results", "symmetry", "units",
]
