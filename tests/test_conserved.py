"""Shi's conserved spin current from its definition (finite-q Kubo, spin Středa) and the orbital magnetisation.

Every comparison here is between independent calculations: the torque–current correlation at finite q against
the Zeeman derivative of the orbital magnetisation, an analytic q-derivative against re-diagonalisation at k ± q/2,
the k-space orbital magnetisation against a magnetic-supercell (Hofstadter) grand potential.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import properspin as ps
from properspin import conserved, io, mesh, models, orbital, responses, units
from properspin import geometry as geo
from properspin.models import TightBinding
from properspin.models.tight_binding import haldane
from properspin.sweep import Sweep

from .conftest import smooth_model

PAULI = ps.PAULI


# ---------------------------------------------------------------------------------------------- models
def _herm(rng, n):
    a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return (a + a.conj().T) / 2


def random_lattice(n, seed, gap=3.0, spin=None, dim=2, pt=False):
    """Smooth random periodic model H0 + Σ_a sin k_a H_a + (1 − cos k_a) G_a, all orbitals at the origin.

    ``pt``: PT-symmetric (Θ = 1 ⊗ iσ_y K, spin 1 ⊗ σ/2): Kramers-degenerate at every k.  Otherwise a random
    local 'spin' (three random Hermitian matrices) unless ``spin`` is given.
    """
    rng = np.random.default_rng(seed)
    theta = np.kron(np.eye(n // 2), [[0, 1], [-1, 0]]).astype(complex)

    def sym(x):
        return (x + theta @ x.conj() @ theta.conj().T) / 2 if pt else x

    split = np.where(np.arange(n) < n // 2, -gap, gap)
    if pt:
        split = np.repeat(np.where(np.arange(n // 2) < n // 4, -gap, gap), 2)
    h0 = sym(_herm(rng, n) + np.diag(split))
    ha = [sym(_herm(rng, n)) for _ in range(dim)]
    ga = [sym(_herm(rng, n)) for _ in range(dim)]
    if pt:
        spin = np.stack([np.kron(np.eye(n // 2), s) for s in ps.SPIN_HALF])
    elif spin is None:
        spin = np.stack([_herm(rng, n) for _ in range(3)])

    return smooth_model(h0, ha, ga, spin, 2 * np.pi * np.eye(dim), f"random{seed}")


def kane_mele(t=1.0, lso=0.15, lr=0.1, lv=0.2):
    """Kane–Mele model with Rashba term on the honeycomb lattice (orbitals at A = (1/3, 1/3), B = (2/3, 2/3))."""
    lat = np.array([[1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    pos = [[1 / 3, 1 / 3]] * 2 + [[2 / 3, 2 / 3]] * 2
    tb = TightBinding(lat, pos, spin="interleaved", name="kane_mele")
    tb.set_onsite([lv, lv, -lv, -lv])
    cart = np.array(pos) @ lat

    def hop(i, j, m, r):  # spinor block <site i, 0|H|site j, R>
        for a in range(2):
            for b in range(2):
                if m[a, b] != 0:
                    tb.add_hopping(m[a, b], 2 * i + a, 2 * j + b, r)

    for r in ((0, 0), (-1, 0), (0, -1)):
        d = cart[0] - (cart[2] + np.array(r) @ lat)
        d /= np.linalg.norm(d)
        hop(0, 1, t * np.eye(2) + 1j * lr * (PAULI[0] * d[1] - PAULI[1] * d[0]), r)
    for i, r, sgn in ((0, (1, 0), 1), (1, (1, -1), 1), (1, (0, 1), 1), (1, (1, 0), -1), (0, (1, -1), -1),
                      (0, (0, 1), -1)):
        hop(i, i, 1j * sgn * lso * PAULI[2], r)
    return tb.to_model()


def mid_gap(model, nband=None):
    """Middle of the gap above band ``nband − 1`` (default: half filling), from random k-points."""
    nband = model.nbands // 2 if nband is None else nband
    k = np.random.default_rng(0).random((20000, model.dim)) @ model.reciprocal
    e = model.energies(k)
    lo, hi = e[:, nband - 1].max(), e[:, nband].min()
    assert hi - lo > 0.1, "test model must be an insulator"
    return 0.5 * (lo + hi), lo, hi


BROKEN = {  # lattice insulators without spin conservation
    "two_band": lambda: random_lattice(2, 1, gap=1.5, spin=ps.SPIN_HALF),
    "bhz_rashba": lambda: models.bhz(1.0, rashba=0.3),
    "random4": lambda: random_lattice(4, 2),
    "random_pt": lambda: random_lattice(4, 1, pt=True),
    "kane_mele_rashba": kane_mele,
}


def _run(model, name, fermi, n=36, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.DegeneracyWarning)
        return ps.conductivity(model, name, fermi=fermi, mesh=mesh.grid(n, **kw))


# ---------------------------------------------------------------------------------------------- route 1 = route 2
@pytest.mark.parametrize("name", list(BROKEN))
def test_kubo_and_streda_agree(name):
    model = BROKEN[name]()
    ef = mid_gap(model)[0]
    kubo = _run(model, "conserved_spin_kubo", ef).values[0]
    streda = _run(model, "conserved_spin_streda", ef).values[0]
    scale = np.abs(kubo).max()
    assert scale > 1e-2
    assert np.abs(kubo - streda).max() <= 1e-5 * scale
    # the definition gives a pure Hall tensor (symmetric part zero, as gauge invariance of the static limit demands)
    assert np.abs(kubo + kubo.transpose(0, 2, 1)).max() <= 1e-9 * scale


def test_spin_conserving_bhz_is_quantised_by_every_route():
    model = models.bhz(1.0)
    for name in ("proper_spin", "conventional_spin", "conserved_spin_kubo", "conserved_spin_streda"):
        r = _run(model, name, [-0.2, 0.0, 0.3], n=24)
        assert r.sel(spin="z", current="y", field="x").values == pytest.approx(4.0, abs=1e-5), name
    kubo = _run(model, "conserved_spin_kubo", 0.0, n=24).values
    assert np.abs(kubo - _run(model, "conserved_spin_streda", 0.0, n=24).values).max() < 1e-9


def test_two_band_eq9_vanishes_but_definition_does_not():
    """Eq. (9) integrates s_z over the sphere with the degree as weight: zero for any two-band lattice model."""
    model = BROKEN["two_band"]()
    ef = mid_gap(model)[0]
    eq2 = _run(model, "proper_spin", ef).sel(spin="z", current="y", field="x").item()
    kubo = _run(model, "conserved_spin_kubo", ef).sel(spin="z", current="y", field="x").item()
    assert abs(eq2) < 1e-8
    assert abs(kubo) > 1e-2


def test_rashba_bhz_definition_is_continuous_eq2_is_not():
    """Definition: 4 − O(λ²) as the Rashba term λ → 0.  Eq. (2): the split Kramers pairs carry s_z ≈ 0 (→ 0)."""
    dev, eq2 = [], []
    for lam in (0.02, 0.04):
        model = models.bhz(1.0, rashba=lam)
        dev.append(4.0 - _run(model, "conserved_spin_kubo", 0.0, n=24).sel(spin="z", current="y", field="x").item())
        eq2.append(_run(model, "proper_spin", 0.0, n=24, shift=0.5).sel(spin="z", current="y", field="x").item())
    assert 0 < dev[0] < 1e-3
    assert dev[1] / dev[0] == pytest.approx(4.0, rel=0.05)
    assert max(abs(x) for x in eq2) < 0.05


def test_three_dimensional_routes_agree():
    model = random_lattice(4, 3, gap=6.0, dim=3, pt=True)
    ef = mid_gap(model)[0]
    kubo = _run(model, "conserved_spin_kubo", ef, n=12).values[0]
    streda = _run(model, "conserved_spin_streda", ef, n=12).values[0]
    assert kubo.shape == (3, 3, 3)
    assert np.abs(kubo).max() > 1e3  # (ħ/2e) S/m
    assert np.abs(kubo - streda).max() <= 1e-5 * np.abs(kubo).max()


# ---------------------------------------------------------------------------------------------- route 1 itself
@pytest.mark.parametrize("name", ["random4", "random_pt", "kane_mele_rashba", "two_band"])
def test_analytic_q_derivative_matches_finite_differences(name):
    model = BROKEN[name]()
    k = np.random.default_rng(4).random((6, 2)) @ model.reciprocal
    g = geo.band_geometry(model, k)
    a = conserved.torque_dipole_analytic(g)
    b = conserved.torque_dipole_finite_difference(g, 1e-3)
    assert np.abs(a).max() > 1e-3
    assert np.abs(a - b).max() <= 1e-8 * np.abs(a).max()
    # a full band set has no response: the per-state values sum to zero at every k
    assert np.abs(a.sum(-1)).max() <= 1e-12 * np.abs(a).max()


def test_finite_difference_method_through_conductivity():
    model = kane_mele()
    ef = mid_gap(model)[0]
    fd = responses.get("conserved_spin_kubo", method="finite_difference", q_step=2e-3)
    r_fd = _run(model, fd, ef, n=18)
    r_an = _run(model, "conserved_spin_kubo", ef, n=18)
    assert np.abs(r_fd.values - r_an.values).max() <= 1e-8 * np.abs(r_an.values).max()
    assert '"method": "finite_difference"' in r_fd.attrs["response_parameters"]


def test_finite_difference_steps_converge_at_fourth_order():
    model = kane_mele()
    ef = mid_gap(model)[0]
    for name, key, default in (("conserved_spin_streda", "zeeman_step", 1e-3),
                               ("conserved_spin_kubo", "q_step", 1e-3)):
        extra = {"method": "finite_difference"} if key == "q_step" else {}
        val = {st: _run(model, responses.get(name, **{key: st}, **extra), ef, n=12).values
               for st in (default, 1e-2, 2e-2)}
        err1, err2 = (np.abs(val[st] - val[default]).max() for st in (1e-2, 2e-2))
        assert err1 < 1e-8 * np.abs(val[default]).max()
        assert err2 / err1 == pytest.approx(16, rel=0.1)  # error ∝ step⁴


def test_torque_monopole_vanishes_in_the_gap():
    """Shi's condition: the uniform torque response integrates to zero in an insulator with a local spin."""
    model = kane_mele()
    ef, lo, _ = mid_gap(model)
    t = _run(model, "torque", [ef, lo - 0.3], n=36).values
    assert np.abs(t[1]).max() > 1e-3 * np.abs(t).max() > 0
    assert np.abs(t[0]).max() <= 1e-8 * np.abs(t[1]).max()


