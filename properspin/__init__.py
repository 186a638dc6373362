"""properspin: intrinsic proper spin current, conventional spin current, torque dipole and AHC.

Implements Liu, Cullen & Culcer, "Topological nature of the proper spin current and the spin-Hall
torque" (2023).  The path of a calculation: model → k-mesh → band geometry → response → Fermi sweep
→ result.
"""

from .model import PAULI, SPIN_HALF, Model

__version__ = "0.1.0"
__all__ = ["Model", "PAULI", "SPIN_HALF", "__version__"]
