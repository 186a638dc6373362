"""No silent number (issue 25, second hostile round): each case here returned a wrong or plausible number without
a word before; each test failed on that code (docstrings say what it gave) and now asserts a clear refusal naming
the argument or file, and, next to it, the physical number that the accepted input still gives."""

from __future__ import annotations

import csv
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import properspin as ps
from properspin import io, mesh, models
from properspin.cli import main
from properspin.models.wannier.native import read_chk, write_chk_unformatted

from .w90files import copy_run, write_run

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ complex k
def test_complex_k_is_refused_not_cut_to_its_real_part():
    """Before: a complex k array returned the energies at k = (0.3, 0) (numpy dropped 5j with a ComplexWarning that
    nobody reads); a list of complex numbers raised a bare TypeError."""
    model = models.qwz(1.0)
    for k in (np.array([[0.3 + 5j, 0.0]]), [[0.3 + 5j, 0.0]], np.array([[0.3 + 0j, 0.0]])):
        with pytest.raises(ValueError, match="k must be real, got complex"):
            model.energies(k)
    with pytest.raises(ValueError, match="explicit mesh k must be real"):
        mesh.explicit(np.array([[0.3 + 5j, 0.0]]), np.array([1.0]), periodic=True)
    e = model.energies([[0.3, 0.0]])  # real k: ±|d(k)| of QWZ, d = (sin kx, sin ky, u + cos kx + cos ky)
    d = math.sqrt(math.sin(0.3) ** 2 + (1 + math.cos(0.3) + 1) ** 2)
    np.testing.assert_allclose(e[0], [-d, d], rtol=1e-12)


# ------------------------------------------------------------------------------------------ thermal window
def test_thermal_window_reaching_the_cutoff_is_refused():
    """Before: T = 1e30 K on a cutoff mesh gave −0.4995 e/8π silently (the Fermi function spans every band on the
    cutoff).  A temperature whose window stays inside the cutoff is kept and tends to the T = 0 value."""
    model = models.rashba(1.0, 1.0, zeeman=(0, 0, 0.01))
    disk = mesh.disk(1.0, 120, 16)
    with pytest.raises(ValueError, match="thermal window.* lies above every band on the cutoff"):
        ps.conductivity(model, "proper_spin", fermi=0.1, mesh=disk, temperature=1e30)
    with pytest.raises(ValueError, match=r"widened by 20 k_BT"):
        ps.conductivity(model, "proper_spin", fermi=0.1, mesh=disk, temperature=2000.0)  # 20 k_BT = 3.4 eV
    cold = ps.conductivity(model, "proper_spin", fermi=0.1, mesh=disk).sel(spin="z", current="x", field="y").item()
    warm = ps.conductivity(model, "proper_spin", fermi=0.1, mesh=disk, temperature=1.0)
    assert warm.sel(spin="z", current="x", field="y").item() == pytest.approx(cold, rel=1e-2)


# ------------------------------------------------------------------------------------------ result files
def _flip_first_value(path: Path, value: float) -> None:
    data = bytearray(path.read_bytes())
    where = bytes(data).find(np.float64(value).tobytes())
    assert where > 0
    data[where + 3] ^= 0x10  # one bit of the mantissa: a plausible number
    path.write_bytes(bytes(data))


def test_netcdf_with_a_flipped_data_byte_is_refused(tmp_path, capsys):
    """Before: the damaged file loaded and ``info`` exited 0.  The QWZ Chern plateau σ_xy = 1 e²/h survives a
    round trip bit for bit; one flipped byte in it is caught by the content digest."""
    res = ps.conductivity(models.qwz(1.0), "charge", fermi=[0.0, 0.05], mesh=mesh.grid(24))
    path = io.save(res, tmp_path / "r.nc")
    back = io.load(path)
    np.testing.assert_array_equal(back.values, res.values)
    assert back.sel(current="x", field="y").values[0] == pytest.approx(1.0, abs=1e-3)
    _flip_first_value(path, float(res.values.ravel()[np.argmax(np.abs(res.values))]))
    with pytest.raises(ValueError, match="do not match the file's content digest"):
        io.load(path)
    assert main(["info", str(path)]) != 0
    err = capsys.readouterr().err
    assert "content digest" in err and "Traceback" not in err


