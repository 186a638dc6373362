"""The irreducible wedge of a grid (symmetry.irreducible_points, issue 26): the compiled star-by-star version gives
the same representatives and star sizes as the numpy one (every point against all its images) on cubic, fcc, bcc
and hexagonal lattices, grey and magnetic groups, Γ-centred and shifted grids; both agree with orbits built
independently from the group's maps on fractional k."""

from __future__ import annotations

import numpy as np
import pytest

from properspin import symmetry as sy

CUBIC = 3.9 * np.eye(3)
FCC = 3.92 / 2 * np.array([[-1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [-1.0, 1.0, 0.0]])
BCC = 2.87 / 2 * np.array([[1.0, 1.0, 1.0], [-1.0, 1.0, 1.0], [-1.0, -1.0, 1.0]])
HEX = np.array([[2.5, 0.0, 0.0], [-1.25, 2.5 * np.sqrt(3) / 2, 0.0], [0.0, 0.0, 4.0]])

CASES = {  # name: (lattice, magnetisation, n, shift, group order)
    "cubic grey, shifted": (CUBIC, None, (10, 10, 10), (0.5, 0.5, 0.5), 96),
    "fcc grey (Pt)": (FCC, None, (12, 12, 12), (0, 0, 0), 96),
    "fcc grey 20³ (256 stars > 8000/96 + 64: the star arrays grow)": (FCC, None, (20, 20, 20), (0, 0, 0), 96),
    "bcc m ∥ z (Fe, 4/mm'm')": (BCC, (0, 0, 1), (10, 10, 10), (0, 0, 0), 16),
    "bcc m ∥ [111]": (BCC, (1, 1, 1), (8, 8, 8), (0, 0, 0), 12),
    "hexagonal grey, shifted along c": (HEX, None, (9, 9, 6), (0, 0, 0.5), 48),
    "cubic m ∥ z, shifted": (CUBIC, (0, 0, 1), (6, 6, 8), (0.5, 0.5, 0.5), 16),
}


def _setup(name):
    lattice, mag, n, shift, order = CASES[name]
    group = sy.magnetic_group(sy.Structure(lattice, [[0, 0, 0]], ["X"]), mag)
    assert group.order == order
    return n, shift, 2 * np.pi * np.linalg.inv(lattice).T, group


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_wedge_equals_the_numpy_wedge(name):
    n, shift, rec, group = _setup(name)
    maps = sy._grid_maps(n, shift, rec, group)
    idx, star = sy.irreducible_points(n, shift, rec, group)
    ref_idx, ref_star = sy._irreducible_numpy(*maps, chunk=97)  # chunks that split stars
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(star, ref_star)
    np.testing.assert_array_equal(sy.irreducible_points(n, shift, rec, group, full=True),
                                  sy._irreducible_numpy(*maps, chunk=97, full=True))
    assert star.sum() == np.prod(n) and len(idx) < np.prod(n) / 4  # a partition of the grid, and a real reduction
    assert np.all(group.order % star == 0)  # a star's size divides |G| (orbit–stabiliser)


@pytest.mark.parametrize("name", ["fcc grey (Pt)", "bcc m ∥ z (Fe, 4/mm'm')", "hexagonal grey, shifted along c"])
def test_stars_are_the_orbits_of_fractional_k(name):
    """Independent of the index arithmetic: κ = (i + s)/n mapped by every integer k-map M (κ' = M κ mod 1) and
    rounded back to the grid; each point's representative is the smallest index of that orbit."""
    n, shift, rec, group = _setup(name)
    nn = np.array(n)
    rep = sy.irreducible_points(n, shift, rec, group, full=True)
    grid = np.stack(np.unravel_index(np.arange(np.prod(nn)), n), axis=1)
    kappa = (grid + np.asarray(shift)) / nn
    images = []
    for m in sy._k_maps(group, rec, 3):
        j = np.mod(kappa @ m.T, 1.0) * nn - np.asarray(shift)
        assert np.abs(j - np.rint(j)).max() < 1e-9  # the image is a grid point
        images.append(np.ravel_multi_index(tuple(np.mod(np.rint(j).astype(int), nn).T), n))
    images = np.array(images)  # (|G|, N)
    np.testing.assert_array_equal(rep, images.min(axis=0))
    idx, star = sy.irreducible_points(n, shift, rec, group)
    np.testing.assert_array_equal(star, [len(set(images[:, i])) for i in idx])


def test_a_shift_the_group_does_not_respect_is_refused():
    n, _, rec, group = _setup("fcc grey (Pt)")
    with pytest.raises(ValueError, match="shift is not compatible"):
        sy.irreducible_points(n, (0.5, 0.5, 0.5), rec, group)
    with pytest.raises(ValueError, match="not mapped to itself"):
        sy.irreducible_points((12, 12, 10), (0, 0, 0), rec, group)
