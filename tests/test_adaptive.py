"""Adaptive k-mesh refinement (properspin.adaptive) on QWZ near its transition."""

from __future__ import annotations

import numpy as np
import pytest

import properspin as ps
from properspin.adaptive import adaptive_conductivity


def _sxy(res) -> float:
    return float(res.sel(current="x", field="y")[0])


@pytest.mark.slow
def test_adaptive_beats_uniform_near_transition():
    model = ps.models.qwz(1.9)  # gap 0.2 at M: sharp curvature; lower-band C = −1 → σ_xy = +1 e²/h
    coarse = _sxy(ps.conductivity(model, "charge", fermi=0.0, mesh=ps.mesh.grid(30)))
    res = adaptive_conductivity(model, "charge", fermi=0.0, n=30, refine=3, threshold=2.0)
    assert abs(_sxy(res) - 1) < abs(coarse - 1) / 10
    assert _sxy(res) == pytest.approx(1.0, abs=1e-3)
    assert res.attrs["adaptive_refined_points"] > 0 and res.attrs["adaptive_base_grid"] == "[30, 30]"
    assert res.attrs["adaptive_error_estimate"] == pytest.approx(abs(_sxy(res) - coarse), rel=1e-9)
    # a uniform grid needs n ≈ 75 (> 5000 points) for 1e-3; adaptive uses about a third of that
    uniform = _sxy(ps.conductivity(model, "charge", fermi=0.0, mesh=ps.mesh.grid(70)))
    assert abs(uniform - 1) > 1e-3
    assert res.attrs["adaptive_total_points"] < 70**2 / 2.5


def test_weights_preserved_and_nothing_flagged_is_plain_grid():
    model = ps.models.qwz(1.0)
    plain = ps.conductivity(model, "charge", fermi=[-2.0, 0.0], mesh=ps.mesh.grid(12))
    res = adaptive_conductivity(model, "charge", fermi=[-2.0, 0.0], n=12, threshold=1e9)
    np.testing.assert_allclose(res.values, plain.values, atol=1e-12)
    assert res.attrs["adaptive_refined_points"] == 0 and res.attrs["adaptive_error_estimate"] < 1e-12
    ref = adaptive_conductivity(model, "charge", fermi=0.0, n=12, threshold=0.5, max_iterations=2)
    # smooth integrand: the uniform grid is spectrally accurate and refining breaks that (O(h²) at the
    # refined/unrefined junctions), so refinement only helps where the integrand has sharp peaks
    assert _sxy(ref) == pytest.approx(1.0, abs=5e-3)


@pytest.mark.parametrize("kwargs", [{"refine": 1}, {"threshold": 0.0}, {"max_iterations": 0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        adaptive_conductivity(ps.models.qwz(1.0), "charge", fermi=0.0, n=8, **kwargs)


def test_continuum_model_refused():
    with pytest.raises(ValueError, match="periodic"):
        adaptive_conductivity(ps.models.rashba(1.0, 1.0), "charge", fermi=0.1, n=8)
