"""k-resolved output: standard band paths, coloured bands and k-slice maps (properspin.bands, properspin.kpath)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import properspin as ps
from properspin import bands, geometry, kpath
from properspin.cli import main
from properspin.models.tight_binding import haldane

A = 3.9


def _labels(lattice, dim=None):
    return {s[0] for s in kpath.lattice_path(lattice, dim=dim)} | {s[2] for s in kpath.lattice_path(lattice, dim=dim)}


def test_standard_labels_and_points():
    fcc = A / 2 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    assert _labels(fcc) == {"Γ", "X", "U", "K", "L", "W"}
    points = {a: ka for a, ka, _, _ in kpath.lattice_path(fcc)} | {b: kb for _, _, b, kb in kpath.lattice_path(fcc)}
    np.testing.assert_allclose(np.sort(np.abs(points["X"])), [0, 0, 2 * math.pi / A], atol=1e-12)  # X = 2π/a (0,0,1)
    np.testing.assert_allclose(np.abs(points["L"]), [math.pi / A] * 3, atol=1e-12)  # L = π/a (1,1,1)
    bcc = A / 2 * np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]])
    assert _labels(bcc) == {"Γ", "H", "N", "P"}
    pts = {a: ka for a, ka, _, _ in kpath.lattice_path(bcc)} | {b: kb for _, _, b, kb in kpath.lattice_path(bcc)}
    np.testing.assert_allclose(np.linalg.norm(pts["H"]), 2 * math.pi / A, atol=1e-12)  # H = 2π/a (0,0,1)
    np.testing.assert_allclose(np.abs(pts["P"]), [math.pi / A] * 3, atol=1e-12)  # P = π/a (1,1,1)
    hexagonal = np.array([[A, 0, 0], [-A / 2, A * math.sqrt(3) / 2, 0], [0, 0, 1.6 * A]])
    assert _labels(hexagonal) == {"Γ", "M", "K", "A", "L", "H"}
    tetragonal = np.diag([A, A, 1.4 * A])
    assert _labels(tetragonal) == {"Γ", "X", "M", "Z", "R", "A"}
    # 2D: honeycomb Γ–M–K–Γ with |K| = 4π/3a, square Γ–X–M–Γ
    hc = haldane().lattice
    seg = kpath.lattice_path(hc)
    assert [s[0] for s in seg] == ["Γ", "M", "K"] and seg[-1][2] == "Γ"
    assert np.linalg.norm(seg[1][3]) == pytest.approx(4 * math.pi / 3)
    assert [s[0] for s in kpath.lattice_path(np.eye(2))] == ["Γ", "X", "M"]


def test_plot_default_path_uses_lattice_labels():
    from properspin.plotting import default_kpath

    labels = [name for name, _ in default_kpath(haldane().to_model())]
    assert labels == ["Γ", "M", "K", "Γ"]


def test_band_colours_equal_geometry_functions():
    model = ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.1))
    ds = bands.bands(model, "proper_spin", "z,z", fermi=0.0, npoints=20)
    k = np.stack([ds["kx"].values, ds["ky"].values], axis=1)
    g = geometry.band_geometry(model, k)
    np.testing.assert_allclose(ds["value"].values, geometry.proper_spin_curvature(g)[0, 2], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds["energy"].values, g.energies, atol=1e-12)
    assert json.loads(ds.attrs["labels"]) == ["Γ", "X", "M", "Γ"]
    spin = bands.bands(model, "spin", "x", npoints=20)
    np.testing.assert_allclose(spin["value"].values, g.spin_diagonal[0], atol=1e-12)
    conv = bands.bands(model, "conventional_spin", "z,y,x", npoints=20)
    np.testing.assert_allclose(conv["value"].values, geometry.conventional_spin_curvature(g)[2, 1, 0], atol=1e-12)


def test_kslice_integrates_to_the_chern_number():
    """Σ over one period of the occupied Ω map = 2π C: the map is the integrand of σ_xy = −C e²/h."""
    n = 48
    model = ps.models.qwz(1.0)  # lower band C = −1
    ds = bands.kslice(model, "berry", fermi=0.0, extent=math.pi, n=n + 1)
    occ = ds["occupied"].values[:-1, :-1]  # one period: drop the repeated edge
    step = 2 * math.pi / n
    chern = occ.sum() * step**2 / (2 * math.pi)
    assert chern == pytest.approx(-1.0, abs=1e-3)
    # k in 1/a, so Ω is in a² (C is a pure number only then); a continuum model keeps Å²
    assert ds["occupied"].attrs["units"] == ds.attrs["units"] == "a^2"
    assert bands.value_unit(ps.models.rashba(0.1, 0.5), "berry") == "Å^2"
    # the same integrand as the charge response on the same points
    res = ps.conductivity(model, "charge", fermi=0.0, mesh=ps.mesh.grid(n, shift=0.0))
    assert res.sel(current="x", field="y").item() == pytest.approx(-chern, abs=1e-3)


def test_bad_requests():
    model = ps.models.qwz(1.0)
    with pytest.raises(ValueError, match="unknown quantity"):
        bands.bands(model, "curvature")
    with pytest.raises(ValueError, match="needs a spin operator"):
        bands.bands(model, "spin")
    with pytest.raises(ValueError, match="only the curvature component z"):
        bands.bands(model, "berry", "x")
    with pytest.raises(ValueError, match="normal"):
        bands.kslice(model, "berry", normal="x")


def test_cli_bands_and_slice(tmp_path):
    cfg = tmp_path / "bhz.toml"
    cfg.write_text('[model]\nname = "bhz"\nparameters = { u = 1.0 }\nzeeman = [0.0, 0.0, 0.05]\n'
                   '[mesh]\nkind = "grid"\nn = 8\n[fermi]\nvalues = [0.1]\n')
    assert main(["bands", str(cfg), "-Q", "proper_spin", "-c", "z,z", "-n", "30"]) == 0
    png, nc = tmp_path / "results" / "bhz_bands.png", tmp_path / "results" / "bhz_bands.nc"  # [output] path
    assert png.stat().st_size > 10_000
    ds = xr.load_dataset(nc)
    assert ds.attrs["quantity"] == "proper_spin" and ds.attrs["fermi_eV"] == 0.1
    assert ds.attrs["units"] == "a^2 hbar"  # the lattice BHZ: k in 1/a
    out = tmp_path / "map.png"
    assert main(["bands", str(cfg), "--slice", "z=0", "-n", "21", "-o", str(out)]) == 0
    sl = xr.load_dataset(tmp_path / "map.nc")
    assert sl["occupied"].shape == (21, 21) and sl.attrs["normal"] == "z"
    assert main(["bands", str(cfg), "--slice", "q=x"]) == 2


def test_cli_bands_fermi_level_from_electrons(tmp_path):
    """[fermi] electrons = N sets E_F of `bands` (and of a run): the level holding N electrons per cell on the
    run's grid; for QWZ (2 bands, gapped at u = 1) one electron puts it mid-gap, where the run's Chern number is
    quantised; --relative draws E − E_F."""
    from properspin.config import fermi_energies, fermi_level, load_config, run_config

    cfg = tmp_path / "qwz.toml"
    cfg.write_text('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 24\n'
                   '[fermi]\nelectrons = 1\n[calculation]\nresponses = ["charge"]\n[output]\npath = "out"\n')
    conf = load_config(cfg)
    model = ps.models.qwz(u=1.0)
    ef = fermi_level(conf, model)
    assert fermi_energies(conf, model) == [ef]
    assert main(["bands", str(cfg), "-n", "20", "--relative"]) == 0
    ds = xr.load_dataset(tmp_path / "out" / "qwz_bands.nc")
    assert ds.attrs["fermi_eV"] == pytest.approx(ef)
    assert ds["energy"].values[:, 0].max() < ef < ds["energy"].values[:, 1].min()  # in the gap
    res = run_config(cfg, progress=False)["charge"]
    assert res.fermi.values.tolist() == [ef]
    assert abs(res.sel(current="x", field="y").item()) == pytest.approx(1.0, abs=0.05)  # |C| = 1 in e²/h


# ------------------------------------------------------------------------------------------ native Wannier90 runs
W90 = Path(__file__).parents[1] / ".." / "shared" / "data" / "wannier90"
needs_runs = pytest.mark.skipif(not ((W90 / "Pt" / "Pt.win").is_file() and (W90 / "Fe" / "Fe.win").is_file()),
                                reason=f"real-data runs {W90}/Pt, {W90}/Fe absent (no ../shared/data)")


def _one_point(model, response, k, fermi, tol=1e-6):
    """The response summed at one k-point with weight 1 (T = 0): factor · Σ_{ε_m < E_F} Q_m(k)."""
    return ps.conductivity(model, response, fermi=[fermi], mesh=ps.mesh.explicit(k[None], [1.0], periodic=True),
                           degeneracy_tol=tol)


@needs_runs
def test_cli_bands_of_a_native_run(tmp_path):
    """`properspin bands` on [model.wannier90_run]: fcc labels from Pt.win, E_F from the .win, the run file's
    conventional_spin parameters (qiao, η) unless --method/--broadening say otherwise, PNG + netCDF; the coloured
    values are the geometry functions at those k and, summed over occupied bands, the response at that k."""
    from properspin.models import wannier90_run

    cfg = tmp_path / "pt.toml"
    cfg.write_text(f'[model.wannier90_run]\nseedname = "{W90 / "Pt" / "Pt"}"\n[calculation]\n'
                   'responses = ["conventional_spin"]\ndegeneracy_tol = 1e-7\n'
                   '[calculation.parameters.conventional_spin]\nmethod = "qiao"\nbroadening = 0.1\n')
    assert main(["bands", str(cfg), "-Q", "conventional_spin", "-n", "10"]) == 0
    assert (tmp_path / "results" / "pt_bands.png").stat().st_size > 10_000
    ds = xr.load_dataset(tmp_path / "results" / "pt_bands.nc")
    assert json.loads(ds.attrs["labels"]) == ["Γ", "X", "U|K", "Γ", "L", "W", "X"]
    assert ds.attrs["fermi_eV"] == 18.3823 and ds.attrs["component"] == "z,x,y" and ds.attrs["kramers_pair_mean"] == 0
    assert json.loads(ds.attrs["quantity_parameters"]) == {"method": "qiao", "broadening": 0.1, "eigval_max": math.inf}
    pt = wannier90_run(W90 / "Pt" / "Pt")
    k = np.stack([ds["kx"].values, ds["ky"].values, ds["kz"].values], axis=1)
    g = geometry.band_geometry(pt, k, 1e-7)
    qiao = geometry.conventional_spin_curvature(g, 0.1, "qiao")[2, 0, 1]
    np.testing.assert_allclose(ds["value"].values, qiao, rtol=1e-9, atol=1e-9 * np.abs(qiao).max())
    np.testing.assert_allclose(ds["energy"].values, g.energies, atol=1e-10)
    resp = ps.responses.get("conventional_spin", method="qiao", broadening=0.1)
    i = 7  # a generic point on Γ–X
    one = _one_point(pt, resp, k[i], 18.3823, 1e-7).sel(spin="z", current="x", field="y").item()
    occupied = ds["value"].values[i][ds["energy"].values[i] < 18.3823].sum()
    assert one == pytest.approx(resp.factor(3) * occupied, rel=1e-10)
    # --method simple --broadening 0.05 override the file; --kramers shows pair means
    out = tmp_path / "simple.png"
    assert main(["bands", str(cfg), "-Q", "conventional_spin", "--method", "simple", "--broadening", "0.05",
                 "--kramers", "-n", "10", "-o", str(out)]) == 0
    simple = xr.load_dataset(tmp_path / "simple.nc")
    assert json.loads(simple.attrs["quantity_parameters"])["method"] == "simple"
    per_band = geometry.conventional_spin_curvature(g, 0.05, "simple")[2, 0, 1]
    pairs = per_band.reshape(len(k), -1, 2).mean(axis=2)
    np.testing.assert_allclose(simple["value"].values[:, ::2], pairs, atol=1e-9 * np.abs(pairs).max())
    np.testing.assert_allclose(simple["value"].values[:, 1::2], pairs, atol=1e-9 * np.abs(pairs).max())
    assert main(["bands", str(cfg), "-Q", "berry", "--method", "qiao"]) == 2  # conventional_spin only


@needs_runs
def test_bands_berry_of_native_fe():
    """bcc Fe: Γ–H–N–Γ–P–H|P–N from Fe.win; Ω^z per band summed over occupied bands is −σ_xy at that k."""
    from properspin.models import wannier90_run

    fe = wannier90_run(W90 / "Fe" / "Fe")
    ds = bands.bands(fe, "berry", "z", fermi=12.6279, npoints=8)
    assert json.loads(ds.attrs["labels"]) == ["Γ", "H", "N", "Γ", "P", "H|P", "N"]
    k = np.stack([ds["kx"].values, ds["ky"].values, ds["kz"].values], axis=1)
    i = 5
    hall = _one_point(fe, "charge", k[i], 12.6279).sel(current="x", field="y").item()
    occupied = ds["value"].values[i][ds["energy"].values[i] < 12.6279].sum()
    assert occupied != 0 and hall == pytest.approx(-ps.responses.get("charge").factor(3) * occupied, rel=1e-9)
    with pytest.raises(ValueError, match="needs a spin operator.*Fe.spn not found"):
        bands.bands(fe, "spin")
