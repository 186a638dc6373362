"""Built-in models, one module per family.

* :mod:`.toy` — QWZ, massive Dirac, Rashba, spin-conserving BHZ (analytic checks).
"""

from .toy import bhz, massive_dirac, qwz, rashba

__all__ = ["bhz", "massive_dirac", "qwz", "rashba"]
