"""Metals: the occupied–empty / occupied–occupied split of the proper spin current, the dephasing weight on
occupied–occupied pairs, and adaptive refinement driven by the smallest occupied–occupied gap."""

from __future__ import annotations

import math

import numpy as np
import pytest

import properspin as ps
from properspin import geometry as geo
from properspin import mesh, responses
from properspin.units import spin_factor

from .test_degenerate import pt_model

FERMI = [-1.5, -0.3, 0.4, 1.2]


def metal_model(n: int = 5, seed: int = 4, spin=None) -> ps.Model:
    """Random smooth periodic 2D model (non-degenerate), dense random spin unless given."""
    rng = np.random.default_rng(seed)

    def herm(s=1.0):
        a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
        return s * (a + a.conj().T) / 2

    h0, ha, ga = herm(1.5), [herm() for _ in range(2)], [herm(0.5) for _ in range(2)]
    if spin is None:
        spin = np.stack([herm(0.5) for _ in range(3)])

    def h(k):
        out = np.broadcast_to(h0, (len(k), n, n)).astype(complex)
        for a in range(2):
            out = out + np.sin(k[:, a])[:, None, None] * ha[a] + (1 - np.cos(k[:, a]))[:, None, None] * ga[a]
        return out

    def dh(k):
        return np.stack([np.cos(k[:, a])[:, None, None] * ha[a] + np.sin(k[:, a])[:, None, None] * ga[a]
                         for a in range(2)])

    return ps.Model(h, dh, spin, 2, reciprocal=2 * np.pi * np.eye(2), name="metal")


def direct_parts(model, grid, fermi, eta=0.0):
    """Occupied–empty and occupied–occupied sums written out pair by pair from Eq. (2) at T = 0."""
    k, w = mesh.resolve(grid, model).all_points(model)
    g = geo.band_geometry(model, k, 1e-9)
    pairs = geo.spin_pair_terms(g, "exclude")[0]  # (3, N, m, n): the z-curvature pair terms G^{z,l}_mn
    e = g.energies
    out = np.zeros((2, len(fermi), 3))
    for i, ef in enumerate(fermi):
        occ = e <= ef
        both = occ[:, :, None] & occ[:, None, :]
        one = occ[:, :, None] & ~occ[:, None, :]
        d = e[:, :, None] - e[:, None, :]
        weight = d * d / (d * d + eta**2) if eta else 1.0
        out[0, i] = np.einsum("lkmn,k->l", np.where(one, pairs, 0), w)
        out[1, i] = np.einsum("lkmn,k->l", np.where(both, pairs * weight, 0), w)
    return spin_factor(2) * out  # σ^l_xy = (e/ħ) ε_xyz ∫ f Σ^z: component (current x, field y)


def test_occupation_split_adds_up_and_matches_pairs():
    model = metal_model()
    grid = mesh.grid(12)
    split = ps.conductivity(model, responses.get("proper_spin", occupation_split=True), fermi=FERMI, mesh=grid)
    total = ps.conductivity(model, "proper_spin", fermi=FERMI, mesh=grid)
    assert list(split.part.values) == ["occupied_empty", "occupied_occupied"]
    np.testing.assert_allclose(split.sum("part").values, total.values, rtol=0, atol=1e-12 * np.abs(total.values).max())
    ref = direct_parts(model, grid, FERMI)
    got = split.sel(current="x", field="y").transpose("part", "fermi", "spin").values
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-11 * np.abs(ref).max())
    assert np.abs(ref[1]).max() > 0.1 * np.abs(ref[0]).max()  # a sizeable occupied–occupied part
    hot = ps.conductivity(model, responses.get("proper_spin", occupation_split=True), fermi=FERMI, mesh=grid,
                          temperature=300.0)
    hot_total = ps.conductivity(model, "proper_spin", fermi=FERMI, mesh=grid, temperature=300.0)
    np.testing.assert_allclose(hot.sum("part").values, hot_total.values, rtol=0, atol=1e-9 * np.abs(total.values).max())


def test_charge_limit_has_no_occupied_occupied_part():
    """s → 1: every pair term is antisymmetric, so occupied–occupied pairs cancel (as for the Hall current)."""
    n = 5
    model = metal_model(n, spin=np.stack([np.eye(n)] * 3).astype(complex))
    grid = mesh.grid(10)
    split = ps.conductivity(model, responses.get("proper_spin", occupation_split=True), fermi=FERMI, mesh=grid)
    charge = ps.conductivity(model, "charge", fermi=FERMI, mesh=grid)
    assert np.abs(split.sel(part="occupied_occupied").values).max() < 1e-12 * np.abs(split.values).max()
    # Σ^{c,l} = Ω^c when s = 1ħ: proper = 8π ∫fΩ e/8π, charge σ_xy = −2π ∫fΩ e²/h (conventions §1–2)
    np.testing.assert_allclose(split.sel(part="occupied_empty", spin="z").values, -4 * charge.values,
                               rtol=0, atol=1e-12 * np.abs(charge.values).max())


