"""What the fused kernel accumulates per state (:class:`KernelMode`, ``Response.kernel_mode``) and what each mode
needs (:data:`KERNEL_NEEDS`: one row per mode).

Kept apart from the compiled stages (:mod:`properspin.kernel_stages` and the modules it inlines) so that the
response table (:mod:`properspin.responses`) names its kernel mode without importing numba: ``import properspin``
stays light and the kernels are compiled when first needed.  The kernel driver (:func:`properspin.kernels.kernel_chunk`)
reads a mode's row for everything mode-dependent: which stages the loop runs (flags of ``_Setup``), the compact
width it accumulates, the work-array widths, the expansion to the response's components and the model operators
it reads.  A mode without a row, or a response whose components or operators disagree with its row, is refused with
:class:`KernelNeedsError` naming the mode, never run into a work array of the wrong width.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class KernelMode(enum.IntEnum):
    """What the kernel accumulates per state (``Response.kernel_mode``)."""

    CHARGE = 0  # −ε_ijc Ω^c (compact: Ω^c)
    PROPER_SPIN = 1  # ε_ijc Σ^{c,l} (compact: Σ^{c,l})
    CONVENTIONAL_SPIN = 2  # Q^{l,i,j}
    TORQUE_DIPOLE = 3  # ε_ijc Σ^{c,l} − Q^{l,i,j}
    TORQUE = 4  # Q^{l,j} of the torque density Tr(t^l ρ_E), t = i[H, s]
    APPENDIX_C = 5  # (C6), (C7), (C11), (C24) of App. C, each Q^{l,i,j}


class KernelNeedsError(ValueError):
    """A kernel mode's needs (its :data:`KERNEL_NEEDS` row) disagree with the response or model given to it."""


class KernelNeeds(NamedTuple):
    """One row of :data:`KERNEL_NEEDS`: what a kernel mode runs, accumulates and reads.

    ``stages``: the compiled stages the loop may run per k for this mode (``_<stage>`` of the kernel modules;
    which of them run at a k-point depends on the model: BLAS or loops, a position term, S(k), degenerate blocks,
    the Qiao spin current).  ``compact``: what is accumulated
    per state: ``"omega"`` (Ω^c, one column per cyclic pair), ``"sigma"`` (Σ^{c,l}, three per cyclic pair and
    occupation part), ``"tensor"`` (the full (l, i, j), 3·dim²), ``"torque"`` ((l, j), 3·dim) or ``"terms"`` (the
    four App. C terms, 4·3·dim²).  ``values``: how ``_state_values`` forms a state's values from the curvature
    columns ``qs`` and the columns ``qc`` of the conventional or torque stage (``"appendix_c"``: the values the
    App. C stage wrote, times w_k).  ``expand``: the contraction to the response's layout (``"-epsilon"``:
    −ε_ijc Ω^c, ``"epsilon"``: ε_ijc Σ^{c,l}, ``"none"``).  ``dims``: the response dimensions of the expanded
    layout (a leading ``part`` from ``occupation_split`` aside).  ``operators``: the model operators read besides
    H and ∂H (``"spin"``: s or S(k)).
    """

    stages: tuple[str, ...]
    compact: str
    values: str
    expand: str
    dims: tuple[str, ...]
    operators: tuple[str, ...]

    @property
    def sigma(self) -> bool:
        """Whether Σ^{c,l} of Eq. (2) is formed (``qs`` columns; ``_Setup.sigma``)."""
        return "sigma_from_pairs" in self.stages

    @property
    def conventional(self) -> bool:
        """Whether the conventional (Kubo) term is formed (``qc`` columns; ``_Setup.conv``)."""
        return "conventional_sum" in self.stages

    @property
    def appendix_c(self) -> bool:
        """Whether the App. C terms are formed (``qa``, ``q6`` columns; ``_Setup.values`` = "appendix_c")."""
        return "appendix_c" in self.stages

    @property
    def torque(self) -> bool:
        """Whether the torque density is formed (``qc`` columns; ``_Setup.torque``)."""
        return "torque_sum" in self.stages

    def widths(self, dim: int, parts: int = 1) -> dict[str, int]:
        """Column widths of the work arrays: ``qs`` (Ω or Σ), ``qc`` (conventional), ``vals`` = the compact width
        accumulated per state (= the kernel's partial sums), ``expanded`` (the response's components) and ``qa``
        (the two extra conventional-width arrays of the App. C stage, 0 columns otherwise)."""
        nc = 3 if dim == 3 else 1
        per_state = {"omega": nc, "sigma": 3 * nc * parts, "tensor": 3 * dim * dim, "torque": 3 * dim,
                     "terms": 12 * dim * dim}[self.compact]
        expanded = {"-epsilon": dim * dim, "epsilon": 3 * dim * dim * parts, "none": per_state}[self.expand]
        return {"qs": 3 * nc * parts, "qc": 3 * dim * dim, "vals": per_state, "expanded": expanded,
                "qa": 3 * dim * dim if self.appendix_c else 0}


