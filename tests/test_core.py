"""Core engine: analytic limits, quantisation, identities and gauge invariance (conventions §6)."""

from __future__ import annotations

import numpy as np
import pytest

import properspin as ps
from properspin import geometry as geo
from properspin import mesh, models

from .conftest import random_hermitian, random_unitary, smooth_model

RNG = np.random.default_rng(7)


def zyx(result):
    return result.sel(spin="z", current="y", field="x").values


def random_model(n, dim=2, periodic=False, rng=RNG, spin=None):
    """Smooth random Hermitian model: H0 + Σ_a sin(k_a) Ha + Σ_a (1 − cos k_a) Ga."""
    h0 = random_hermitian(rng, n)
    ha = [random_hermitian(rng, n) for _ in range(dim)]
    ga = [random_hermitian(rng, n) for _ in range(dim)]

    if spin is None:
        spin = np.stack([random_hermitian(rng, n) for _ in range(3)])
    return smooth_model(h0, ha, ga, spin, 2 * np.pi * np.eye(dim) if periodic else None)


# ---------------------------------------------------------------------------- quantisation
@pytest.mark.parametrize("u, chern", [(1.0, -1), (1.7, -1), (-1.0, 1), (-0.5, 1), (2.5, 0), (-3.0, 0)])
def test_qwz_chern_number(u, chern):
    r = ps.conductivity(models.qwz(u), "charge", fermi=0.0, mesh=mesh.grid(48))
    assert r.attrs["units"] == "e^2/h"
    assert r.sel(current="x", field="y").item() == pytest.approx(-chern, abs=1e-6)
    assert r.sel(current="y", field="x").item() == pytest.approx(chern, abs=1e-6)
    assert r.sel(current="x", field="x").item() == 0.0


@pytest.mark.slow
def test_massive_dirac_in_gap_and_in_band():
    v, delta, radius = 2.0, 0.1, 5.0
    edge = np.hypot(delta, v * radius)
    fermi = np.array([0.0, 0.05, 0.3, -0.25])
    r = ps.conductivity(models.massive_dirac(v, delta), "charge", fermi=fermi, mesh=mesh.disk(radius, 6000, 4))
    sxy = r.sel(current="x", field="y").values
    # finite-cutoff analytic result: −(e²/2h) Δ (1/max(|E_F|, Δ) − 1/E_edge)
    expected = -0.5 * delta * (1 / np.maximum(abs(fermi), delta) - 1 / edge)
    np.testing.assert_allclose(sxy, expected, atol=3e-4)  # T = 0 step resolved to one radial spacing
    r2 = ps.conductivity(models.massive_dirac(v, -delta), "charge", fermi=0.0, mesh=mesh.disk(radius, 400, 4))
    assert r2.sel(current="x", field="y").item() == pytest.approx(-expected[0], abs=1e-6)


def test_spin_conserving_qsh_quantised():
    model = models.bhz(1.0).with_zeeman((0, 0, 1e-4))
    proper = ps.conductivity(model, "proper_spin", fermi=0.0, mesh=mesh.grid(48))
    conventional = ps.conductivity(model, "conventional_spin", fermi=0.0, mesh=mesh.grid(48))
    assert proper.attrs["units"] == "e/8pi"
    assert zyx(proper) == pytest.approx(4.0, abs=1e-6)  # e/2π = 4 e/8π
    assert zyx(conventional) == pytest.approx(4.0, abs=1e-6)
    assert proper.sel(spin="z", current="x", field="y").item() == pytest.approx(-4.0, abs=1e-6)
    np.testing.assert_allclose(proper.sel(spin=["x", "y"]).values, 0, atol=1e-10)
    trivial = ps.conductivity(models.bhz(3.0).with_zeeman((0, 0, 1e-4)), "proper_spin", fermi=0.0,
                              mesh=mesh.grid(32))
    assert zyx(trivial) == pytest.approx(0.0, abs=1e-8)


# ---------------------------------------------------------------------------- Rashba
RASHBA_MESH = mesh.disk(1.0, 600, 48)


def test_rashba_conventional_is_universal():
    r = ps.conductivity(models.rashba(1.0, 1.0), "conventional_spin", fermi=[0.05, 0.3], mesh=RASHBA_MESH)
    np.testing.assert_allclose(zyx(r), 1.0, atol=0.01)  # +e/8π, Sinova et al. 2004


