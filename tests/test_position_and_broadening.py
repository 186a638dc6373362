"""Wannier position term (Wang et al. 2006) and the conventional-current broadening η."""

from __future__ import annotations

import json

import numpy as np
import pytest

import properspin as ps
from properspin import geometry as geo
from properspin import mesh, models

from .conftest import random_hermitian

RNG = np.random.default_rng(11)


def _two_conventions(n=4, dim=3):
    """Model A: Wannier-90 convention H(k) with orbital centres τ as position term; model B: the same crystal
    in the tight-binding convention H_B = D† H D, D = diag(e^{ik·τ}), without position term."""
    hs = [random_hermitian(RNG, n) for _ in range(2 * dim + 1)]
    tau = np.repeat(RNG.uniform(-0.5, 0.5, size=(n // 2, dim)), 2, axis=0)  # spinor pairs share a centre

    def h_a(k):
        out = np.broadcast_to(hs[0], (len(k), n, n)).astype(complex)
        for a in range(dim):
            out = out + np.sin(k[:, a])[:, None, None] * hs[1 + a] + np.cos(k[:, a])[:, None, None] * hs[1 + dim + a]
        return out

    def dh_a(k):
        return np.stack([np.cos(k[:, a])[:, None, None] * hs[1 + a] - np.sin(k[:, a])[:, None, None] * hs[1 + dim + a]
                         for a in range(dim)])

    def position(k):
        return np.stack([np.broadcast_to(np.diag(tau[:, a]).astype(complex), (len(k), n, n)) for a in range(dim)])

    def d(k):
        return np.exp(1j * k @ tau.T)  # (N, n)

    def h_b(k):
        dd = d(k)
        return dd.conj()[:, :, None] * h_a(k) * dd[:, None, :]

    def dh_b(k):
        dd, hb = d(k), h_b(k)
        out = []
        for a in range(dim):
            t = tau[:, a]
            out.append(dd.conj()[:, :, None] * dh_a(k)[a] * dd[:, None, :]
                       + 1j * (hb * t[None, None, :] - t[None, :, None] * hb))
        return np.stack(out)

    spin = np.stack([np.kron(np.eye(n // 2), s) for s in ps.SPIN_HALF])  # on-site spin commutes with D
    a = ps.Model(h_a, dh_a, spin, dim, reciprocal=2 * np.pi * np.eye(dim), position=position)
    b = ps.Model(h_b, dh_b, spin, dim, reciprocal=2 * np.pi * np.eye(dim))
    return a, b


def test_position_term_equals_tight_binding_convention_k_by_k():
    a, b = _two_conventions()
    k = RNG.uniform(-3, 3, size=(100, 3))
    ga, gb = geo.band_geometry(a, k), geo.band_geometry(b, k)
    np.testing.assert_allclose(ga.energies, gb.energies, atol=1e-12)
    for f in (geo.berry_curvature, geo.proper_spin_curvature, geo.conventional_spin_curvature):
        qa, qb = f(ga), f(gb)
        np.testing.assert_allclose(qa, qb, atol=1e-9 * np.max(np.abs(qb)))
    # without the position term the local curvature of convention A differs: the term matters
    plain = ps.Model(a.hamiltonian, a.gradient, a.spin, 3, reciprocal=a.reciprocal)
    diff = np.max(np.abs(geo.berry_curvature(geo.band_geometry(plain, k)) - geo.berry_curvature(gb)))
    assert diff > 1e-3 * np.max(np.abs(geo.berry_curvature(gb)))


def test_position_term_gives_same_integrated_hall_conductivity():
    a, b = _two_conventions(dim=2)
    fermi = [-1.0, 0.0, 1.0]
    ra = ps.conductivity(a, "charge", fermi=fermi, mesh=mesh.grid(24))
    rb = ps.conductivity(b, "charge", fermi=fermi, mesh=mesh.grid(24))
    np.testing.assert_allclose(ra.values, rb.values, atol=1e-10)


def test_broadening_two_band_closed_form():
    """Two bands: the broadened conventional term is the clean one times Δ²/(Δ² + η²), k by k."""
    model = models.rashba(0.8, 0.7, zeeman=(0.02, 0.01, 0.05))
    k = RNG.uniform(-0.5, 0.5, size=(200, 2))
    g = geo.band_geometry(model, k)
    eta = 0.03
    delta2 = (g.energies[:, 1] - g.energies[:, 0]) ** 2
    clean = geo.conventional_spin_curvature(g)
    broad = geo.conventional_spin_curvature(g, broadening=eta)
    np.testing.assert_allclose(broad, clean * (delta2 / (delta2 + eta**2))[:, None], atol=1e-12 * np.abs(clean).max())


def test_broadening_limit_and_effect_on_conductivity():
    model = models.rashba(1.0, 1.0, zeeman=(0, 0, 0.01))
    ms = mesh.disk(1.0, 200, 32)
    clean = ps.conductivity(model, "conventional_spin", fermi=[0.2], mesh=ms)
    tiny = ps.conductivity(model, "conventional_spin", fermi=[0.2], mesh=ms, broadening=1e-7)
    wide = ps.conductivity(model, "conventional_spin", fermi=[0.2], mesh=ms, broadening=0.2)
    sel = dict(spin="z", current="y", field="x")
    assert tiny.sel(**sel).item() == pytest.approx(clean.sel(**sel).item(), rel=1e-6)
    assert abs(wide.sel(**sel).item()) < 0.9 * abs(clean.sel(**sel).item())
    assert wide.attrs["broadening_eV"] == 0.2


def test_wannier_position_gradient_analytic_equals_finite_differences(tmp_path):
    """∂_a A^W_b of a `_tb.dat` model (enters Ω through F^W, Wang et al. Eq. 27) against finite differences."""
    from properspin.models.wannier import WannierHamiltonian, wannier90, write_tb

    n, rng = 3, np.random.default_rng(5)
    rvec = np.array([[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    ham = rng.normal(size=(7, n, n)) + 1j * rng.normal(size=(7, n, n))
    pos = 0.3 * (rng.normal(size=(7, 3, n, n)) + 1j * rng.normal(size=(7, 3, n, n)))
    for i, j in ((1, 2), (3, 4), (5, 6)):  # Hermitian pairs R, −R
        ham[j] = ham[i].conj().T
        pos[j] = pos[i].conj().transpose(0, 2, 1)
    ham[0] = (ham[0] + ham[0].conj().T) / 2
    pos[0] = (pos[0] + pos[0].conj().transpose(0, 2, 1)) / 2
    wh = WannierHamiltonian(lattice=np.diag([3.0, 3.5, 4.0]), rvec=rvec, deg=np.ones(7, int), ham=ham, pos=pos)
    write_tb(tmp_path / "toy_tb.dat", wh)
    model = wannier90(tmp_path / "toy_tb.dat")
    k = rng.uniform(-1, 1, size=(6, 3))
    analytic = model.berry_connection_orbital_gradient(k)
    fd = ps.Model(model.hamiltonian, model.gradient, None, 3, reciprocal=model.reciprocal,
                  position=model.position).berry_connection_orbital_gradient(k)
    np.testing.assert_allclose(analytic, fd, atol=1e-8 * np.abs(analytic).max())
    g = geo.band_geometry(model, k)
    assert np.abs(g.wannier_curvature).max() > 1e-3  # F^W is not zero for general position elements
    omega_full, omega_inter = geo.berry_curvature(g), geo.berry_curvature(g, wannier=False)
    np.testing.assert_allclose(omega_full - omega_inter, g.wannier_curvature, atol=1e-12)
    curl = model.berry_connection_orbital_curl(k)
    np.testing.assert_allclose(curl, np.stack([analytic[a, b] - analytic[b, a] for a, b in ((1, 2), (2, 0), (0, 1))]),
                               atol=1e-12 * np.abs(analytic).max())


def test_broadening_as_response_parameter_equals_keyword():
    """η set on the response object gives the keyword's numbers, is recorded, and is refused where unknown."""
    model = models.rashba(0.8, 0.7, zeeman=(0.0, 0.0, 0.02))
    ms = mesh.disk(radius=0.8, nk=60, nphi=16)
    ef = [0.05, 0.2]
    by_kw = ps.conductivity(model, "conventional_spin", fermi=ef, mesh=ms, broadening=0.03)
    resp = ps.responses.get("conventional_spin", broadening=0.03)
    by_obj = ps.conductivity(model, resp, fermi=ef, mesh=ms)
    clean = ps.conductivity(model, "conventional_spin", fermi=ef, mesh=ms)
    np.testing.assert_allclose(by_obj.values, by_kw.values, rtol=0, atol=1e-14)
    assert np.abs(by_obj.values - clean.values).max() > 1e-3 * np.abs(clean.values).max()
    assert by_obj.attrs["broadening_eV"] == 0.03
    assert json.loads(by_obj.attrs["response_parameters"]) == {"broadening": 0.03, "method": "simple",
                                                                "eigval_max": float("inf")}
    assert resp.fused_mode == 2  # the fused kernel honours η
    with pytest.raises(ValueError, match="no parameter"):
        ps.responses.get("proper_spin", broadening=0.01)
    with pytest.raises(ValueError, match="broadening must be"):
        ps.responses.get("conventional_spin", broadening=-1.0)
