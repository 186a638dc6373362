"""How well conditioned Qiao's spin-current construction is on a run's ab-initio k-points (docs/wannier90-native.md):
shared by the reader (:mod:`.run`) and the symmetriser (:mod:`.symmetrize`), which re-counts after averaging."""

from __future__ import annotations

import numpy as np

Array = np.ndarray

#: Band splittings (eV) at the ab-initio k-points above the D threshold but below this make the Qiao construction
#: ill-conditioned (D = v/Δ with Δ a remnant of a degeneracy: Pt's Kramers pairs split by 1–9 µeV).
QIAO_NEAR_DEGENERATE = 1e-5


def _qiao_conditioning(ham_q: Array, tol: float) -> int:
    """Band pairs at the ab-initio k-points split by ``tol ≤ Δ < QIAO_NEAR_DEGENERATE``: on any grid containing
    those k-points their D = v/Δ dominates the Qiao spin current (docs/wannier90-native.md)."""
    gaps = np.diff(np.linalg.eigvalsh(ham_q), axis=1)
    return int(np.count_nonzero((gaps >= tol) & (gaps < QIAO_NEAR_DEGENERATE)))
