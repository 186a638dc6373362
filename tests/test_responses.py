"""Adding a response touches one place (an entry of responses.RESPONSES) plus its formula: Eq. (2) split by the
partner band, run end to end, and the Response's own rules (kernel path, degeneracy check).  The example of
docs/api.md ("Adding a response") is executed in tests/test_response_contract.py."""

from __future__ import annotations

import numpy as np
import pytest

import properspin as ps
from properspin import geometry as geo
from properspin import mesh, models, responses, units
from properspin.results import parameters


def _proper_by_partner(g: geo.BandGeometry, p) -> np.ndarray:
    """Eq. (2) split by the partner band n of each state m: n below m ("below") and n above m ("above")."""
    inv = g.inverse_gap_squared()
    v, s_nn = g.velocity, g.spin_diagonal  # (dim, N, n, n), (3, N, n)
    n = g.energies.shape[1]
    below = np.tril(np.ones((n, n), dtype=bool), -1)  # [m, n]: n < m
    out = []
    for part in (below, below.T):
        pairs = np.stack([(v[a] * v[b].transpose(0, 2, 1)).imag * inv * part for a, b in geo._CYCLIC[g.dim]])
        sigma = -2 * np.einsum("ckmn,lkn->clkm", pairs, s_nn)  # (nc, 3, N, n)
        out.append(p["weight"] * geo.levi_civita_contract(sigma, g.dim))
    return np.stack(out)  # (term, spin, current, field, N, n)


def _check_weight(params):
    if not np.isfinite(params["weight"]):
        raise ValueError(f"weight must be finite, got {params['weight']!r}")
    return params


EXAMPLE = responses.Response(
    "proper_by_partner", "spin", ("term", "spin", "current", "field"), _proper_by_partner,
    defaults={"weight": 1.0}, check=_check_weight, labels={"term": ("below", "above")},
    unit_of=(lambda dim: 2 * units.spin_factor(dim), lambda dim: "custom unit"),
    description="proper spin conductivity split by the partner band (worked example)",
)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(responses.RESPONSES, EXAMPLE.name, EXAMPLE)
    return EXAMPLE


def test_a_new_response_runs_end_to_end(registered):
    """Registered in one place, the new response runs on the numpy path (no kernel mode), with its labels, unit,
    parameters and degeneracy report; its two terms add up to Eq. (1) computed by the fused kernel."""
    model = models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))
    fermi = np.linspace(-1.5, 1.5, 7)
    proper = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=mesh.grid(24))
    split = ps.conductivity(model, responses.get("proper_by_partner", weight=0.5), fermi=fermi, mesh=mesh.grid(24))
    assert split.dims == ("fermi", "term", "spin", "current", "field")
    assert list(split["term"].values) == ["below", "above"]
    assert split.attrs["units"] == "custom unit"
    assert parameters(split, "response_parameters") == {"weight": 0.5}
    total = split.sum("term").values  # 2 (unit factor) × 0.5 (weight) = 1 × Eq. (1)
    assert np.max(np.abs(proper.values)) > 0.1
    np.testing.assert_allclose(total, proper.values, rtol=0, atol=1e-10 * np.max(np.abs(proper.values)))
    assert np.max(np.abs(split.sel(term="below").values)) > 0.1  # both parts are finite, neither is the whole
    assert np.max(np.abs(split.sel(term="above").values)) > 0.1
    with pytest.raises(ValueError, match="weight must be finite"):
        responses.get("proper_by_partner", weight=np.nan)


def test_kernel_path_and_degeneracy_check_belong_to_the_response():
    get = responses.get
    assert get("proper_spin").fused_mode == 1 and get("charge").fused_mode == 0
    assert get("conventional_spin", broadening=0.01).fused_mode == 2  # a parameter the kernel takes
    assert EXAMPLE.fused_mode is None and get("conventional_spin_ac").fused_mode is None  # numpy path
    assert get("appendix_c").fused_mode == get("appendix_c", degenerate="exclude").fused_mode == 5  # APPENDIX_C
    assert get("proper_spin").uses_diagonal_spin and get("torque_dipole").uses_diagonal_spin
    assert get("appendix_c").uses_diagonal_spin and EXAMPLE.uses_diagonal_spin  # unset: every spin response
    assert not get("conventional_spin").uses_diagonal_spin and not get("charge").uses_diagonal_spin