# ---------------------------------------------------------------------------------------------- invariances
@pytest.mark.parametrize("name", ["bhz_rashba", "kane_mele_rashba"])
def test_mesh_offset_and_convergence(name):
    model = BROKEN[name]()
    ef = mid_gap(model)[0]
    vals = {n: _run(model, "conserved_spin_kubo", ef, n=n).values for n in (16, 24, 36)}
    shifted = _run(model, "conserved_spin_kubo", ef, n=36, shift=0.5).values
    scale = np.abs(vals[36]).max()
    assert np.abs(shifted - vals[36]).max() <= 1e-6 * scale
    assert np.abs(vals[24] - vals[36]).max() < np.abs(vals[16] - vals[36]).max()
    assert np.abs(vals[24] - vals[36]).max() <= 1e-4 * scale


@pytest.mark.parametrize("name", ["random_pt", "bhz_rashba", "random4"])
def test_gauge_invariance_orbital_unitary(name):
    model = BROKEN[name]()
    ef = mid_gap(model)[0]
    rng = np.random.default_rng(9)
    q, r = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
    rotated = model.transformed(q * (np.diag(r) / abs(np.diag(r))))
    for resp in ("conserved_spin_kubo", "conserved_spin_streda"):
        a, b = _run(model, resp, ef, n=12).values, _run(rotated, resp, ef, n=12).values
        assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max(), resp