def test_csv_columns_of_a_part_dimension_are_unique(tmp_path):
    """Before: the ac response's re and im parts were both written as ``sigma_y_zx`` (pandas read one of them)."""
    model = models.rashba(1.0, 1.0, zeeman=(0.0, 0.0, 0.02))
    resp = ps.responses.get("conventional_spin_ac", frequency=0.05, broadening=0.01)
    res = ps.conductivity(model, resp, fermi=[0.1], mesh=mesh.disk(1.0, 40, 16))
    assert res.sizes["part"] == 2
    path = io.to_csv(res, tmp_path / "ac.csv")
    rows = [r for r in csv.reader(line for line in path.read_text().splitlines() if not line.startswith("#"))]
    header, values = rows[0], [float(x) for x in rows[1]]
    assert len(header) == len(set(header)) == 1 + res.size
    for part in ("re", "im"):
        col = header.index(f"sigma_z_xy_part_{part}")
        assert values[col] == res.sel(part=part, spin="z", current="x", field="y").item()
    assert res.sel(part="re", spin="z", current="x", field="y").item() != res.sel(
        part="im", spin="z", current="x", field="y").item()


# ------------------------------------------------------------------------------------------ native Wannier90
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("syn"))


@pytest.mark.parametrize("damage", ["zero", "scaled"])
def test_non_unitary_u_matrix_in_the_checkpoint_is_refused(synthetic, tmp_path, damage):
    """Before: an all-zero u_matrix gave σ_xy = 3e-12 instead of 1968 S/m on Fe (every operator zero)."""
    seed = copy_run(synthetic, tmp_path)
    chk = read_chk(seed + ".chk.fmt")
    u = chk.u_matrix.copy()
    u[3] = 0 if damage == "zero" else 1.01 * u[3]
    write_chk_unformatted(replace(chk, u_matrix=u), seed + ".chk")  # read before the .chk.fmt
    with pytest.raises(ValueError, match=r"syn\.chk: u_matrix of k-point 4 is not unitary"):
        ps.models.wannier90_run(seed)


def test_non_ascending_eig_is_refused_with_its_line(synthetic, tmp_path):
    """Before: an .eig whose energies were not ascending at one k-point gave σ_xy = −6439 S/m silently."""
    seed = copy_run(synthetic, tmp_path)
    path = Path(seed + ".eig")
    lines = path.read_text().splitlines()
    a, b = lines[4].split(), lines[5].split()  # bands 1, 2 of k-point 2 (4 bands per k-point)
    lines[4], lines[5] = f"{a[0]} {a[1]} {b[2]}", f"{b[0]} {b[1]} {a[2]}"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"syn\.eig, line 6: energy .* of band 2 at k-point 2 is below band 1"):
        ps.models.wannier90_run(seed)


def test_scissors_that_would_be_dropped_are_refused_through_the_api(synthetic):
    """Before: ``scissors_shift=nan`` or ``num_valence_bands=0`` (API) silently meant "no scissors"."""
    seed = synthetic["seedname"]
    with pytest.raises(ValueError, match="scissors_shift must be a finite number, got nan"):
        ps.models.wannier90_run(seed, scissors_shift=math.nan, num_valence_bands=2)
    with pytest.raises(ValueError, match="num_valence_bands must be a positive integer, got 0"):
        ps.models.wannier90_run(seed, scissors_shift=0.7, num_valence_bands=0)
    with pytest.raises(ValueError, match="scissors_shift = 0.7 eV needs num_valence_bands"):
        ps.models.wannier90_run(seed, scissors_shift=0.7)
    shifted = ps.models.wannier90_run(seed, scissors_shift=0.7, num_valence_bands=2)
    q = synthetic["kfrac"] @ shifted.reciprocal  # exact at the ab-initio k-points: conduction bands up by 0.7 eV
    np.testing.assert_allclose(shifted.energies(q), synthetic["eig"] + 0.7 * (np.arange(4) >= 2), atol=1e-10)


