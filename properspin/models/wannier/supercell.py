"""The geometry of a native Wannier90 run: the Wigner–Seitz supercell of its k-grid (postw90's ``wigner_seitz``),
the minimal-distance images of ``use_ws_distance`` (``ws_translate_dist``) and the b-vectors and weights of the
finite-difference neighbours listed in ``.mmn`` (Wannier90's ``kmesh``).  Used by :mod:`.run`.
"""

from __future__ import annotations

import itertools

import numpy as np

from .native import Checkpoint, Overlaps

Array = np.ndarray


def wigner_seitz(lattice: Array, mp_grid: tuple[int, int, int]) -> tuple[Array, Array]:
    """Lattice vectors R (in units of a_i) of the Wigner–Seitz supercell of ``mp_grid`` and their degeneracies.

    R is kept when it is (to 1e-7 Å²) closest to the origin among its 125 images R − (i1 n1, i2 n2, i3 n3),
    |i| ≤ 2; its degeneracy is the number of equally close images (postw90's ``wigner_seitz``, same order).
    """
    mp = np.asarray(mp_grid, dtype=int)
    metric = lattice @ lattice.T
    grid = np.array(list(itertools.product(*(range(-m, m + 1) for m in mp))))
    images = np.array(list(itertools.product(range(-2, 3), repeat=3))) * mp
    diff = grid[:, None, :] - images[None, :, :]
    dist = np.einsum("rti,ij,rtj->rt", diff, metric, diff)
    dmin = dist.min(axis=1)
    origin = 62  # (0, 0, 0) among the 125 images
    keep = np.abs(dist[:, origin] - dmin) < 1e-7
    ndegen = (np.abs(dist - dmin[:, None]) < 1e-7).sum(axis=1)
    irvec, ndegen = grid[keep], ndegen[keep]
    total = float(np.sum(1.0 / ndegen))
    if abs(total - np.prod(mp)) > 1e-8:
        raise ValueError(f"Wigner–Seitz supercell of mp_grid {list(mp)}: weights sum to {total}, not {np.prod(mp)}")
    return irvec, ndegen


def ws_distance_table(lattice: Array, mp_grid: tuple[int, int, int], irvec: Array, centres: Array,
                      tol: float = 1e-5, search: tuple[int, int, int] = (2, 2, 2)) -> dict[tuple[int, ...], Array]:
    """``use_ws_distance``: {(R1, R2, R3, m, n) (m, n from 1): shifts T (N_T, 3)} so that R + T are the images of
    R + τ_n − τ_m nearest the origin (all those within ``tol`` Å of the nearest), over supercell translations
    T = (i1 n1, i2 n2, i3 n3), |i_a| ≤ search_a + 1 (postw90's ``ws_translate_dist``, ``ws_distance_tol``,
    ``ws_search_size``)."""
    mp = np.asarray(mp_grid, dtype=int)
    ranges = [np.arange(-(s + 1), s + 2) for s in search]
    shifts = np.array(list(itertools.product(*ranges))) * mp  # (nT, 3)
    tcart = shifts @ lattice
    n = len(centres)
    table: dict[tuple[int, ...], Array] = {}
    rel = centres[None, :, :] - centres[:, None, :]  # τ_n − τ_m at [m, n]
    for r in irvec:
        d = r @ lattice + rel  # (n, n, 3)
        dist2 = np.sum((d[:, :, None, :] + tcart) ** 2, axis=-1)  # (n, n, nT)
        first = np.argmin(dist2, axis=-1)
        dmin2 = np.take_along_axis(dist2, first[..., None], axis=-1)[..., 0]
        base = shifts[first]  # (n, n, 3)
        dd = np.sqrt(np.sum((d[:, :, None, :] + (base @ lattice)[:, :, None, :] + tcart) ** 2, axis=-1))
        near = np.abs(dd - np.sqrt(dmin2)[..., None]) < tol
        for m in range(n):
            for k in range(n):
                key = (int(r[0]), int(r[1]), int(r[2]), m + 1, k + 1)
                if dmin2[m, k] < tol**2:
                    table[key] = base[m, k][None]
                else:
                    table[key] = base[m, k] + shifts[near[m, k]]
    return table


def bvectors(chk: Checkpoint, mmn: Overlaps, tol: float = 1e-6) -> tuple[Array, Array, list[dict[str, float]]]:
    """b-vectors (nk, nntot, 3) in Å⁻¹ and weights w_b (nk, nntot) in Å² of the neighbours listed in ``.mmn``.

    b = k' + G − k (Cartesian); shells are the distinct |b|; the shell weights are the least-squares solution of
    Σ_s w_s Σ_{b∈s} b_a b_c = δ_ac (Wannier90's ``kmesh``), and the completeness relation is checked.
    """
    frac = chk.kpt_latt[mmn.neighbours] + mmn.gvec - chk.kpt_latt[:, None, :]
    bk = frac @ chk.recip_lattice
    length = np.linalg.norm(bk, axis=-1)
    if np.any(length < tol):
        raise ValueError(f"{mmn.path}: a neighbour with b = 0 (k' + G = k)")
    shells = np.unique(np.round(length[0] / tol).astype(np.int64))
    radii = shells * tol
    shell_of = np.argmin(np.abs(length[..., None] - radii), axis=-1)
    if np.any(np.abs(length - radii[shell_of]) > 10 * tol):
        raise ValueError(f"{mmn.path}: the k-points do not all have the same neighbour shells")
    pairs = ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0))
    b0 = bk[0]
    amat = np.array([[np.sum(b0[shell_of[0] == s, a] * b0[shell_of[0] == s, c]) for s in range(len(radii))]
                     for a, c in pairs])
    target = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    weights = np.linalg.lstsq(amat, target, rcond=None)[0]
    wb = weights[shell_of]
    for k in range(len(bk)):
        comp = np.einsum("j,ja,jc->ac", wb[k], bk[k], bk[k])
        if np.max(np.abs(comp - np.eye(3))) > 1e-6:
            raise ValueError(f"{mmn.path}: the neighbours of k-point {k + 1} do not satisfy the completeness relation "
                             f"Σ_b w_b b b = 1 (max error {np.max(np.abs(comp - np.eye(3))):.2g}): a .mmn of another "
                             "k-grid or lattice?")
    info = [{"radius_inv_angstrom": float(radii[s]), "multiplicity": int(np.sum(shell_of[0] == s)),
             "weight_angstrom2": float(weights[s])} for s in range(len(radii))]
    return bk, wb, info
