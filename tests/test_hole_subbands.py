"""Hole quantum wells solved in z (method="subbands"/"full", properspin.models.hole_subbands; conventions §5.2)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import ai_zeros, airy

import properspin as ps
from properspin.model import Model
from properspin.models.hole_gas import HBAR2_2M0, LUTTINGER, LUTTINGER_PAPER, hole_quantum_well, spin32_matrices
from properspin.models.hole_subbands import (
    bastard_envelopes,
    expansion,
    polynomial_model,
    sine_envelopes,
    spin_operators,
)

RNG = np.random.default_rng(16)
D = 250.0  # Å


def _zyx(model, fermi, mesh, tol=1e-4, component=("z", "y", "x")):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=mesh, degeneracy_tol=tol)
    return res.sel(spin=component[0], current=component[1], field=component[2]).values, res


# ---------------------------------------------------------------------------- basis matrix elements
def test_sine_matrix_elements_against_quadrature():
    env = sine_envelopes(7, D)

    def chi(n, z):
        return math.sqrt(2 / D) * math.sin(n * math.pi * (z / D + 0.5))

    def dchi(n, z):
        return math.sqrt(2 / D) * n * math.pi / D * math.cos(n * math.pi * (z / D + 0.5))

    def integral(g):
        return quad(g, -D / 2, D / 2, epsabs=1e-14, limit=100)[0]

    for m in range(1, 8):
        for n in range(1, 8):
            z = D * integral(lambda x, m=m, n=n: x / D * chi(m, x) * chi(n, x))
            kz = -1j * integral(lambda x, m=m, n=n: chi(m, x) * dchi(n, x))
            kz2 = integral(lambda x, m=m, n=n: dchi(m, x) * dchi(n, x))  # ∫ψ'ψ' (hard walls)
            ov = integral(lambda x, m=m, n=n: chi(m, x) * chi(n, x))
            assert env.z_hh[m - 1, n - 1] == pytest.approx(z, abs=1e-9 * D)
            assert abs(env.kz_hl[m - 1, n - 1] - kz) < 1e-12 / D
            assert env.kz2_ll[m - 1, n - 1] == pytest.approx(kz2, abs=1e-12 / D**2)
            assert env.overlap_hl[m - 1, n - 1] == pytest.approx(ov, abs=1e-12)
    assert env.z_hh[0, 1] == pytest.approx(-16 * D / (9 * math.pi**2))  # the textbook ⟨1|z|2⟩


# ---------------------------------------------------------------------------- the paper's model recovered
@pytest.mark.parametrize("material, field", [("GaAs", 1e6), ("InSb", 2.5e6), ("Ge", -1.5e6), ("InAs", 0.0)])
def test_two_bastard_functions_reproduce_the_paper_model(material, field):
    """The new machinery, given the paper's two Bastard functions as its basis, gives the paper's H̃ to round-off."""
    paper = hole_quantum_well(material, field=field, magnetization=1.3e-3, luttinger="paper")
    beta = paper.info["beta"]
    env = bastard_envelopes(beta["HH"], beta["LH"], D)
    new = polynomial_model(expansion(env, LUTTINGER_PAPER[material], field * 1e-10, 2 / 3 * 1.3e-3),
                           spin_operators(env))
    k = RNG.uniform(-0.05, 0.05, size=(25, 2))
    h = paper.h(k)
    assert np.max(np.abs(new.h(k) - h)) < 1e-14 * np.max(np.abs(h))
    assert np.max(np.abs(new.dh(k) - paper.dh(k))) < 1e-14 * np.max(np.abs(paper.dh(k)))
    # spin: J_z identical; in-plane J carries the overlap ⟨h|l⟩ in the projected operator, not in the paper's
    assert np.array_equal(new.spin[2], paper.spin[2])
    ov = paper.info["overlap_hl"]
    assert new.spin[0][0, 2] == pytest.approx(paper.spin[0][0, 2] * ov, abs=1e-15)


# ---------------------------------------------------------------------------- subband edges
def _airy_edges(gamma: float, d: float, f: float, count: int) -> list[float]:
    """Exact k∥ = 0 edges of s γ k_z² − f z on |z| < d/2 with hard walls (f > 0): Ai/Bi determinant roots."""
    ell = (HBAR2_2M0 * gamma / f) ** (1 / 3)

    def det(e):
        a1, _, b1, _ = airy((d / 2 - e / f) / ell)   # z = −d/2 (high potential)
        a2, _, b2, _ = airy(-(d / 2 + e / f) / ell)  # z = +d/2
        return a1 * b2 - a2 * b1

    grid = np.linspace(-f * d / 2, -f * d / 2 + 40 * HBAR2_2M0 * gamma * (math.pi / d) ** 2 + 3 * f * d, 40001)
    vals = [det(e) for e in grid]
    roots = [brentq(det, grid[i], grid[i + 1], xtol=1e-15) for i in range(len(grid) - 1) if vals[i] * vals[i + 1] < 0]
    return roots[:count]


def test_hard_wall_edges_at_zero_field():
    """At F = 0 and k∥ = 0: HH_n, LH_n = (ħ²π²n²/2m0d²)(γ1 ∓ 2γ2), split by (2/3) m_z J_z."""
    g1, g2, _ = LUTTINGER["GaAs"]
    mz = 1e-3
    model = hole_quantum_well("GaAs", field=0.0, magnetization=mz, method="full", nbasis=12)
    e0 = model.energies(np.zeros((1, 2)))[0]
    n = np.arange(1, 13)
    unit = HBAR2_2M0 * math.pi**2 / D**2
    ref = np.sort(np.concatenate([unit * n**2 * (g1 - 2 * g2) + mz, unit * n**2 * (g1 - 2 * g2) - mz,
                                  unit * n**2 * (g1 + 2 * g2) + mz / 3, unit * n**2 * (g1 + 2 * g2) - mz / 3]))
    assert np.max(np.abs(e0 - ref)) < 1e-14
    edges = model.info["subband_edges_eV"]
    assert edges["HH1(+3/2)"] == pytest.approx(unit * (g1 - 2 * g2) + mz, abs=1e-15)  # 2.6 meV
    assert edges["LH1(-1/2)"] == pytest.approx(unit * (g1 + 2 * g2) - mz / 3, abs=1e-15)


@pytest.mark.parametrize("field", [2e6, 3e7])
def test_edges_against_exact_airy_solution(field):
    """k∥ = 0 edges in a field against the exact Ai/Bi solution of the hard-wall linear potential; at 3e7 V/m
    the lowest HH edges approach the triangular well −eFd/2 + a_n (ħ²(eF)²/2m_HH)^{1/3}."""
    g1, g2, _ = LUTTINGER["GaAs"]
    f = field * 1e-10
    model = hole_quantum_well("GaAs", field=field, magnetization=0.0, method="subbands", nsub=4, nbasis=60,
                              barrier=math.inf)
    edges = model.info["subband_edges_eV"]
    for label, gamma in (("HH", g1 - 2 * g2), ("LH", g1 + 2 * g2)):
        exact = _airy_edges(gamma, D, f, 4)
        got = [edges[f"{label}{i}(+{'3' if label == 'HH' else '1'}/2)"] for i in range(1, 5)]
        assert np.max(np.abs(np.array(got) - exact)) < 1e-9
    if field > 1e7:
        scale = (HBAR2_2M0 * (g1 - 2 * g2) * f**2) ** (1 / 3)
        triangular = -f * D / 2 - ai_zeros(2)[0] * scale
        got = np.array([edges["HH1(+3/2)"], edges["HH2(+3/2)"]])
        assert np.max(np.abs(got - triangular)) < 1e-6 * scale  # wall at −d/2 is ~10 Airy lengths away


def test_variational_bounds_and_nesting():
    """Rayleigh–Ritz: the two-function edges lie above the converged ones; nested subband sets give
    energies that decrease band by band towards the full basis (Cauchy interlacing)."""
    paper = hole_quantum_well("GaAs", field=1.5e6, magnetization=0.0)
    full = hole_quantum_well("GaAs", field=1.5e6, magnetization=0.0, method="full", nbasis=40)
    pe, fe = paper.info["subband_edges_eV"], full.info["subband_edges_eV"]
    assert pe["HH(+3/2)"] > fe["HH1(+3/2)"] and pe["LH(+1/2)"] > fe["LH1(+1/2)"]
    assert pe["HH(+3/2)"] - fe["HH1(+3/2)"] < 5e-4  # the Bastard HH1 is 0.35 meV too high here
    k = RNG.uniform(-0.04, 0.04, size=(8, 2))
    ref = full.energies(k)
    assert np.all(paper.energies(k) >= ref[:, :4] - 1e-12)
    previous = None
    for n in (2, 4, 8, 16):
        e = hole_quantum_well("GaAs", field=1.5e6, magnetization=0.0, method="subbands", nsub=n,
                              nbasis=40).energies(k)
        assert np.all(e >= ref[:, : 4 * n] - 1e-12)
        if previous is not None:
            assert np.all(e[:, : previous.shape[1]] <= previous + 1e-12)
        previous = e
    gammas, f = LUTTINGER["GaAs"], 1.5e-4
    every, _ = sine_envelopes(40, D).subbands(gammas, f, 40)  # nsub = nbasis: a unitary change of basis
    e = polynomial_model(expansion(every, gammas, f), spin_operators(every)).energies(k)
    assert np.max(np.abs(e - ref)) < 1e-11


def test_nbasis_convergence_of_energies():
    """Sine basis 20 → 40 → 80: lowest energies at k∥ = 0.03 Å⁻¹ converge (algebraically, ~nbasis⁻³)."""
    k = np.array([[0.03, 0.01]])
    e = {n: hole_quantum_well("InAs", field=2e6, magnetization=0.0, method="full", nbasis=n).energies(k)[0, :4]
         for n in (20, 40, 80)}
    err20, err40 = np.max(np.abs(e[20] - e[80])), np.max(np.abs(e[40] - e[80]))
    assert err40 < 2e-5 and err20 > 3 * err40


# ---------------------------------------------------------------------------- the model
def test_hermitian_exact_gradient_and_kramers():
    model = hole_quantum_well("InSb", field=2e6, magnetization=1e-3, method="subbands", nsub=3)
    k = RNG.uniform(-0.04, 0.04, size=(9, 2))
    h = model.h(k)
    assert np.max(np.abs(h - h.conj().transpose(0, 2, 1))) < 1e-15
    fd = Model(model.hamiltonian, None, None, 2, fd_step=1e-5).dh(k)
    assert np.max(np.abs(model.dh(k) - fd)) < 1e-8
    assert model.nbands == 12 and model.info["subband_edges_eV"]["LH3(-1/2)"] > 0
    sym = hole_quantum_well("InSb", field=0.0, magnetization=0.0, method="subbands", nsub=3)
    e = sym.energies(k)  # inversion-symmetric well without exchange: Kramers pairs at every k
    assert np.max(np.abs(e[:, 1::2] - e[:, 0::2])) < 1e-12
    asym = hole_quantum_well("InSb", field=2e6, magnetization=0.0, method="subbands", nsub=3).energies(k)
    assert np.min(asym[:, 1] - asym[:, 0]) > 1e-6  # the gate field splits them (Rashba)


def test_spin_operator_is_projected_j():
    model = hole_quantum_well("GaAs", field=0.0, method="full", nbasis=6)
    j = spin32_matrices()
    assert np.allclose(model.spin, np.einsum("lij,ab->liajb", j, np.eye(6)).reshape(3, 24, 24), atol=1e-15)
    third = hole_quantum_well("GaAs", field=1e6, method="subbands", nsub=2, spin="hbar_J_over_3")
    assert np.allclose(3 * third.spin[2], np.diag([1.5] * 2 + [-1.5] * 2 + [0.5] * 2 + [-0.5] * 2))


# ---------------------------------------------------------------------------- spin Hall response
def test_heavy_hole_cubic_rashba_limit():
    """Narrow well (light holes ≥ 50 meV away), both HH1 spin subbands filled, m_z → 0⁺: σ^z_yx → −9 e/8π
    (the cubic-Rashba value for s = ħJ)."""
    model = hole_quantum_well("GaAs", width=8e-9, field=1e7, magnetization=1e-5, method="subbands", nsub=2)
    edges = model.info["subband_edges_eV"]
    hh1 = edges["HH1(-3/2)"]
    assert min(edges["LH1(-1/2)"], edges["HH2(-3/2)"]) - hh1 > 0.05
    fermi = hh1 + np.array([0.005, 0.01])
    zyx, _ = _zyx(model, fermi, ps.mesh.disk(0.035, 160, 24), tol=1e-7)
    assert np.max(np.abs(zyx + 9)) < 0.04


def test_rotation_symmetry_and_field_reversal():
    """σ^z_yx = −σ^z_xy (rotation about z), in-plane spin Hall components vanish (C2 about z), the torque
    density of s_z vanishes, and σ^z_yx is even in F_z (mirror z → −z)."""
    mesh = ps.mesh.disk(0.08, 100, 24)
    fermi = [0.004, 0.012]
    model = hole_quantum_well("GaAs", field=1.5e6, method="subbands", nsub=3)
    zyx, res = _zyx(model, fermi, mesh)
    assert np.max(np.abs(zyx)) > 1
    zxy = res.sel(spin="z", current="x", field="y").values
    assert np.max(np.abs(zyx + zxy)) < 1e-10 * np.max(np.abs(zyx))
    inplane = res.sel(spin=["x", "y"]).values
    assert np.max(np.abs(inplane)) < 1e-10 * np.max(np.abs(zyx))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torque = ps.conductivity(model, "torque", fermi=fermi, mesh=mesh, degeneracy_tol=1e-4)
    assert np.max(np.abs(torque.sel(spin="z").values)) < 1e-10 * np.max(np.abs(zyx))
    mirrored, _ = _zyx(hole_quantum_well("GaAs", field=-1.5e6, method="subbands", nsub=3), fermi, mesh)
    assert np.max(np.abs(mirrored - zyx)) < 1e-9 * np.max(np.abs(zyx))


def test_sigma_converges_in_subbands_and_basis():
    """σ^z_yx (GaAs, 25 nm, 1e6 V/m, E_F = 5 meV: HH1, HH2, LH1 occupied) for nsub = 4 and 6 agree to 2 %,
    nbasis 20 vs 40 to 1e-4; the two-function model differs by more than 20 %."""
    mesh = ps.mesh.disk(0.06, 120, 32)
    vals = {}
    for nsub, nbasis in ((4, 40), (6, 40), (6, 20)):
        model = hole_quantum_well("GaAs", field=1e6, luttinger="paper", method="subbands", nsub=nsub, nbasis=nbasis)
        vals[(nsub, nbasis)] = _zyx(model, [0.005], mesh)[0][0]
    assert abs(vals[(4, 40)] / vals[(6, 40)] - 1) < 0.02
    assert abs(vals[(6, 20)] / vals[(6, 40)] - 1) < 1e-4
    paper = _zyx(hole_quantum_well("GaAs", field=1e6, luttinger="paper"), [0.005], mesh)[0][0]
    assert abs(paper / vals[(6, 40)] - 1) > 0.2


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"width": 0.0}, "width"),
        ({"width": -2e-8}, "width"),
        ({"width": float("nan")}, "width"),
        ({"field": float("nan")}, "field"),
        ({"nsub": 12, "nbasis": 10}, "larger than the basis"),
        ({"nsub": 0}, "nsub"),
        ({"nsub": 2.5}, "nsub"),
        ({"nbasis": 1}, "nbasis"),
        ({"nbasis": 5.0}, "nbasis"),
        ({"nsub": 4, "nbasis": 5}, "too small"),
        ({"field": 2e7, "nsub": 2, "nbasis": 10}, "too small"),
        ({"field": 1e8}, "unconfined"),
        ({"field": 2e7, "energy_max": 0.0}, "unconfined"),
        ({"barrier": 0.0}, "barrier"),
        ({"barrier": float("nan")}, "barrier"),
        ({"energy_max": float("nan")}, "energy_max"),
        ({"nsub": 2, "energy_max": 0.05}, "missing"),
        ({"luttinger": (6.0, 1.0, 3.2)}, "γ3"),
        ({"method": "finite_differences"}, "method"),
    ],
)
def test_errors(kwargs, match):
    kwargs = {"method": "subbands", **kwargs}
    with pytest.raises(ValueError, match=match):
        hole_quantum_well("GaAs", **kwargs)


def test_errors_of_other_methods():
    with pytest.raises(ValueError, match="nsub and nbasis"):
        hole_quantum_well("GaAs", nsub=4)
    with pytest.raises(ValueError, match="nsub belongs"):
        hole_quantum_well("GaAs", method="full", nsub=4)
    with pytest.raises(ValueError, match="unconfined"):
        hole_quantum_well("GaAs", field=3e7, energy_max=0.0)  # the paper's model is checked alike
    ok = hole_quantum_well("GaAs", field=2e7, method="subbands", nsub=2, energy_max=-0.1)
    assert ok.info["confinement"]["barrier_top_eV"] == pytest.approx(0.2 - 0.25, abs=1e-12)
