"""Result files: netCDF round trip, atomic writes, CSV layout and numbers, PNG plots."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import xarray as xr

import properspin as ps
from properspin import io, mesh, models
from properspin.plotting import default_kpath, plot_result

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def spin_result():
    model = models.rashba(alpha=0.3, mass=1.0, zeeman=(0, 0, 1e-3))
    return ps.conductivity(model, "proper_spin", fermi=[0.3, -0.01, 0.1], mesh=mesh.disk(0.6, 60, 16))


@pytest.fixture(scope="module")
def charge_result():
    return ps.conductivity(models.qwz(1.0), "charge", fermi=np.linspace(-1, 1, 5), mesh=mesh.grid(24))


@pytest.fixture(scope="module")
def sweep_result():
    model = models.rashba(alpha=0.3, mass=1.0, zeeman=(0, 0, 1e-3))
    return ps.conductivity(model, "appendix_c", fermi=[0.0, 0.1], mesh=mesh.disk(0.6, 40, 8),
                           temperature=[0.0, 300.0])


@pytest.mark.parametrize("name", ["spin_result", "charge_result", "sweep_result"])
def test_netcdf_round_trip_is_identical(name, request, tmp_path):
    result = request.getfixturevalue(name)
    path = io.save(result, tmp_path / "sub" / "r.nc")
    back = io.load(path)
    xr.testing.assert_identical(back, result)
    assert back.attrs["units"] == result.attrs["units"]
    assert back["fermi"].attrs["units"] == "eV"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["r.nc"]  # no temporary left behind


def test_save_replaces_atomically_and_keeps_old_file_on_failure(spin_result, charge_result, tmp_path, monkeypatch):
    path = tmp_path / "r.nc"
    io.save(spin_result, path)
    io.save(charge_result, path)  # overwrite
    xr.testing.assert_identical(io.load(path), charge_result)

    def broken(self, target=None, **kwargs):
        if target is not None:
            open(target, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataArray, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        io.save(spin_result, path)
    monkeypatch.undo()
    xr.testing.assert_identical(io.load(path), charge_result)  # the old result survives
    assert [p.name for p in tmp_path.iterdir()] == ["r.nc"]


def test_save_encodes_non_netcdf_attributes(charge_result, tmp_path):
    res = charge_result.copy()
    res.attrs = dict(res.attrs, extra={"a": [1, 2]}, flag=True)
    back = io.load(io.save(res, tmp_path / "r.nc"))
    assert back.attrs["extra"] == '{"a": [1, 2]}' and back.attrs["flag"] == 1


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such result file"):
        io.load(tmp_path / "missing.nc")
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(ValueError, match="not a properspin netCDF result"):
        io.load(tmp_path / "junk.nc")


def _read_csv(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [ln for ln in lines if ln.startswith("#")]
    rows = list(csv.reader(ln for ln in lines if not ln.startswith("#")))
    return comments, rows[0], np.array(rows[1:], dtype=float)


def test_csv_header_columns_and_numbers(spin_result, tmp_path):
    comments, header, table = _read_csv(io.to_csv(spin_result, tmp_path / "r.csv"))
    assert any(c.startswith("# units: e/8pi") for c in comments)
    assert "# model: rashba" in comments
    assert any(c.startswith("# model_parameters: ") and "alpha_eVA" in c for c in comments)
    assert header[0] == "fermi_eV" and len(header) == 1 + 3 * 2 * 2
    assert header[1:4] == ["sigma_x_xx", "sigma_x_xy", "sigma_x_yx"] and "sigma_z_yx" in header
    np.testing.assert_array_equal(table[:, 0], [0.3, -0.01, 0.1])  # the result's order, one row per E_F
    col = table[:, header.index("sigma_z_yx")]
    np.testing.assert_array_equal(col, spin_result.sel(spin="z", current="y", field="x").values)  # exact
    assert col[0] == pytest.approx(-1.0, abs=2e-3)


def test_csv_charge_and_temperature_sweep(charge_result, sweep_result, tmp_path):
    _, header, table = _read_csv(io.to_csv(charge_result, tmp_path / "c.csv"))
    assert header == ["fermi_eV", "sigma_xx", "sigma_xy", "sigma_yx", "sigma_yy"]
    np.testing.assert_array_equal(table[:, 2], charge_result.sel(current="x", field="y").values)

    comments, header, table = _read_csv(io.to_csv(sweep_result, tmp_path / "t.csv"))
    assert header[:3] == ["temperature_K", "fermi_eV", "C6_sigma_x_xx"] and "C24_sigma_z_yx" in header
    assert table.shape == (4, 2 + 4 * 12)
    np.testing.assert_array_equal(table[:, 0], [0, 0, 300, 300])
    want = sweep_result.sel(term="C11", spin="z", current="y", field="x").values.ravel()
    np.testing.assert_array_equal(table[:, header.index("C11_sigma_z_yx")], want)
    assert any("temperature_K in K" in c for c in comments)


def _is_png(path):
    data = path.read_bytes()
    return data[:8] == PNG_SIGNATURE and len(data) > 10_000


def test_plot_result_png_with_and_without_bands(spin_result, charge_result, tmp_path):
    assert _is_png(plot_result(spin_result, tmp_path / "a.png"))
    model = models.qwz(1.0)
    assert _is_png(plot_result(charge_result, tmp_path / "b.png", components=["x,y"],
                               bands=(model, default_kpath(model))))
    with pytest.raises(ValueError, match="needs 2 labels"):
        plot_result(charge_result, tmp_path / "c.png", components=["z,y,x"])
    with pytest.raises(ValueError, match="current must be one of"):
        plot_result(charge_result, tmp_path / "c.png", components=["q,y"])


def test_default_components_are_the_hall_ones(spin_result, charge_result):
    from properspin.plotting import default_components

    assert default_components(spin_result) == [{"spin": "z", "current": "y", "field": "x"}]
    assert default_components(charge_result) == [{"current": "x", "field": "y"}]


def test_torque_density_labels_come_from_the_dimensions(tmp_path):
    """A (spin, field) result is a torque density whatever the response's name: CSV columns torque_l_j, the
    symbol t^l_j, and the values as computed."""
    from properspin.plotting import symbol

    model = models.rashba(alpha=0.3, mass=1.0, zeeman=(0, 0, 1e-3))
    res = ps.conductivity(model, "torque", fermi=[0.1], mesh=mesh.disk(0.6, 20, 8))
    renamed = res.copy()
    renamed.attrs["response"] = "my_torque"
    for r in (res, renamed):
        path = io.to_csv(r, tmp_path / f"{r.attrs['response']}.csv")
        rows = [row for row in csv.reader(line for line in path.read_text().splitlines() if not line.startswith("#"))]
        assert rows[0][-6:] == [f"torque_{l}_{j}" for l in "xyz" for j in "xy"]
        assert float(rows[1][rows[0].index("torque_z_x")]) == pytest.approx(float(r.sel(spin="z", field="x")[0]))
        assert symbol(r, {"spin": "y", "field": "x"}) == "$t^{y}_{x}$"