def test_rashba_proper_limits():
    model = models.rashba(1.0, 1.0, zeeman=(0, 0, 1e-4))
    r = ps.conductivity(model, "proper_spin", fermi=[-0.02, 0.05, 0.3], mesh=RASHBA_MESH)
    lower_only, both, both2 = zyx(r)
    assert lower_only == pytest.approx(0.0, abs=1e-3)
    assert both == pytest.approx(-1.0, abs=1e-3)
    assert both2 == pytest.approx(-1.0, abs=1e-3)


# ---------------------------------------------------------------------------- identities
def test_spin_half_identity_eq9():
    """Eq. (9): for spin ½, Σ^{c,l}_m = −s^l_mm Ω^c_m k-point by k-point (s_nn = −s_mm)."""
    model = random_model(2, dim=3, spin=ps.SPIN_HALF)
    k = RNG.uniform(-2, 2, size=(500, 3))
    g = geo.band_geometry(model, k)
    sigma = geo.proper_spin_curvature(g)  # (c, l, N, m)
    omega = geo.berry_curvature(g)
    expected = -g.spin_diagonal[None] * omega[:, None]
    scale = np.max(np.abs(sigma))
    np.testing.assert_allclose(sigma, expected, atol=1e-13 * scale)


def test_spin_half_identity_integrated():
    model = random_model(2, periodic=True, spin=ps.SPIN_HALF)
    fermi = [-0.5, 0.0, 0.5]
    r = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=mesh.grid(24))
    k, w = mesh.resolve(mesh.grid(24), model).all_points(model)
    g = geo.band_geometry(model, k)
    s_omega = g.spin_diagonal[2] * geo.berry_curvature(g)[0]  # s^z_mm Ω^z_m
    for ef, val in zip(fermi, zyx(r), strict=True):
        eq9 = 8 * np.pi * np.sum(w[:, None] * s_omega * (g.energies <= ef))  # +(e/ħ)∫ s Ω f, in e/8π
        assert val == pytest.approx(eq9, rel=1e-12, abs=1e-14)


def test_appendix_c_identities_random_five_band():
    model = random_model(5, dim=3)
    k = RNG.uniform(-3, 3, size=(200, 3))
    g = geo.band_geometry(model, k)
    terms = geo.appendix_c_terms(g)
    scale = max(np.max(np.abs(t)) for t in terms.values())
    np.testing.assert_allclose(terms["C7"] + terms["C11"], 0, atol=1e-12 * scale)
    proper = geo.levi_civita_contract(geo.proper_spin_curvature(g), 3)
    np.testing.assert_allclose(terms["C6"] + terms["C24"], proper, atol=1e-12 * scale)
    np.testing.assert_allclose(terms["C6"] + terms["C7"], geo.conventional_spin_curvature(g), atol=1e-12 * scale)
    # closed form of (C6): ½ ε_ijc (s_mm Ω^c + Σ^{c,l}), per band, i.e. for any occupations
    closed = 0.5 * geo.levi_civita_contract(
        geo.proper_spin_curvature(g) + g.spin_diagonal[None] * geo.berry_curvature(g)[:, None], 3)
    np.testing.assert_allclose(terms["C6"], closed, atol=1e-12 * scale)
    assert np.max(np.abs(terms["C7"])) > 1e-3 * scale  # the identities are not trivially 0 = 0


def test_charge_limit_of_conventional_formula():
    """Tr(−e v_i ρ_E) through the density-matrix kernel equals −ε_ijc Ω^c (s → −e)."""
    model = random_model(4, dim=3)
    g = geo.band_geometry(model, RNG.uniform(-2, 2, size=(100, 3)))
    via_rho = geo.density_response(g, -g.velocity)  # (i, j, N, m)
    omega = geo.levi_civita_contract(geo.berry_curvature(g)[:, None], 3)[0]
    np.testing.assert_allclose(via_rho, -omega, atol=1e-12 * np.max(np.abs(omega)))


def test_berry_connection_against_finite_differences():
    model = random_model(3, dim=2)
    k0 = np.array([[0.3, -0.7]])
    g = geo.band_geometry(model, k0)
    r = geo.berry_connection(g)
    _, u0 = np.linalg.eigh(model.h(k0))
    step = 1e-5
    for a in range(2):
        dk = np.zeros((1, 2))
        dk[0, a] = step
        us = []
        for sgn in (1, -1):
            _, u = np.linalg.eigh(model.h(k0 + sgn * dk))
            overlap = np.einsum("kim,kim->km", u0.conj(), u)  # smooth (parallel) gauge
            us.append(u * (overlap.conj() / abs(overlap))[:, None, :])
        du = (us[0] - us[1]) / (2 * step)
        fd = 1j * u0[0].conj().T @ du[0]
        off = ~np.eye(3, dtype=bool)
        np.testing.assert_allclose(r[a, 0][off], fd[off], atol=1e-7 * np.max(np.abs(fd)))


