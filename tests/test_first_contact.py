"""Messages a new user meets (issue 24): several configuration problems one per line (no literal "\\n"), the
public name of a mesh in errors, the [kp] extra named when sympy is missing."""

from __future__ import annotations

import builtins

import pytest

import properspin as ps
from properspin.cli import main


def test_several_config_errors_print_one_per_line(tmp_path, capsys):
    cfg = tmp_path / "kp.toml"
    cfg.write_text('[model.kp]\nhamiltonian = "kx"\n')
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "\\n" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "model.kp.matrix: missing required key" in lines[0]
    assert "model.kp.hamiltonian: unknown key" in lines[1]


def test_mesh_errors_name_the_public_function():
    with pytest.raises(ValueError, match=r"^mesh\.grid is a periodic Brillouin-zone mesh") as info:
        ps.conductivity(ps.models.rashba(alpha=1.0, mass=1.0), "charge", fermi=[0.0], mesh=ps.mesh.grid(8))
    assert "_GridSpec" not in str(info.value)
    with pytest.raises(ValueError, match=r"^mesh\.grid is 3-dimensional, model is 2D"):
        ps.conductivity(ps.models.qwz(1.0), "charge", fermi=[0.0], mesh=ps.mesh.grid(8, dim=3))


def test_cli_names_the_kp_extra_without_sympy(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "kp.toml"
    cfg.write_text('[model.kp]\nmatrix = [["kx", "0"], ["0", "-kx"]]\n[mesh]\nkind = "disk"\nradius = 0.5\n'
                   'nk = 10\nnphi = 8\n[fermi]\nvalues = [0.0]\n[calculation]\nresponses = ["charge"]\n')
    real_import = builtins.__import__

    def no_sympy(name, *args, **kwargs):
        if name == "sympy" or name.startswith("sympy."):
            raise ModuleNotFoundError("No module named 'sympy'", name="sympy")
        return real_import(name, *args, **kwargs)

    import sys

    for mod in [m for m in sys.modules if m == "sympy" or m.startswith("sympy.") or m == "properspin.models.kp"]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_sympy)
    assert main(["run", str(cfg), "-o", str(tmp_path / "out")]) == 2  # a configuration error naming the extra
    err = capsys.readouterr().err
    assert "pip install 'properspin[kp]'" in err and "Traceback" not in err


def test_fe_example_says_which_numbers_are_converged():
    """Before: examples/fe_anomalous_hall.py printed σ^z_xy on one 40³ grid (−1226) beside converged-looking
    numbers, without a word (the convergence script gives −4038 / −5312 on 32³ / 48³)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "fe_anomalous_hall.py"
    spec = importlib.util.spec_from_file_location("fe_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [("sigma_xy uniform 30^3", "S/cm", 700.0, 1.0), ("sigma_xy uniform 50^3", "S/cm", 760.0, 1.0),
            ("sigma_xy uniform 80^3", "S/cm", 750.0, 1.0), ("proper_spin sigma^z_xy 40^3", "(hbar/2e) S/m", -1226, 1)]
    notes = module.verdicts(rows, [30, 50, 80])
    assert notes[2].startswith("converged (last two grids 50³/80³ differ by 1.3 %)")
    assert notes[3].startswith("one mesh: not converged")
    rows[2] = ("sigma_xy uniform 80^3", "S/cm", 900.0, 1.0)
    assert module.verdicts(rows, [30, 50, 80])[2].startswith("not converged (last two grids 50³/80³ differ by 15.6 %)")


def test_info_reads_bands_files_and_prints_result_values(tmp_path, capsys):
    """Before: `info` refused the netCDF `bands` writes and never printed σ.  QWZ at u = 1 with one electron: the
    Hall conductivity at E_F (mid-gap) is the Chern number, |σ_xy| ≈ 1 e²/h."""
    import numpy as np

    cfg = tmp_path / "qwz.toml"
    cfg.write_text('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 24\n'
                   '[fermi]\nvalues = [-3.5, 0.0, 3.5]\n[calculation]\nresponses = ["charge"]\n'
                   '[output]\npath = "out"\nformats = ["netcdf"]\n')
    assert main(["bands", str(cfg), "-n", "12", "--fermi", "0"]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "out" / "qwz_bands.nc")]) == 0
    out = capsys.readouterr().out
    assert "bands along a path: berry component z" in out and "E_F = 0.0 eV" in out and "2 bands" in out
    assert main(["run", str(cfg), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "out" / "qwz_charge.nc")]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.strip().startswith("x,y"))
    values = np.array(line.split()[1:], dtype=float)
    assert abs(values[0]) < 1e-9 and abs(values[2]) < 1e-9  # below and above both bands: 0
    assert abs(abs(values[1]) - 1.0) < 0.05  # mid-gap: |C| = 1


def test_result_files_name_inputs_by_file_name_and_hash_not_absolute_path(tmp_path):
    import dataclasses
    import hashlib

    from properspin import io

    data = tmp_path / "deep" / "Fe_tb.dat"
    data.parent.mkdir()
    data.write_bytes(b"tight-binding data")
    model = ps.models.qwz(1.0)
    model = dataclasses.replace(model, parameters={**model.parameters, "path": str(data)},
                                info={**model.info, "files": {"tb": str(data)}, "note": f"read from {data}"})
    res = ps.conductivity(model, "charge", fermi=[0.0], mesh=ps.mesh.grid(6))
    io.save(res, tmp_path / "r.nc")
    text = (tmp_path / "r.nc").read_bytes()
    assert str(tmp_path).encode() not in text
    digest = hashlib.sha256(b"tight-binding data").hexdigest()[:16]
    back = io.load(tmp_path / "r.nc")
    assert f"Fe_tb.dat (sha256 {digest})" in back.attrs["model_parameters"]
    assert f"read from Fe_tb.dat (sha256 {digest})" in back.attrs["model_info"]


def test_cli_warnings_are_one_line_once_per_run_with_a_pointer(tmp_path, capsys):
    """Before: BHZ + Rashba printed a ~1500-character degeneracy warning for every response of the run."""
    import warnings

    from properspin import cli
    from properspin.calculation import UnresolvedDegeneracyWarning

    long = ("bhz: isolated band touching(s) below the highest Fermi energy: " + "k = (0, 0) bands 1-2; " * 60
            + ". In 2D such a point carries a δ-function of pair Berry curvature. Decide which you mean.")
    line = cli.warning_line(long, UnresolvedDegeneracyWarning)
    assert "\n" not in line and len(line) < 300 and line.endswith("(more: docs/conventions.md §3)")
    assert "Decide" not in line and "…" in line

    def fake(args):
        for n in (3, 5):  # the same warning from two responses, with different counts
            warnings.warn(f"{n} of 64 k-points have near-degenerate band pairs. Lift them.",
                          UnresolvedDegeneracyWarning, stacklevel=1)
        return 0

    cli._COMMANDS["fake"] = fake
    try:
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("command")
        original = cli._parser
        cli._parser = lambda: parser
        assert cli.main(["fake"]) == 0
    finally:
        cli._parser = original
        del cli._COMMANDS["fake"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: UnresolvedDegeneracyWarning: 3 of 64 k-points")
