"""The rules the numpy formulas and the compiled kernel share, each stated once (docs/conventions.md).

* :data:`CYCLIC_PAIRS`: the (a, b) → c index pairs of curl-like quantities (Ω^c, Σ^{c,l}, F^W_c, ε_ijc).
* The degeneracy rule (conventions §3): a band pair with ``|ε_m − ε_n| < degeneracy_tol`` is *excluded* from
  every interband sum (:func:`excluded`); inside such a pair the band-diagonal spin of Eq. (2) is
  gauge-dependent when the spin restricted to the pair is not ∝ 1, i.e. when
  ``max_l (|s^l_mn| + |s^l_mm − s^l_nn|)`` (:func:`spin_split`) exceeds :data:`SPLIT_TOL`
  (:func:`gauge_dependent`); such pairs are counted and reported.
* Degenerate blocks (conventions §3): consecutive bands (in ascending order) whose gap is excluded belong to
  the same block (:func:`new_block` is False between them), so a block is a maximal chain of excluded gaps;
  the block-trace form of Eq. (2) sums inside blocks and pairs bands of different blocks only.
* The tolerances: :data:`DEGENERACY_TOL` (the default of ``degeneracy_tol``), :data:`SPLIT_TOL`,
  :data:`HERMITIAN_RTOL` (the Hermiticity test of H(k)).

The functions are written so that the same Python function works on numpy arrays (:mod:`properspin.geometry`)
and, compiled with numba, on scalars (:mod:`properspin.kernels`).
"""

from __future__ import annotations

from typing import Any

#: Cyclic (a, b) → c pairs: c = x, y, z in 3D (a, b) = (y, z), (z, x), (x, y); only c = z in 2D.
CYCLIC_PAIRS: dict[int, tuple[tuple[int, int], ...]] = {3: ((1, 2), (2, 0), (0, 1)), 2: ((0, 1),)}

#: Default ``degeneracy_tol`` (eV): band pairs closer than this are excluded from the interband sums.
DEGENERACY_TOL = 1e-6

#: Spin splitting (ħ) inside an excluded pair above which its band-diagonal spin is gauge-dependent.
SPLIT_TOL = 1e-8

#: H(k) is Hermitian when ``max |H − H†| ≤ HERMITIAN_RTOL · (1 + max |H|)`` at every k (eV).
HERMITIAN_RTOL = 1e-9


def excluded(delta: Any, tol: Any) -> Any:
    """Whether a pair with gap ``delta = ε_m − ε_n`` is left out of the interband sums: ``|Δ| < tol``.

    The diagonal (Δ = 0) is always excluded for ``tol > 0``; a NaN gap is not excluded (it propagates).
    """
    return abs(delta) < tol


def new_block(gap: Any, tol: Any) -> Any:
    """Whether band m + 1 starts a new degenerate block, given the consecutive gap ``ε_{m+1} − ε_m ≥ 0``: the
    gap is not excluded (:func:`excluded`)."""
    return abs(gap) >= tol


def spin_split(s_mn: Any, s_mm: Any, s_nn: Any) -> Any:
    """``|s_mn| + |s_mm − s_nn|`` for one spin component: zero iff the spin on the pair (m, n) is ∝ 1."""
    return abs(s_mn) + abs(s_mm - s_nn)


def gauge_dependent(split: Any, split_tol: float = SPLIT_TOL) -> Any:
    """Whether an excluded pair with the largest :func:`spin_split` ``split`` makes ``s_nn`` gauge-dependent."""
    return split > split_tol