# ---------------------------------------------------------------------------- gauge invariance
@pytest.mark.parametrize("response", ["proper_spin", "conventional_spin", "torque_dipole", "charge"])
def test_basis_change_invariance(response):
    model = random_model(4, periodic=True)
    w = random_unitary(RNG, 4)
    fermi = np.linspace(-2, 2, 7)
    a = ps.conductivity(model, response, fermi=fermi, mesh=mesh.grid(12))
    b = ps.conductivity(model.transformed(w), response, fermi=fermi, mesh=mesh.grid(12))
    np.testing.assert_allclose(a.values, b.values, atol=1e-10 * float(np.max(np.abs(a.values))))
    assert np.max(np.abs(a.values)) > 1e-3


def test_eigenvector_phase_invariance():
    model = random_model(4, dim=3)
    k = RNG.uniform(-2, 2, size=(50, 3))
    h = model.h(k)
    e, u = np.linalg.eigh(h)
    phases = np.exp(2j * np.pi * RNG.random(size=(50, 1, 4)))
    g1 = geo.geometry_from_eigenvectors(model, k, h, e, u, 1e-6)
    g2 = geo.geometry_from_eigenvectors(model, k, h, e, u * phases, 1e-6)
    for f in (geo.berry_curvature, geo.proper_spin_curvature, geo.conventional_spin_curvature):
        np.testing.assert_allclose(f(g1), f(g2), atol=1e-12)
    for name, t in geo.appendix_c_terms(g1).items():
        np.testing.assert_allclose(t, geo.appendix_c_terms(g2)[name], atol=1e-12)


# ---------------------------------------------------------------------------- sweep and engine
def test_finite_temperature_approaches_zero():
    model = models.rashba(1.0, 1.0, zeeman=(0, 0, 0.01))
    fermi = np.linspace(-0.05, 0.2, 11)
    ms = mesh.disk(1.0, 300, 32)
    t0 = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=ms).values
    temps = [40.0, 10.0, 2.0]
    res = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=ms, temperature=temps)
    assert res.dims[:2] == ("temperature", "fermi")
    errs = [float(np.max(np.abs(res.sel(temperature=t).values - t0))) for t in temps]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.02 * np.max(np.abs(t0))


def test_finite_temperature_against_direct_sum():
    """The grid fold equals the direct Fermi–Dirac sum Σ f(ε − μ) q to 1e-4."""
    model = random_model(3, periodic=True)
    fermi = np.array([-0.3, 0.1, 0.6])
    temperature = 300.0
    r = ps.conductivity(model, "charge", fermi=fermi, mesh=mesh.grid(16), temperature=temperature)
    k, w = mesh.resolve(mesh.grid(16), model).all_points(model)
    g = geo.band_geometry(model, k)
    omega = geo.berry_curvature(g)[0]
    kt = 8.617333262e-5 * temperature
    for ef, val in zip(fermi, r.sel(current="x", field="y").values, strict=True):
        f = 1 / (np.exp((g.energies - ef) / kt) + 1)
        direct = -2 * np.pi * np.sum(w[:, None] * omega * f)  # σ_xy = −(e²/ħ)∫ f Ω^z, in e²/h
        assert val == pytest.approx(direct, rel=1e-3, abs=1e-6)


def test_result_independent_of_chunk_size():
    model = random_model(4, periodic=True)
    fermi = np.linspace(-1, 1, 5)
    a = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=mesh.grid(20))
    b = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=mesh.grid(20), engine=ps.Engine(chunk_size=37))
    np.testing.assert_allclose(a.values, b.values, rtol=1e-12, atol=1e-14)


def test_fermi_order_is_kept_and_cost_is_single_pass():
    model = models.qwz(1.0)
    r = ps.conductivity(model, "charge", fermi=[3.5, 0.0, -3.5], mesh=mesh.grid(24))
    np.testing.assert_allclose(r.sel(current="x", field="y").values, [0.0, 1.0, 0.0], atol=1e-6)
    assert list(r.fermi.values) == [3.5, 0.0, -3.5]