def test_gauge_invariance_spin_rotation_on_sites_with_positions():
    """A random SU(2) on each site (orbitals at A and B ≠ 0) commutes with the positions: same results."""
    model = kane_mele()
    rng = np.random.default_rng(2)
    blocks = [np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))[0] for _ in range(2)]
    w = np.zeros((4, 4), complex)
    w[:2, :2], w[2:, 2:] = blocks
    rotated = model.transformed(w)
    ef = mid_gap(model)[0]
    for resp in ("conserved_spin_kubo", "conserved_spin_streda"):
        a, b = _run(model, resp, ef, n=12).values, _run(rotated, resp, ef, n=12).values
        assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max(), resp
    haldane_model = haldane(t2=0.15, phi=math.pi / 3, M=0.2).to_model()  # broken time reversal: M ≠ 0
    phases = haldane_model.transformed(np.diag(np.exp(1j * rng.uniform(0, 2 * np.pi, 2))))
    ef = mid_gap(haldane_model)[0]
    a, b = (_run(m, "orbital_magnetization", ef, n=12).values for m in (haldane_model, phases))
    assert np.abs(a).max() > 0 and np.abs(a - b).max() <= 1e-12 * np.abs(a).max()


def test_per_state_values_ignore_eigenvector_gauge_inside_kramers_pairs():
    model = BROKEN["random_pt"]()
    k = np.random.default_rng(5).random((4, 2)) * 2 * np.pi
    h = model.h(k)
    e, u = np.linalg.eigh(h)
    rng = np.random.default_rng(6)
    mix = np.zeros((4, 4, 4), complex)
    for i in range(4):
        for b in (0, 2):
            mix[i, b:b + 2, b:b + 2] = np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))[0]
    g1 = geo.geometry_from_eigenvectors(model, k, h, e, u, 1e-6)
    g2 = geo.geometry_from_eigenvectors(model, k, h, e, u @ mix, 1e-6)
    for f in (conserved.torque_dipole_analytic, lambda g: conserved.spin_streda(g, 1e-3)):
        a, b = f(g1), f(g2)
        assert np.abs(a).max() > 1e-3
        assert np.abs(a - b).max() <= 1e-8 * np.abs(a).max()
    # PT symmetry makes M vanish per Kramers block (single states carry ± m)
    for g in (g1, g2):
        assert np.abs(orbital.orbital_magnetization(g)).max() < 1e-14


