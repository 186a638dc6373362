"""Tests of the 2D hole-gas model, Eqs. (11)–(12) (conventions §5.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from properspin.model import Model
from properspin.models.hole_gas import (
    HBAR2_2M0,
    LUTTINGER,
    LUTTINGER_PAPER,
    bastard_matrix_elements,
    hole_quantum_well,
    luttinger_bulk,
    spin32_matrices,
)
from properspin.models.luttinger import _z_factor, _z_factor_derivative

RNG = np.random.default_rng(112)
J = spin32_matrices()
D = 250.0  # Å


# ---------------------------------------------------------------------------- constants and J
def test_hbar2_over_2m0():
    assert HBAR2_2M0 == pytest.approx(3.80998, abs=1e-5)


def test_j_matrices():
    assert np.array_equal(J[2], np.diag([1.5, -1.5, 0.5, -0.5]))
    for a, b, c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        assert np.max(np.abs(J[a] @ J[b] - J[b] @ J[a] - 1j * J[c])) < 1e-15
    assert np.allclose(np.einsum("aij,ajk->ik", J, J), 15 / 4 * np.eye(4), atol=1e-15)
    for j in J:
        assert np.allclose(j, j.conj().T)
    # J₊ connects +1/2 → +3/2 with √3 (Condon–Shortley)
    jp = J[0] + 1j * J[1]
    assert jp[0, 2] == pytest.approx(math.sqrt(3)) and jp[2, 3] == pytest.approx(2.0)


# ---------------------------------------------------------------------------- Bastard functions
def _phi(beta: float, d: float = D):
    """Unnormalised Bastard function and its second derivative."""
    def f(z):
        u = z / d + 0.5
        return math.sin(math.pi * u) * math.exp(-beta * u)

    def f2(z):
        u = z / d + 0.5
        s, c = math.sin(math.pi * u), math.cos(math.pi * u)
        return ((beta**2 - math.pi**2) * s - 2 * math.pi * beta * c) * math.exp(-beta * u) / d**2

    def f1(z):
        u = z / d + 0.5
        s, c = math.sin(math.pi * u), math.cos(math.pi * u)
        return (math.pi * c - beta * s) * math.exp(-beta * u) / d

    return f, f1, f2


def _integral(g) -> float:
    scale = D * max(abs(g(z)) for z in np.linspace(-D / 2, D / 2, 101))  # for integrals that vanish
    return quad(g, -D / 2, D / 2, epsabs=1e-13 * scale, epsrel=1e-12, limit=200)[0]


@pytest.mark.parametrize(
    "ba, bb",
    [(0.0, 0.0), (1e-9, -2e-9), (1e-3, 4e-3), (-3.4, -1.15), (2.5, -4.0), (-8.0, -8.0), (5.0, 1.0),
     (-12.0, 3.0), (0.3, -0.29), (0.004, 0.0055), (0.006, 0.0045)],
)
def test_bastard_closed_forms_against_quadrature(ba, bb):
    me = bastard_matrix_elements(ba, bb, D)
    fa, fa1, _ = _phi(ba)
    fb, fb1, fb2 = _phi(bb)
    na2 = 1 / _integral(lambda z: fa(z) ** 2)
    nb2 = 1 / _integral(lambda z: fb(z) ** 2)
    nn = math.sqrt(na2 * nb2)
    assert me["norm2_a"] == pytest.approx(na2, rel=1e-11)
    assert me["norm2_b"] == pytest.approx(nb2, rel=1e-11)
    # the closed form of conventions §5.2 N² = 4β(β² + π²)/[π² d(1 − e^{−2β})]
    if abs(ba) > 1e-6:
        assert me["norm2_a"] == pytest.approx(4 * ba * (ba**2 + math.pi**2)
                                              / (math.pi**2 * D * -math.expm1(-2 * ba)), rel=1e-12)
    overlap = nn * _integral(lambda z: fa(z) * fb(z))
    assert me["overlap"] == pytest.approx(overlap, rel=1e-11)
    kz = -1j * nn * _integral(lambda z: fa(z) * fb1(z))
    assert abs(me["kz"] - kz) < 1e-11 / D
    kz2 = -nn * _integral(lambda z: fa(z) * fb2(z))
    assert me["kz2"] == pytest.approx(kz2, rel=1e-10)
    z = nn * _integral(lambda z: z * fa(z) * fb(z))
    assert abs(me["z"] - z) < 1e-10 * D
    # Hermiticity of k_z between real functions: <a|k_z|b> = <b|k_z|a>*
    assert me["kz"] == pytest.approx(np.conj(bastard_matrix_elements(bb, ba, D)["kz"]), abs=1e-16)
    assert fa1(0.0) == pytest.approx((fa(1e-4) - fa(-1e-4)) / 2e-4, rel=1e-6)  # the test's own φ'


@pytest.mark.parametrize("sigma", [0.0, 3e-3, 9.9e-3, 1.01e-2, -0.5, 4.0, -30.0, 500.0])
def test_z_factor_derivative(sigma):
    h = 1e-5
    fd = (_z_factor(sigma + h) - _z_factor(sigma - h)) / (2 * h)
    assert _z_factor_derivative(sigma) == pytest.approx(fd, abs=1e-9)


def test_bastard_large_beta_is_finite():
    me = bastard_matrix_elements(-300.0, 250.0, D)
    assert all(np.isfinite(v) for v in me.values())
    same = bastard_matrix_elements(-300.0, -300.0, D)
    assert same["overlap"] == pytest.approx(1.0, rel=1e-12)
    assert D / 2 - same["z"] == pytest.approx(3 * D / 600, rel=0.01)  # <z> ≈ d/2 − 3d/(2|β|)


# ---------------------------------------------------------------------------- β minimisation
@pytest.mark.parametrize("material, field", [("GaAs", 1e6), ("InSb", 2e6), ("Ge", -5e5), ("InAs", 0.0)])
def test_beta_minimises_subband_energy(material, field):
    model = hole_quantum_well(material, width=25e-9, field=field, magnetization=0.0)
    g1, g2, _ = LUTTINGER[material]
    f = field * 1e-10
    for label, gamma in (("HH", g1 - 2 * g2), ("LH", g1 + 2 * g2)):
        def energy(beta, gamma=gamma):
            me = bastard_matrix_elements(beta, beta, D)
            return HBAR2_2M0 * gamma * me["kz2"] - f * me["z"]

        grid = np.linspace(-30, 30, 60001)
        values = np.array([energy(b) for b in grid])
        best = grid[np.argmin(values)]
        beta = model.info["beta"][label]
        assert beta == pytest.approx(best, abs=2e-3)
        assert energy(beta) <= values.min() + 1e-15
        if field == 0:
            assert abs(beta) < 1e-6


def test_gaas_reference_numbers():
    model = hole_quantum_well("GaAs", 25e-9, 1e6, 1e-3)
    info = model.info
    b_h, b_l = info["beta"]["HH"], info["beta"]["LH"]
    # F > 0 pushes holes (V = −eF z) to +z ⇒ β < 0; heavier HH is pushed further
    assert b_h < b_l < 0
    assert b_h == pytest.approx(-3.4356, abs=1e-3) and b_l == pytest.approx(-1.1529, abs=1e-3)
    assert 0 < info["z_expectation_A"]["LH"] < info["z_expectation_A"]["HH"] < D / 2
    edges = info["subband_edges_eV"]
    e_h = HBAR2_2M0 * 2.65 * info["kz2_per_A2"]["HH"] - 1e-4 * info["z_expectation_A"]["HH"]
    assert edges["HH(+3/2)"] == pytest.approx(e_h + 1e-3, abs=1e-15)
    assert edges["HH(-3/2)"] == pytest.approx(e_h - 1e-3, abs=1e-15)
    assert edges["HH(+3/2)"] == pytest.approx(-0.42346e-3, abs=1e-8)
    assert edges["LH(+1/2)"] == pytest.approx(6.02495e-3, abs=1e-8)
    assert max(edges["HH(+3/2)"], edges["HH(-3/2)"]) < min(edges["LH(+1/2)"], edges["LH(-1/2)"])
    assert "well centre" in info["energy_reference"]


def test_field_reversal_mirrors_the_well():
    up = hole_quantum_well("GaAs", field=1.5e6, magnetization=0.0)
    down = hole_quantum_well("GaAs", field=-1.5e6, magnetization=0.0)
    assert down.info["beta"]["HH"] == pytest.approx(-up.info["beta"]["HH"], abs=1e-13)
    k = RNG.uniform(-0.03, 0.03, size=(10, 2))
    assert np.allclose(up.energies(k), down.energies(k), atol=1e-12)


# ---------------------------------------------------------------------------- bulk Eq. (11)
def _invariant(k: np.ndarray, gammas) -> np.ndarray:
    """(ħ²/2m0)[(γ1 + 5γ2/2)k² − 2γ2 Σ k_i² J_i² − 4γ3 Σ_{i<j} {k_i,k_j}{J_i,J_j}], {A,B} = (AB+BA)/2."""
    g1, g2, g3 = gammas
    h = (g1 + 2.5 * g2) * (k @ k) * np.eye(4) - 2 * g2 * sum(k[i] ** 2 * J[i] @ J[i] for i in range(3))
    for i, j in ((0, 1), (1, 2), (0, 2)):
        h = h - 4 * g3 * (k[i] * k[j]) * (J[i] @ J[j] + J[j] @ J[i]) / 2
    return HBAR2_2M0 * h


@pytest.mark.parametrize("gammas", list(LUTTINGER.values()) + [LUTTINGER_PAPER["Ge"]])
def test_luttinger_bulk_equals_invariant_form(gammas):
    for _ in range(20):
        k = RNG.choice([-1, 1], size=3) * RNG.uniform(0.02, 0.08, size=3)  # generic: k_z, k∥ ≠ 0
        h = luttinger_bulk(*k, gammas)
        ref = _invariant(k, gammas)
        assert np.max(np.abs(h - ref)) < 1e-13 * np.max(np.abs(ref))  # entry by entry
        e, e_ref = np.linalg.eigvalsh(h), np.linalg.eigvalsh(ref)
        assert np.max(np.abs(e - e_ref)) < 1e-12 * np.max(np.abs(e_ref))
        printed = np.linalg.eigvalsh(luttinger_bulk(*k, gammas, printed_l=True))
        assert np.max(np.abs(printed - e_ref)) > 1e-2 * np.max(np.abs(e_ref))


def test_luttinger_bulk_vectorised():
    k = RNG.uniform(-0.05, 0.05, size=(7, 3))
    h = luttinger_bulk(k[:, 0], k[:, 1], k[:, 2], LUTTINGER["GaAs"])
    assert h.shape == (7, 4, 4)
    assert np.allclose(h[3], luttinger_bulk(*k[3], LUTTINGER["GaAs"]), atol=0)


# ---------------------------------------------------------------------------- projected model
@pytest.mark.parametrize("material", list(LUTTINGER))
def test_projected_hermitian_and_gradient(material):
    model = hole_quantum_well(material, field=2e6, magnetization=1e-3)
    k = RNG.uniform(-0.04, 0.04, size=(12, 2))
    h = model.h(k)
    assert np.max(np.abs(h - h.conj().transpose(0, 2, 1))) < 1e-16
    g = model.dh(k)
    assert g.shape == (2, 12, 4, 4)
    fd = Model(model.hamiltonian, None, None, 2, fd_step=1e-5).dh(k)  # the package's 4th-order differences
    assert np.max(np.abs(g - fd)) < 1e-8


def test_projected_structure_matches_eq11():
    model = hole_quantum_well("GaAs", field=1e6, magnetization=0.0)
    info = model.info
    kx, ky = 0.013, -0.021
    h = model.h(np.array([[kx, ky]]))[0]
    g1, g2, g3 = LUTTINGER["GaAs"]
    km = kx - 1j * ky
    big_l = -math.sqrt(3) * 2 * HBAR2_2M0 * g3 * km * info["kz_hl_per_A"]
    big_m = -math.sqrt(3) * HBAR2_2M0 * ((g2 + g3) / 2 * km**2 + (g2 - g3) / 2 * km.conjugate() ** 2)
    assert h[0, 2] == pytest.approx(big_l, abs=1e-15)
    assert h[0, 3] == pytest.approx(big_m * info["overlap_hl"], abs=1e-15)
    k2 = kx**2 + ky**2
    p_q = HBAR2_2M0 * (g1 * (k2 + info["kz2_per_A2"]["HH"]) - g2 * (2 * info["kz2_per_A2"]["HH"] - k2))
    assert h[0, 0].real == pytest.approx(p_q + info["potential_eV"]["HH"], abs=1e-15)
    assert h[0, 1] == 0 and h[2, 3] == 0


def test_projection_by_quadrature():
    """H̃_ij = <φ_i|H_L(k, k̂_z) + V|φ_j> with every z-integral done numerically (independent of the conventions'
    projection rules): H_L = H0 + H1 k_z + H2 k_z², from luttinger_bulk at k_z = 0, ±1."""
    model = hole_quantum_well("InSb", width=25e-9, field=1.5e6, magnetization=0.0)
    b = model.info["beta"]
    funcs = {}
    for label in ("HH", "LH"):
        f, f1, f2 = _phi(b[label])
        n = 1 / math.sqrt(_integral(lambda z, f=f: f(z) ** 2))
        funcs[label] = (lambda z, f=f, n=n: n * f(z), lambda z, f1=f1, n=n: n * f1(z),
                        lambda z, f2=f2, n=n: n * f2(z))
    band = ["HH", "HH", "LH", "LH"]
    kx, ky = 0.017, 0.009
    gam = LUTTINGER["InSb"]
    h0, hp, hm = (luttinger_bulk(kx, ky, q, gam) for q in (0.0, 1.0, -1.0))
    h1, h2 = (hp - hm) / 2, (hp + hm) / 2 - h0
    ref = np.zeros((4, 4), dtype=complex)
    for i in range(4):
        for j in range(4):
            fi, (fj, fj1, fj2) = funcs[band[i]][0], funcs[band[j]]
            ov = _integral(lambda z, fi=fi, fj=fj: fi(z) * fj(z))
            kz = -1j * _integral(lambda z, fi=fi, fj1=fj1: fi(z) * fj1(z))
            kz2 = -_integral(lambda z, fi=fi, fj2=fj2: fi(z) * fj2(z))
            vz = -1.5e-4 * _integral(lambda z, fi=fi, fj=fj: z * fi(z) * fj(z))  # V = −e F_z z, F in V/Å
            ref[i, j] = h0[i, j] * ov + h1[i, j] * kz + h2[i, j] * kz2 + (vz if i == j else 0)
    h = model.h(np.array([[kx, ky]]))[0]
    assert np.max(np.abs(h - ref)) < 1e-11


def test_degeneracies_at_zero_magnetization():
    model = hole_quantum_well("GaAs", field=1e6, magnetization=0.0)
    e0 = model.energies(np.zeros((1, 2)))[0]
    assert e0[1] - e0[0] < 1e-15 and e0[3] - e0[2] < 1e-15  # each subband doubly degenerate at k = 0
    k = RNG.uniform(-0.03, 0.03, size=(10, 2))
    e = model.energies(k)
    assert np.min(e[:, 1] - e[:, 0]) > 1e-7  # field breaks inversion: spin-split away from k = 0
    symmetric = hole_quantum_well("GaAs", field=0.0, magnetization=0.0)
    assert symmetric.info["beta"] == {"HH": 0.0, "LH": 0.0}
    es = symmetric.energies(k)  # symmetric well: Kramers pairs at every k
    assert np.max(np.abs(es[:, 1] - es[:, 0])) < 1e-14 and np.max(np.abs(es[:, 3] - es[:, 2])) < 1e-14


@pytest.mark.parametrize("form, hh_split, lh_split", [("projected", 2.0, 2 / 3), ("J", 3.0, 1.0)])
def test_magnetization_splitting(form, hh_split, lh_split):
    mz = 1.7e-3
    model = hole_quantum_well("InAs", field=1e6, magnetization=mz, magnetization_form=form)
    edges = model.info["subband_edges_eV"]
    assert edges["HH(+3/2)"] - edges["HH(-3/2)"] == pytest.approx(hh_split * mz, abs=1e-15)
    assert edges["LH(+1/2)"] - edges["LH(-1/2)"] == pytest.approx(lh_split * mz, abs=1e-15)
    e0 = model.energies(np.zeros((1, 2)))[0]
    assert e0[1] - e0[0] == pytest.approx(hh_split * mz, abs=1e-15)
    assert model.info["magnetization_term"] == {"projected": "(2/3) m_z J_z", "J": "m_z J_z"}[form]


def test_axial_symmetry():
    axial = hole_quantum_well("GaAs", field=1e6, magnetization=1e-3, luttinger=(6.85, 2.5, 2.5))
    warped = hole_quantum_well("GaAs", field=1e6, magnetization=1e-3)
    for q in (0.005, 0.02, 0.04):
        phi = np.linspace(0, 2 * np.pi, 13)
        k = q * np.stack([np.cos(phi), np.sin(phi)], axis=1)
        e = axial.energies(k)
        assert np.max(np.ptp(e, axis=0)) < 1e-14
        assert np.max(np.ptp(warped.energies(k), axis=0)) > 1e-6  # γ2 ≠ γ3: cubic warping


def test_spin_options():
    default = hole_quantum_well()
    third = hole_quantum_well(spin="hbar_J_over_3")
    assert np.allclose(default.spin, J, atol=0)
    assert np.allclose(third.spin, J / 3, atol=1e-16)
    assert default.info["spin_convention"] == "s = hbar J"
    assert default.dim == 2 and default.reciprocal is None


def test_luttinger_choices():
    assert hole_quantum_well("Ge").parameters["gamma2"] == 4.24
    assert hole_quantum_well("Ge", luttinger="paper").parameters["gamma2"] == 5.24
    assert hole_quantum_well("ge", luttinger=(10.0, 3.0, 3.5)).parameters["gamma3"] == 3.5
    assert hole_quantum_well("GaAs", magnetization=0.0, magnetization_form="none").info[
        "subband_edges_eV"]["HH(+3/2)"] == pytest.approx(
        hole_quantum_well("GaAs", magnetization=0.0).info["subband_edges_eV"]["HH(+3/2)"], abs=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"width": 0.0}, "width"),
        ({"width": -1e-9}, "width"),
        ({"width": 2e-6}, "width"),
        ({"width": float("nan")}, "width"),
        ({"field": float("inf")}, "field"),
        ({"magnetization": float("nan")}, "magnetization"),
        ({"material": "Si"}, "GaAs"),
        ({"spin": "hbar"}, "spin"),
        ({"magnetization_form": "zeeman"}, "magnetization_form"),
        ({"magnetization_form": "none"}, "none"),
        ({"luttinger": "winkler"}, "luttinger"),
        ({"luttinger": (1.0, 2.0)}, "three"),
        ({"luttinger": (1.0, 2.0, 2.0)}, "γ1"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hole_quantum_well(**kwargs)