# ---------------------------------------------------------------------------- degeneracies
def test_degenerate_bands_are_reported():
    model = models.bhz(1.0).transformed(random_unitary(RNG, 4))
    with pytest.warns(ps.DegeneracyWarning, match="near-degenerate"):
        r = ps.conductivity(model, ps.responses.get("proper_spin", degenerate="exclude"), fermi=0.0,
                            mesh=mesh.grid(12))
    assert r.attrs["degenerate_kpoints"] > 0
    lifted = ps.conductivity(models.bhz(1.0).with_zeeman((0, 0, 1e-3)).transformed(random_unitary(RNG, 4)),
                             "proper_spin", fermi=0.0, mesh=mesh.grid(24))
    assert lifted.attrs["degenerate_kpoints"] == 0
    assert zyx(lifted) == pytest.approx(4.0, abs=1e-6)


# ---------------------------------------------------------------------------- bad input
def test_bad_input_errors():
    good = models.rashba(1.0, 1.0)
    ms = mesh.disk(1.0, 10, 8)
    with pytest.raises(ValueError, match="unknown response"):
        ps.conductivity(good, "spin", fermi=0.0, mesh=ms)
    with pytest.raises(ValueError, match="temperature"):
        ps.conductivity(good, "proper_spin", fermi=0.0, mesh=ms, temperature=-1)
    with pytest.raises(ValueError, match="NaN"):
        ps.conductivity(good, "proper_spin", fermi=[0.0, np.nan], mesh=ms)
    with pytest.raises(ValueError, match="periodic"):
        ps.conductivity(good, "proper_spin", fermi=0.0, mesh=mesh.grid(4))
    with pytest.raises(ValueError, match="cutoff"):
        ps.conductivity(models.qwz(1.0), "charge", fermi=0.0, mesh=ms)
    with pytest.raises(ValueError, match="spin operator"):
        ps.conductivity(models.qwz(1.0), "proper_spin", fermi=0.0, mesh=mesh.grid(4))
    with pytest.raises(ValueError, match="cutoff too small"):
        ps.conductivity(good, "proper_spin", fermi=[0.0, 10.0], mesh=ms)
    non_herm = ps.Model(lambda k: np.tile(np.array([[0, 1], [0, 0]], complex), (len(k), 1, 1)), None,
                        ps.SPIN_HALF, 2)
    with pytest.raises(ValueError, match="not Hermitian"):
        ps.conductivity(non_herm, "charge", fermi=0.0, mesh=ms)
    nan_model = ps.Model(lambda k: np.tile(np.diag([np.nan, 0]).astype(complex), (len(k), 1, 1)), None,
                         ps.SPIN_HALF, 2)
    with pytest.raises(ValueError, match="NaN"):
        ps.conductivity(nan_model, "charge", fermi=0.0, mesh=ms)
    with pytest.raises(ValueError, match="shape"):
        ps.Model(lambda k: np.zeros((len(k), 2, 2)), None, np.zeros((3, 3, 3)), 2)
    bad_shape = ps.Model(lambda k: np.zeros((len(k), 2, 2)), lambda k: np.zeros((len(k), 2, 2)), None, 2)
    with pytest.raises(ValueError, match="gradient"):
        ps.conductivity(bad_shape, "charge", fermi=-5.0, mesh=ms)
    with pytest.raises(ValueError, match="positive integer"):
        mesh.disk(1.0, 0, 8)
    with pytest.raises(ValueError, match="broadening"):
        ps.conductivity(good, "proper_spin", fermi=0.0, mesh=ms, broadening=0.01)


def test_finite_difference_gradient_matches_analytic():
    model = models.rashba(0.7, 0.5, zeeman=(0.01, 0.02, 0.03))
    fd = ps.Model(model.hamiltonian, None, model.spin, 2)
    k = RNG.uniform(-1, 1, size=(20, 2))
    np.testing.assert_allclose(fd.dh(k), model.dh(k), atol=1e-8)


def test_result_carries_units_and_parameters():
    r = ps.conductivity(models.rashba(1.0, 1.0, zeeman=(0, 0, 1e-3)), "proper_spin", fermi=[0.1],
                        mesh=mesh.disk(1.0, 20, 8), temperature=0.0)
    assert r.dims == ("fermi", "spin", "current", "field")
    assert r.attrs["units"] == "e/8pi"
    assert r.attrs["mesh"] == "disk" and r.attrs["mesh_radius"] == 1.0 and r.attrs["mesh_nk"] == 20
    assert "alpha_eVA" in r.attrs["model_parameters"]
    assert r.attrs["temperature_K"] == 0.0
    assert r.fermi.attrs["units"] == "eV"