# ---------------------------------------------------------------------------------------------- orbital magnetisation
def _haldane_supercell_grand_potential(tb, q, p, mus, nk=16):
    """Grand potential per unit cell Σ_{ε<μ}(ε − μ) of the Haldane model in p/q flux quanta per cell.

    Gauge A = B A_cell s1 ∇s2 (s: fractional coordinates): Peierls phase −2πφ s̄1 Δs2 for charge −e on a straight
    bond; periodic with q cells along a1 when p Δs2 is an integer (p a multiple of 3 on the honeycomb lattice).
    """
    frac = np.array([[1 / 3, 1 / 3], [2 / 3, 2 / 3]])
    phi, n = p / q, 2 * q
    mats: dict[tuple[int, int], np.ndarray] = {}
    for r, blk in tb._blocks.items():
        for i, j in zip(*np.nonzero(blk), strict=True):
            for c in range(q):
                si, sj = np.array([c, 0.0]) + frac[i], np.array([c + r[0], r[1]]) + frac[j]
                theta = -2 * np.pi * phi * 0.5 * (si[0] + sj[0]) * (si[1] - sj[1])
                key = ((c + r[0]) // q, r[1])
                mats.setdefault(key, np.zeros((n, n), complex))[2 * c + i, 2 * ((c + r[0]) % q) + j] += (
                    blk[i, j] * np.exp(1j * theta))
    total = np.zeros(len(mus))
    for b in range(nk):
        k2 = (b + 0.5) / nk
        e = np.linalg.eigvalsh(sum(np.exp(2j * np.pi * (0.5 * n1 + k2 * r2)) * m for (n1, r2), m in mats.items()))
        total += [np.sum(np.minimum(e - mu, 0.0)) for mu in mus]
    return total / nk / q


def test_haldane_orbital_magnetization_matches_finite_field():
    """M = −∂Ω/∂B at fixed μ from Hofstadter supercells (flux ±3/60, ±6/60, Richardson) against the k-space sum."""
    tb = haldane(t1=1.0, t2=0.15, phi=math.pi / 3, M=0.2)
    model = tb.to_model()
    _, lo, hi = mid_gap(model)
    mus = lo + np.array([0.25, 0.5, 0.75]) * (hi - lo)
    r = ps.conductivity(model, "orbital_magnetization", fermi=mus, mesh=mesh.grid(60))
    assert r.attrs["units"] == "A"
    m_k = r.values[:, 0] / units.E2_OVER_HBAR  # in (e/ħ)·eV
    omega = {p: _haldane_supercell_grand_potential(tb, 60, p, mus) for p in (3, -3, 6, -6)}
    est = {p: -(omega[p] - omega[-p]) / (2 * p / 60) / (2 * math.pi) for p in (3, 6)}
    m_field = (4 * est[3] - est[6]) / 3
    assert np.abs(m_k).max() > 0.02
    assert np.abs(m_field - m_k).max() < 1.5e-4


def test_orbital_magnetization_streda_and_three_dimensions():
    """dM_z/dμ = −σ_xy/e in a gap (2D: A per eV = −σ_xy in S); a stack of layers has M_z(3D) = M_z(2D)/c."""
    tb = haldane(t1=1.0, t2=0.15, phi=math.pi / 3, M=0.2)
    model = tb.to_model()
    _, lo, hi = mid_gap(model)
    mus = lo + np.array([0.3, 0.7]) * (hi - lo)
    m2 = ps.conductivity(model, "orbital_magnetization", fermi=mus, mesh=mesh.grid(30)).values[:, 0]
    sxy = ps.conductivity(model, "charge", fermi=mus[0], mesh=mesh.grid(30)).sel(current="x", field="y").item()
    assert (m2[1] - m2[0]) / (mus[1] - mus[0]) == pytest.approx(-sxy * units.E2_OVER_HBAR / (2 * math.pi), rel=1e-9)
    c = 3.0
    stack = TightBinding([[1.0, 0, 0], [0.5, math.sqrt(3) / 2, 0], [0, 0, c]], [[1 / 3, 1 / 3, 0], [2 / 3, 2 / 3, 0]])
    for r, blk in tb._blocks.items():  # the same layer, no hopping between layers
        stack._block((*r, 0))[:] = blk
    m3 = ps.conductivity(stack.to_model(), "orbital_magnetization", fermi=mus, mesh=mesh.grid((30, 30, 2)))
    assert m3.attrs["units"] == "A/m" and list(m3.axis.values) == ["x", "y", "z"]
    assert [io.component_label(m3, c) for c in io.components(m3)] == ["M_x", "M_y", "M_z"]
    assert m3.sel(axis="z").values == pytest.approx(m2 / (c * 1e-10), rel=1e-10)
    assert np.abs(m3.sel(axis=["x", "y"]).values).max() < 1e-9 * np.abs(m3.values).max()


def test_grand_potential_sweep_at_finite_temperature():
    rng = np.random.default_rng(3)
    e = rng.uniform(-1, 1, 4000)
    q = rng.normal(size=(4000, 2))
    fermi = np.array([-0.3, 0.1, 0.4])
    for temp in (0.0, 300.0):
        s = Sweep(fermi, temp)
        partial = s.empty(6)
        s.accumulate(partial, e, np.concatenate([q, q, e[:, None] * q], axis=1))
        got = s.finish(partial, grand=True)
        kt = units.K_B_EV * temp
        x = e[None, :] - fermi[:, None]
        f = (x <= 0).astype(float) if temp == 0 else 1 / (1 + np.exp(x / kt))
        g = np.maximum(-x, 0) if temp == 0 else kt * np.logaddexp(0, -x / kt)
        want = f @ q + g @ q
        assert got == pytest.approx(want, rel=1e-12 if temp == 0 else 2e-4, abs=1e-9)


def test_streda_route_is_flat_across_the_gap_and_temperature_safe():
    model = kane_mele()
    _, lo, hi = mid_gap(model)
    fermi = lo + np.array([0.3, 0.5, 0.7]) * (hi - lo)
    r = _run(model, "conserved_spin_streda", fermi, n=36).values
    assert np.abs(r - r[1]).max() <= 1e-8 * np.abs(r).max()
    warm = ps.conductivity(model, "conserved_spin_streda", fermi=fermi[1], mesh=mesh.grid(36), temperature=30.0)
    assert np.abs(warm.values - r[1]).max() <= 1e-6 * np.abs(r).max()


# ---------------------------------------------------------------------------------------------- bad input
def test_metallic_fermi_energies_are_nan_with_a_warning():
    model = kane_mele()
    ef, lo, _ = mid_gap(model)
    with pytest.warns(ps.MetallicFermiWarning, match="insulators only"):
        r = ps.conductivity(model, "conserved_spin_kubo", fermi=[ef, lo - 0.2], mesh=mesh.grid(12))
    assert np.all(np.isfinite(r.values[0])) and np.all(np.isnan(r.values[1]))
    assert r.attrs["fermi_in_gap"] == "[1, 0]"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = ps.conductivity(model, "orbital_magnetization", fermi=lo - 0.2, mesh=mesh.grid(12))
    assert np.all(np.isfinite(m.values))


def test_bad_parameters_and_models_are_refused():
    with pytest.raises(ValueError, match="q_step"):
        responses.get("conserved_spin_kubo", q_step=0.0)
    with pytest.raises(ValueError, match="method"):
        responses.get("torque_dipole_kubo", method="symbolic")
    with pytest.raises(ValueError, match="zeeman_step"):
        responses.get("conserved_spin_streda", zeeman_step=-1e-3)
    with pytest.raises(ValueError, match="continuum"):
        ps.conductivity(models.massive_dirac(1.0, 0.1), "conserved_spin_streda", fermi=0.0, mesh=mesh.disk(1.0, 8, 8))
    wannier = kane_mele()
    a0 = wannier.position

    def position(k):
        a = np.asarray(a0(k)).copy()
        a[0, :, 0, 2] += 0.1
        a[0, :, 2, 0] += 0.1
        return a

    off_diagonal = ps.Model(wannier.hamiltonian, wannier.gradient, wannier.spin, 2, wannier.reciprocal, position)
    with pytest.raises(ValueError, match="off-diagonal"):
        ps.conductivity(off_diagonal, "orbital_magnetization", fermi=0.0, mesh=mesh.grid(4))
    with pytest.raises(ValueError, match="grand"):
        ps.adaptive_conductivity(kane_mele(), "orbital_magnetization", fermi=0.0, n=4)
