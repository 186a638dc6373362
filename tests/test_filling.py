"""Band filling: Fermi level from an electron count and carrier density (properspin.filling)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import properspin as ps
from properspin.filling import carrier_density, fermi_level
from properspin.units import HBAR2_OVER_2M0

from .conftest import FE, needs_fe


def test_qwz_half_filling_lies_in_gap():
    model, mesh = ps.models.qwz(1.0), ps.mesh.grid(40)
    ef = fermi_level(model, 1.0, mesh)
    e = model.energies(ps.mesh.resolve(mesh, model).all_points(model)[0])
    assert e[:, 0].max() < ef < e[:, 1].min()
    assert abs(ef) < 1.0  # gap edges at ±|u| = ±1
    dens = carrier_density(model, [ef, e[:, 0].min() - 1, e[:, 1].max() + 1], mesh)
    np.testing.assert_allclose(dens.values, [1.0, 0.0, 2.0], atol=1e-12)
    assert dens.attrs["units"] == "electrons per cell"


def test_qwz_partial_filling_round_trip():
    model, mesh = ps.models.qwz(1.0), ps.mesh.grid(40)
    ef = fermi_level(model, 0.5, mesh)
    assert float(carrier_density(model, ef, mesh)[0]) == pytest.approx(0.5, abs=1 / 1600)


def test_free_electron_density_matches_analytic():
    model = ps.models.rashba(1e-9, 1.0)  # two spin bands E = ħ²k²/2m
    ef = 0.5
    n_exact = ef / (2 * math.pi * HBAR2_OVER_2M0)  # m E_F/(π ħ²), both spins
    # at T > 0 the 2D density is exactly D k_BT ln(1 + e^{μ/k_BT}) = D μ (to e^{-μ/k_BT}); the smooth
    # occupation lets the Gauss–Legendre rule converge (at T = 0 the step limits it to ~1/nk)
    mesh = ps.mesh.disk(radius=1.0, nk=400, nphi=2)
    dens = carrier_density(model, ef, mesh, temperature=100.0)
    assert float(dens[0]) == pytest.approx(n_exact, rel=1e-3)
    assert dens.attrs["units"] == "Angstrom^-2" and dens.attrs["si_factor"] == 1e20
    assert fermi_level(model, n_exact, mesh, temperature=100.0) == pytest.approx(ef, rel=1e-3)
    fine = ps.mesh.disk(radius=1.0, nk=2000, nphi=2)
    assert float(carrier_density(model, ef, fine)[0]) == pytest.approx(n_exact, rel=3e-3)
    assert fermi_level(model, n_exact, fine) == pytest.approx(ef, rel=3e-3)


@pytest.mark.parametrize("electrons", [1.0, 0.6])
def test_finite_temperature_tends_to_zero_temperature(electrons):
    model, mesh = ps.models.qwz(1.0), ps.mesh.grid(60)
    e0 = fermi_level(model, electrons, mesh)
    diffs = [abs(fermi_level(model, electrons, mesh, temperature=t) - e0) for t in (300.0, 30.0, 1.0)]
    assert diffs[-1] < 2e-3 and diffs[-1] <= diffs[0] + 1e-12
    ef = fermi_level(model, electrons, mesh, temperature=300.0)
    assert float(carrier_density(model, ef, mesh, temperature=300.0)[0]) == pytest.approx(electrons, abs=1e-3)


@pytest.mark.parametrize("electrons", [-1.0, 0.0, 2.0, 3.5, float("nan")])
def test_bad_electron_counts(electrons):
    with pytest.raises(ValueError, match="electrons"):
        fermi_level(ps.models.qwz(1.0), electrons, ps.mesh.grid(8))


def test_bad_inputs():
    model = ps.models.qwz(1.0)
    with pytest.raises(ValueError, match="temperature"):
        fermi_level(model, 1.0, ps.mesh.grid(8), temperature=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        carrier_density(model, 0.0, ps.mesh.grid(8), temperature=float("nan"))
    with pytest.raises(ValueError, match="fermi"):
        carrier_density(model, [0.0, float("nan")], ps.mesh.grid(8))
    with pytest.raises(ValueError, match="cutoff"):  # more electrons than the disk holds
        fermi_level(ps.models.rashba(1e-9, 1.0), 10.0, ps.mesh.disk(0.5, 20, 4))


@needs_fe
def test_fe_fermi_level():
    from properspin.models.wannier import wannier90

    model = wannier90(FE, spinor_order="interleaved")
    assert fermi_level(model, 8.0, ps.mesh.grid(12)) == pytest.approx(17.69, abs=0.1)
