"""One place per response (issue 23): every entry of RESPONSES through the numpy path, the kernel, the symmetry
projector, CSV, PNG, netCDF and ``bands``; a user-defined response through ``properspin run``."""

from __future__ import annotations

import csv

import numpy as np

from properspin import responses
from properspin.config import run_config

RUN = """
[model]
name = "rashba"
parameters = {{ alpha = 0.3, mass = 1.0, zeeman = [0.0, 0.0, {mz}] }}

[mesh]
kind = "disk"
radius = 0.6
nk = 24
nphi = 8

[fermi]
values = [-0.05, 0.02, 0.1]

[calculation]
responses = ["spin_density"]

[output]
formats = ["netcdf", "csv", "png"]
"""


def _spin_density() -> responses.Response:
    """⟨s^l⟩ per area, Σ_k w_k Σ_m f_mk s^l_mm, written with the fields every properspin version has."""
    return responses.Response("spin_density", "spin", ("spin",), lambda g, p: g.spin_diagonal,
                              unit_of=(lambda dim: 1.0, lambda dim: f"hbar/Å^{dim}"),
                              description="spin density ⟨s^l⟩", diagonal_spin=False)


def _csv(path):
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return list(csv.reader(lines))


def test_user_response_runs_through_run_files(tmp_path, monkeypatch):
    """A response registered in one place runs through a run file to .nc, CSV and PNG (it crashed with
    KeyError 'field' after the .nc was written: the CSV labels were guessed from the dimension names); its
    numbers: ⟨s^z⟩ is odd in the exchange field m_z (T-odd) and s^x, s^y vanish (rotation about z)."""
    monkeypatch.setitem(responses.RESPONSES, "spin_density", _spin_density())
    out = {}
    for mz in (0.05, -0.05):
        path = tmp_path / f"m{mz}" / "run.toml"
        path.parent.mkdir()
        path.write_text(RUN.format(mz=mz), encoding="utf-8")
        out[mz] = run_config(path, progress=False)["spin_density"]
        outdir = path.parent / "results"
        files = sorted(p.name for p in outdir.iterdir())
        assert files == ["run_spin_density.csv", "run_spin_density.nc", "run_spin_density.png"]
        assert (outdir / "run_spin_density.png").stat().st_size > 10_000
        rows = _csv(outdir / "run_spin_density.csv")
        assert rows[0] == ["fermi_eV", "spin_x", "spin_y", "spin_z"]  # labelled, unique
        np.testing.assert_allclose(np.array(rows[1:], float)[:, 3], out[mz].sel(spin="z").values, rtol=1e-15)
    sz = out[0.05].sel(spin="z").values
    scale = np.abs(sz).max()
    assert scale > 1e-4 and out[0.05].attrs["units"] == "hbar/Å^2"
    np.testing.assert_allclose(out[-0.05].sel(spin="z").values, -sz, rtol=0, atol=1e-12 * scale)
    assert np.abs(out[0.05].sel(spin=["x", "y"]).values).max() < 1e-12 * scale