# ------------------------------------------------------------------------------------------ parameters
def test_eigval_max_minus_infinity_is_refused():
    """Before: −inf meant "no limit" (as +inf), 4.00 instead of the 0 that any finite value below the bands gives."""
    with pytest.raises(ValueError, match="eigval_max must be a number in eV or \\+inf"):
        ps.responses.get("conventional_spin", eigval_max=-math.inf)
    model = models.rashba(1.0, 1.0, zeeman=(0, 0, 0.02))
    low = ps.conductivity(model, ps.responses.get("conventional_spin", eigval_max=-5.0), fermi=0.1,
                          mesh=mesh.disk(1.0, 40, 16))
    assert np.all(low.values == 0)  # every pair has a band above −5 eV: dropped


def test_symmetry_tolerance_that_accepts_anything_is_refused():
    """Before: ``symmetry_tol=1e6`` accepted a group the model breaks and gave σ_xy = 0 (28949 S/m on the full grid)."""
    from properspin.symmetry import Structure

    cubic = Structure(np.eye(3), [[0, 0, 0]], ["X"])
    for tol in (1e6, 1.0, math.nan, 0.0):
        with pytest.raises(ValueError, match="symmetry_tol must be a relative tolerance in \\(0, 1\\)"):
            mesh.grid(4, symmetry=cubic, symmetry_tol=tol)
    mesh.grid(4, symmetry=cubic, symmetry_tol=0.5)  # the Pt runs' documented value stays allowed


def test_run_file_symmetry_tolerance_that_accepts_anything_is_refused(tmp_path):
    from properspin.config import ConfigError, run_config

    cfg = tmp_path / "sym.toml"
    cfg.write_text('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 8\n'
                   '[mesh.symmetry]\npositions = [[0.0, 0.0]]\nspecies = ["X"]\ntolerance = 1e6\n'
                   '[fermi]\nvalues = [0.0]\n[calculation]\nresponses = ["charge"]\n')
    with pytest.raises(ConfigError, match="mesh.symmetry.tolerance: expected a number < 1.0, got 1000000.0"):
        run_config(cfg)


# ------------------------------------------------------------------------------------------ hole wells
def test_hole_well_above_its_barrier_top_or_kept_subbands_is_refused():
    """Before: E_F = 0.5 eV in a well whose barrier top is 0.1875 eV gave −10.15 e/8π; ``nsub=1`` at 0.2 eV used
    a model without the occupied higher subbands."""
    well = models.hole_quantum_well("GaAs", barrier=0.2)
    top = well.info["fermi_limit"]["energy_eV"]
    assert top == pytest.approx(well.info["confinement"]["barrier_top_eV"]) and 0 < top < 0.2
    disk = mesh.disk(0.2, 30, 8)
    with pytest.raises(ValueError, match="barrier top"):
        ps.conductivity(well, "proper_spin", fermi=[0.001, 0.5], mesh=disk)
    one = models.hole_quantum_well("GaAs", method="subbands", nsub=1, nbasis=12, barrier=math.inf)
    edge = one.info["fermi_limit"]["energy_eV"]
    assert edge == pytest.approx(max(one.info["subband_edges_eV"].values()), abs=1e-3)
    with pytest.raises(ValueError, match="highest kept subband edge"):
        ps.conductivity(one, "proper_spin", fermi=edge + 0.01, mesh=disk)


# ------------------------------------------------------------------------------------------ bands command
@pytest.mark.parametrize("extra, message", [
    (["--fermi", "nan"], "fermi must be a finite number, got nan"),
    (["-n", "0"], "npoints must be a positive integer, got 0"),
    (["--slice", "z=nan"], "--slice expects AXIS=VALUE with a finite VALUE"),
    (["--slice", "z=0", "-n", "100000"], "more than the limit"),
])
def test_bands_refuses_nan_fermi_zero_points_and_nan_slices(tmp_path, capsys, extra, message):
    """Before: ``bands --fermi nan`` drew a map of zeros and exited 0; ``-n 0`` meant the default 120 points."""
    cfg = tmp_path / "qwz.toml"
    shutil.copy(ROOT / "examples" / "qwz.toml", cfg)
    assert main(["bands", str(cfg), *extra]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.png"))
