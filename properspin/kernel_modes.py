"""What the fused kernel accumulates per state: :class:`KernelMode` (``Response.kernel_mode``).

Kept apart from :mod:`properspin.kernel_stages` (where the compiled stages use it) so that the response table
(:mod:`properspin.responses`) names its kernel mode without importing numba: ``import properspin`` stays light
and the kernels are compiled when first needed.
"""

from __future__ import annotations

import enum


class KernelMode(enum.IntEnum):
    """What the kernel accumulates per state (``Response.kernel_mode``)."""

    CHARGE = 0  # −ε_ijc Ω^c (compact: Ω^c)
    PROPER_SPIN = 1  # ε_ijc Σ^{c,l} (compact: Σ^{c,l})
    CONVENTIONAL_SPIN = 2  # Q^{l,i,j}
    TORQUE_DIPOLE = 3  # ε_ijc Σ^{c,l} − Q^{l,i,j}