_SPIN_DIMS = ("spin", "current", "field")
_COMMON = ("gaps", "rotate_stacked", "velocity_plain", "velocity_position")  # V^a (BLAS or loops, A^W or not)
_SPIN_NN = ("spin_diagonal", "spin_dense")  # s_nn from s or S(k)
_EQ2 = ("omega_sigma", "blocks", "block_pairs", "plain_pairs", "sigma_from_pairs", "degenerate")  # Σ, Eq. (2)
_ROWS = ("spin_dense", "spin_rows")  # (s U)† from s or S(k)
_CONV = ("conventional", "qiao_current", "conventional_sum")
_DEPOSIT = ("state_values", "deposit")

#: One row per kernel mode (issue 23 item 2): the kernel driver reads nothing mode-dependent elsewhere.
KERNEL_NEEDS: dict[KernelMode, KernelNeeds] = {
    KernelMode.CHARGE: KernelNeeds(
        _COMMON + ("omega_sigma", "wannier_curv") + _DEPOSIT, "omega", "curvature", "-epsilon",
        ("current", "field"), ()),
    KernelMode.PROPER_SPIN: KernelNeeds(
        _COMMON + _SPIN_NN + _EQ2 + _DEPOSIT, "sigma", "curvature", "epsilon", _SPIN_DIMS, ("spin",)),
    KernelMode.CONVENTIONAL_SPIN: KernelNeeds(
        _COMMON + _ROWS + _CONV + _DEPOSIT, "tensor", "conventional", "none", _SPIN_DIMS, ("spin",)),
    KernelMode.TORQUE_DIPOLE: KernelNeeds(
        _COMMON + _SPIN_NN + ("spin_rows",) + _EQ2 + ("conventional", "conventional_sum") + _DEPOSIT, "tensor",
        "sigma_minus_conventional", "none", _SPIN_DIMS, ("spin",)),
    KernelMode.TORQUE: KernelNeeds(
        _COMMON + _ROWS + ("torque_sum",) + _DEPOSIT, "torque", "conventional", "none", ("spin", "field"),
        ("spin",)),
    KernelMode.APPENDIX_C: KernelNeeds(
        _COMMON + _SPIN_NN + ("spin_rows",) + _EQ2 + ("conventional", "conventional_sum", "appendix_c") + _DEPOSIT,
        "terms", "appendix_c", "none", ("term",) + _SPIN_DIMS, ("spin",)),
}

#: ``_state_values`` codes compiled into the kernel (``KernelNeeds.values``; "conventional": the columns of
#: ``qc``, which the torque stage fills too)
VALUE_CODES = {"curvature": 0, "conventional": 1, "sigma_minus_conventional": 2, "appendix_c": 3}


def needs(mode: int) -> KernelNeeds:
    """The row of ``mode``; :class:`KernelNeedsError` naming it when the table has none."""
    try:
        return KERNEL_NEEDS[KernelMode(mode)]
    except (ValueError, KeyError):
        name = KernelMode(mode).name if mode in KernelMode.__members__.values() else str(mode)
        raise KernelNeedsError(
            f"kernel mode {name} has no row in properspin.kernel_modes.KERNEL_NEEDS (stages, compact width, "
            "expansion, operators): add one before naming it as a Response's kernel_mode") from None
