"""Everyday comforts (issue 15): progress bar, provenance of the reproduction's files, the built-in Haldane
model and the hopping-list builder's Cartesian k."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import properspin as ps
from properspin.cli import main
from properspin.models.tight_binding import TightBinding


def test_progress_bar_moves_on_a_one_chunk_mesh(capsys):
    model = ps.models.qwz(1.0)
    quiet = ps.conductivity(model, "charge", fermi=[0.0], mesh=ps.mesh.grid(40), engine=ps.Engine(progress=False))
    shown = ps.conductivity(model, "charge", fermi=[0.0], mesh=ps.mesh.grid(40),
                            engine=ps.Engine(progress=True, workers=1))
    err = capsys.readouterr().err
    assert "charge (qwz)" in err and "0/7 " in err  # 1600 k-points: 7 chunks of 256 (one chunk without a bar)
    np.testing.assert_allclose(shown.values, quiet.values, atol=1e-13)


def test_reproduce_results_carry_provenance():
    from properspin.paper import reproduce

    class Bar:
        def update(self, n: int = 1) -> None:
            pass

    settings = reproduce.Settings.make(True)
    fig2a = reproduce.figure2a(settings, Bar())
    params = json.loads(fig2a.attrs["model_parameters"])
    assert set(params) == {"1e+06 V/m", "2e+06 V/m"}
    assert {p["field_V_per_m"] for p in params.values()} == {1e6, 2e6}
    assert fig2a.attrs["properspin_version"] == ps.__version__ and "numpy_version" in fig2a.attrs
    assert fig2a.attrs["mesh"] == "disk" and fig2a.attrs["response"] == "proper_spin"
    assert fig2a.attrs["provenance_varies_along"] == "gate_field"


def test_haldane_in_the_registry(tmp_path, capsys):
    assert main(["models", "haldane"]) == 0
    assert "phi" in capsys.readouterr().out
    cfg = tmp_path / "haldane.toml"
    cfg.write_text('[model]\nname = "haldane"\nparameters = { t2 = 0.1, M = 0.1 }\n[mesh]\nkind = "grid"\nn = 30\n'
                   '[fermi]\nvalues = [0.0]\n[calculation]\nresponses = ["charge"]\n[output]\nformats = ["netcdf"]\n')
    assert main(["run", str(cfg), "-o", str(tmp_path / "out"), "-q"]) == 0
    res = ps.io.load(tmp_path / "out" / "haldane_charge.nc")
    assert abs(res.sel(current="x", field="y").item()) == pytest.approx(1.0, abs=2e-3)  # Chern insulator
    assert json.loads(res.attrs["model_parameters"])["M"] == 0.1


def test_tight_binding_k_is_cartesian():
    """Square lattice of spacing 2 with hopping t: ε(k) = 2t (cos 2k_x + cos 2k_y) at Cartesian k."""
    tb = TightBinding(2 * np.eye(2), [[0.0, 0.0]]).set_onsite([0.0])
    tb.add_hopping(0.5, 0, 0, (1, 0)).add_hopping(0.5, 0, 0, (0, 1))
    model = tb.to_model()
    k = np.array([[0.3, -0.7], [math.pi / 2, 0.1]])
    np.testing.assert_allclose(model.energies(k)[:, 0], np.cos(2 * k[:, 0]) + np.cos(2 * k[:, 1]), atol=1e-14)
    np.testing.assert_allclose(model.reciprocal, math.pi * np.eye(2))