def test_dephasing_weight_on_occupied_pairs():
    model = metal_model()
    grid = mesh.grid(12)
    total = ps.conductivity(model, "proper_spin", fermi=FERMI, mesh=grid)
    tiny = ps.conductivity(model, responses.get("proper_spin", dephasing=1e-12), fermi=FERMI, mesh=grid)
    np.testing.assert_allclose(tiny.values, total.values, rtol=0, atol=1e-12 * np.abs(total.values).max())
    eta = 0.3
    res = ps.conductivity(model, responses.get("proper_spin", dephasing=eta), fermi=FERMI, mesh=grid)
    ref = direct_parts(model, grid, FERMI, eta=eta).sum(0)
    np.testing.assert_allclose(res.sel(current="x", field="y").values, ref, rtol=0, atol=1e-11 * np.abs(ref).max())
    assert ps.results.parameters(res, "response_parameters")["dephasing"] == eta
    huge = ps.conductivity(model, responses.get("proper_spin", dephasing=1e6), fermi=FERMI, mesh=grid)
    split = ps.conductivity(model, responses.get("proper_spin", occupation_split=True), fermi=FERMI, mesh=grid)
    np.testing.assert_allclose(huge.values, split.sel(part="occupied_empty").values, rtol=0,
                               atol=1e-9 * np.abs(total.values).max())


def test_occupation_split_with_degenerate_blocks():
    """Kramers model: the split adds up to the block trace; pairs inside a doublet belong to neither part."""
    model = pt_model(2)
    grid = mesh.grid(4)
    fermi = [-1.0, 0.0, 1.0]
    split = ps.conductivity(model, responses.get("proper_spin", occupation_split=True), fermi=fermi, mesh=grid)
    total = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=grid)
    np.testing.assert_allclose(split.sum("part").values, total.values, rtol=0, atol=1e-12 * np.abs(total.values).max())
    eta = ps.conductivity(model, responses.get("proper_spin", dephasing=0.05), fermi=fermi, mesh=grid)
    assert np.abs(eta.values - total.values).max() > 1e-6 * np.abs(total.values).max()
    top = ps.conductivity(model, responses.get("proper_spin", occupation_split=True), fermi=[50.0], mesh=grid)
    np.testing.assert_allclose(top.sel(part="occupied_empty").values, 0, atol=1e-12 * np.abs(top.values).max())


# ---------------------------------------------------------------------------------------------- adaptive
def dirac_pair_model(mass: float = 0.02) -> ps.Model:
    """Lattice massive Dirac pair ``sin k_x σ_x + sin k_y σ_y + (m + 2 − cos k_x − cos k_y) σ_z − 3``: both bands
    occupied at E_F = 1, with an occupied–occupied gap 2m at Γ (a core of radius ~m)."""
    sx, sy, sz = ps.PAULI

    def h(k):
        c = (mass + 2 - np.cos(k[:, 0]) - np.cos(k[:, 1]))[:, None, None]
        return (np.sin(k[:, 0])[:, None, None] * sx + np.sin(k[:, 1])[:, None, None] * sy + c * sz
                - 3 * np.eye(2))

    def dh(k):
        return np.stack([np.cos(k[:, 0])[:, None, None] * sx + np.sin(k[:, 0])[:, None, None] * sz,
                         np.cos(k[:, 1])[:, None, None] * sy + np.sin(k[:, 1])[:, None, None] * sz])

    return ps.Model(h, dh, ps.SPIN_HALF, 2, reciprocal=2 * np.pi * np.eye(2), name="dirac_pair")


def test_occupied_gap_drives_refinement():
    """The occupied–occupied core at Γ (radius ~0.02) nearly cancels against its surroundings: a 16² grid is off by
    ~120 e/8π, refinement driven by the gap recovers the 640² value to < 0.01 with ~1400 points, while refinement
    driven by the size of the integrand stops after one round, 0.8 off."""
    model = dirac_pair_model()
    resp = responses.get("proper_spin", occupation_split=True)

    def oo(res):
        return res.sel(part="occupied_occupied", spin="z", current="y", field="x").item()

    ref = oo(ps.conductivity(model, resp, fermi=[1.0], mesh=mesh.grid(640)))
    coarse = oo(ps.conductivity(model, resp, fermi=[1.0], mesh=mesh.grid(16)))
    ada = ps.adaptive_conductivity(model, resp, fermi=[1.0], n=16, refine=4, max_iterations=3, gap=2.0,
                                   threshold=math.inf)
    by_size = ps.adaptive_conductivity(model, resp, fermi=[1.0], n=16, refine=4, max_iterations=3, threshold=5.0)
    assert abs(coarse - ref) > 50
    assert abs(oo(ada) - ref) < 0.01
    assert abs(oo(by_size) - ref) > 0.3
    assert ada.attrs["adaptive_criterion"] == "integrand+occupied_gap" and ada.attrs["adaptive_gap_eV"] == 2.0
    both = ps.adaptive_conductivity(model, resp, fermi=[1.0], n=16, refine=4, max_iterations=3, gap=2.0)
    assert abs(oo(both) - ref) < 0.01 and both.attrs["adaptive_total_points"] >= ada.attrs["adaptive_total_points"]
    assert by_size.attrs["adaptive_criterion"] == "integrand"
    assert ada.attrs["adaptive_total_points"] < 2000
    from properspin.adaptive import occupied_gap
    e = np.array([[0.0, 0.1, 0.1 + 1e-9, 0.5, 2.0]])
    assert occupied_gap(e, 1.0, 1e-6).tolist() == [0.1]  # the degenerate pair and the empty band do not count
    assert occupied_gap(e, 0.05, 1e-6).tolist() == [np.inf]
    with pytest.raises(ValueError, match="gap must be"):
        ps.adaptive_conductivity(model, resp, fermi=[1.0], n=8, gap=-1.0)
