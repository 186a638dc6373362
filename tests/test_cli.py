"""The ``properspin`` command end to end: every example, info, models, plot, reproduce, help, errors."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from properspin import io, registry
from properspin.cli import main

from .conftest import FE

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PT_WIN = ROOT.parent / "shared" / "data" / "wannier90" / "Pt" / "Pt.win"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def zyx(result):
    return result.sel(spin="z", current="y", field="x")


def _qwz(r):
    assert r["charge"].attrs["units"] == "e^2/h"
    # u = 1: C = −1, σ_xy = −C e²/h = +1 in the gap (|E| < 1 for u = 1), 0 far outside the bands
    assert r["charge"].sel(current="x", field="y", fermi=0.0).item() == pytest.approx(1.0, abs=1e-6)
    assert r["charge"].sel(current="x", field="y", fermi=3.5).item() == pytest.approx(0.0, abs=1e-9)


def _massive_dirac(r):
    sxy = r["charge"].sel(current="x", field="y")
    cut = 1 - 0.1 / np.hypot(10.0, 0.1)  # filled band up to the cutoff K = 10 Å⁻¹
    assert sxy.sel(fermi=0.0).item() == pytest.approx(-0.5 * cut, abs=1e-4)
    assert sxy.sel(fermi=0.2).item() == pytest.approx(-0.5 * (0.1 / 0.2 - 0.1 / np.hypot(10.0, 0.1)), abs=1e-4)
    assert r["proper_spin"].attrs["units"] == "e/8pi"


def _rashba(r):
    conv, proper, dipole = (zyx(r[k]).sel(fermi=slice(0.05, None)) for k in
                            ("conventional_spin", "proper_spin", "torque_dipole"))
    assert r["proper_spin"].attrs["units"] == "e/8pi"
    np.testing.assert_allclose(conv, 1.0, atol=0.06)  # Sinova's +e/8π (coarse mesh)
    np.testing.assert_allclose(proper, -1.0, atol=3e-3)
    np.testing.assert_allclose(dipole, proper - conv, atol=1e-10)


def _rashba_definition(r):
    """Shi's conserved current of the Rashba gas, both routes: −e/8π = −(conventional) with both subbands occupied,
    −2 × conventional with the lower one only (docs/physics.md, "Metals")."""
    conv, kubo, streda = (zyx(r[k]) for k in ("conventional_spin", "conserved_spin_metal",
                                               "conserved_spin_streda_metal"))
    assert r["conserved_spin_metal"].attrs["units"] == "e/8pi"
    np.testing.assert_allclose(kubo.sel(fermi=[0.05, 0.2]), -1.0, atol=1e-4)
    np.testing.assert_allclose(streda, kubo, atol=2e-3)  # two routes from the definition
    lower = kubo.sel(fermi=-0.02).item() / conv.sel(fermi=-0.02).item()
    assert lower == pytest.approx(-2.0, abs=0.03)


def _rashba_kp(r):
    conv, proper = zyx(r["conventional_spin"]), zyx(r["proper_spin"])
    assert r["proper_spin"].attrs["model"] == "rashba_text"
    assert conv.sel(fermi=0.1).item() == pytest.approx(1.0, abs=0.03)  # conventional σ^z_yx ≈ +1 e/8π
    np.testing.assert_allclose(proper.sel(fermi=[0.1, 0.2, 0.3]), -1.0, atol=1e-3)
    assert proper.sel(fermi=-0.005).item() == pytest.approx(0.0, abs=0.02)  # below both bands (≈ 0)


def _bhz(r):
    for name in ("proper_spin", "conventional_spin"):
        np.testing.assert_allclose(zyx(r[name]).sel(fermi=[-0.5, 0.0, 0.5]), 4.0, atol=1e-6)  # e/2π


def _topological_insulator(r):
    res = r["proper_spin"]
    assert res.attrs["units"] == "(hbar/2e) S/m"
    yzx = res.sel(spin="y", current="z", field="x")
    assert 100 < yzx.sel(fermi=0.0).item() < 1e5  # finite in the bulk gap …
    assert yzx.sel(fermi=0.2).item() == pytest.approx(yzx.sel(fermi=0.0).item(), rel=1e-9)  # … and flat there
    assert abs(res.sel(spin="x", current="z", field="x", fermi=0.0).item()) < 1e-6 * yzx.sel(fermi=0.0).item()


def _topological_insulator_lattice(r):
    res = r["proper_spin"]
    assert res.attrs["units"] == "(hbar/2e) S/m" and res.attrs["degenerate_treatment"].startswith("block_trace")
    yzx = res.sel(spin="y", current="z", field="x")
    assert yzx.sel(fermi=0.2).item() == pytest.approx(yzx.sel(fermi=0.0).item(), rel=1e-9)  # flat in the gap
    assert yzx.sel(fermi=1.0).item() != pytest.approx(yzx.sel(fermi=0.0).item(), rel=1e-3)  # conduction band
    assert np.abs(res.sel(spin="x", current="z", field="x").values).max() < 1e-6 * np.abs(yzx.values).max()


def _hole_quantum_well(r):
    res = r["proper_spin"]
    assert res.attrs["units"] == "e/8pi" and res.attrs["model"] == "hole_quantum_well(GaAs)"
    assert "subband_edges_eV" in res.attrs["model_info"]  # conventions §5.2: edges travel with the result
    proper, conv = zyx(res).sel(fermi=0.03).item(), zyx(r["conventional_spin"]).sel(fermi=0.03).item()
    assert np.isfinite(proper) and abs(proper) > 1.0
    assert abs(proper - conv) > 1.0  # a finite torque dipole in the hole gas


def _wannier_fe(r):
    res = r["charge"]
    assert res.attrs["units"] == "S/m"
    assert 100 < abs(res.sel(current="x", field="y", fermi=17.69).item()) / 100 < 2000  # S/cm, coarse grid


def _wannier90_pt_shc(r):
    res = r["conventional_spin"]
    assert res.attrs["units"] == "(hbar/e) S/cm"
    sxy = res.sel(spin="z", current="x", field="y", fermi=18.3823).item()
    assert 1000 < sxy < 4000  # (ħ/e) S/cm, coarse 9³ grid (2658)
    # σ^z_yx = −σ^z_xy up to the symmetry breaking of the Wannier functions (3.5 % on this coarse grid)
    assert abs(res.sel(spin="z", current="y", field="x", fermi=18.3823).item() + sxy) < 0.06 * sxy


def _haldane(r):
    res = r["charge"]
    assert res.attrs["units"] == "e^2/h"
    sxy = res.sel(current="x", field="y").values
    np.testing.assert_allclose(np.abs(sxy), 1.0, atol=1e-3)  # Chern insulator: quantised in the whole gap
    assert np.all(np.sign(sxy) == np.sign(sxy[0]))


CHECKS = {"qwz": _qwz, "haldane": _haldane, "massive_dirac": _massive_dirac, "rashba": _rashba, "rashba_kp": _rashba_kp,
          "rashba_definition": _rashba_definition,
          "bhz": _bhz, "topological_insulator": _topological_insulator, "hole_quantum_well": _hole_quantum_well,
          "topological_insulator_lattice": _topological_insulator_lattice,
          "wannier_fe": _wannier_fe, "wannier90_pt_shc": _wannier90_pt_shc}


def test_every_example_has_a_check_and_every_builtin_an_example():
    assert sorted(CHECKS) == sorted(p.stem for p in EXAMPLES.glob("*.toml"))
    builtin = [n for n, e in registry.MODELS.items() if e.kind == "builtin"]
    assert set(builtin) <= set(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example_end_to_end(name, tmp_path, capsys):
    import tomllib

    config = EXAMPLES / f"{name}.toml"
    if name == "wannier_fe" and not FE.is_file():
        pytest.skip(f"{FE} not present (data outside the repository)")
    if name == "wannier90_pt_shc" and not PT_WIN.is_file():
        pytest.skip(f"{PT_WIN} not present (data outside the repository)")
    assert main(["run", str(config), "--output", str(tmp_path), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    # one line, once per run: the values are on one mesh, not a converged limit (issue 24, item 6)
    notes = [line for line in captured.out.splitlines() if line.startswith("note: ")]
    assert notes == [f"note: on one mesh ({_kpoints(captured.out)} k-points), not a converged limit: "
                     f"`properspin converge {config}` gives value ± error"]
    if name == "rashba":  # docs/cli.md shows this run's stdout
        assert notes[0].replace(str(config), "examples/rashba.toml") in (ROOT / "docs" / "cli.md").read_text("utf-8")
    cfg = tomllib.loads(config.read_text(encoding="utf-8"))
    formats = cfg["output"].get("formats", ["netcdf", "csv", "png"])
    results = {}
    for response in cfg["calculation"]["responses"]:
        base = tmp_path / f"{name}_{response}"
        results[response] = io.load(base.with_suffix(".nc"))
        assert results[response].attrs["response"] == response
        note = notes[0].removeprefix("note: ").replace(str(config), config.name)
        assert results[response].attrs["convergence"] == note
        assert base.with_suffix(".csv").is_file() == ("csv" in formats)
        if "csv" in formats:
            assert f"# convergence: {results[response].attrs['convergence']}" in base.with_suffix(".csv").read_text()
        if "png" in formats:
            assert base.with_suffix(".png").read_bytes()[:8] == PNG_SIGNATURE
    CHECKS[name](results)


def _kpoints(out: str) -> int:
    return int(out.split("note: on one mesh (")[1].split(" k-points")[0])


def test_run_note_counts_the_mesh_and_converge_gives_error_bars(tmp_path, capsys):
    """QWZ on a 12 × 12 grid: the note counts its 144 k-points; ``converge`` of the same file prints value ± error
    with the quantised σ_xy = +1 e²/h in the gap (u = 1, C = −1)."""
    config = tmp_path / "qwz.toml"
    config.write_text('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 12\n'
                      '[fermi]\nvalues = [0.0]\n[calculation]\nresponses = ["charge"]\n'
                      '[output]\npath = "out"\nformats = ["netcdf"]\n', encoding="utf-8")
    assert main(["run", str(config), "-q"]) == 0
    out = capsys.readouterr().out
    assert _kpoints(out) == 144
    assert io.load(tmp_path / "out" / "qwz_charge.nc").attrs["convergence"].startswith("on one mesh (144 k-points)")
    assert main(["info", str(tmp_path / "out" / "qwz_charge.nc")]) == 0
    assert "convergence: on one mesh (144 k-points), not a converged limit" in capsys.readouterr().out
    main(["converge", str(config), "-q"])
    out = capsys.readouterr().out
    assert "note: on one mesh" not in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("x,y"))
    value, error = (float(t) for t in line.split("E_F = 0 eV")[1].split("e^2/h")[0].split("±"))
    assert value == pytest.approx(1.0, abs=max(3 * error, 1e-6))


def test_qwz_example_bands_map_shows_the_filled_band(tmp_path):
    """examples/qwz.toml: ``bands`` puts E_F mid-gap (one electron per cell, the bands ±1 … ±3 eV are symmetric),
    so its k_z = 0 map shows the lower band's Berry curvature; the old first [fermi] value −3.5 eV lay below both
    bands and drew a map of zeros."""
    import xarray as xr

    png = tmp_path / "map.png"
    assert main(["bands", str(EXAMPLES / "qwz.toml"), "--slice", "z=0", "-n", "24", "-o", str(png)]) == 0
    sl = xr.load_dataset(png.with_suffix(".nc"))
    assert sl.attrs["fermi_eV"] == pytest.approx(0.0, abs=1e-9)
    assert np.abs(sl["occupied"].values).max() > 0.1  # before: exactly 0 everywhere


@pytest.fixture(scope="module")
def rashba_nc(tmp_path_factory):
    out = tmp_path_factory.mktemp("rashba")
    assert main(["run", str(EXAMPLES / "rashba_kp.toml"), "-o", str(out), "-q"]) == 0
    return out / "rashba_kp_proper_spin.nc"


def test_info_prints_units_model_mesh_and_provenance(rashba_nc, capsys):
    assert main(["info", str(rashba_nc)]) == 0
    out = capsys.readouterr().out
    for text in ("response:    proper_spin", "units:       e/8pi", "fermi (6)", "spin       x y z",
                 "mesh:        kind=disk, radius=0.6, nk=200, nphi=32", "temperature: 0.0 K",
                 "model:       rashba_text (dim 2, 2 bands)", "alpha=0.3", "version:     properspin", "created:"):
        assert text in out, text


def test_models_lists_every_registered_model_with_units(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in registry.MODELS:
        assert f"\n{name}  —" in "\n" + out
    assert "[eV Å]" in out and "width" in out and "[V/m]" in out and "default 2.5e-08" in out
    assert main(["models", "rashba"]) == 0
    assert capsys.readouterr().out.startswith("rashba  —")
    assert main(["models", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_plot_writes_png(rashba_nc, tmp_path, capsys):
    out = tmp_path / "fig.png"
    assert main(["plot", str(rashba_nc), "-o", str(out), "--component", "z,y,x"]) == 0
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000
    assert main(["plot", str(rashba_nc), "--component", "z,y"]) == 2
    assert "needs 3 labels" in capsys.readouterr().err


def test_plot_default_output_beside_the_result(rashba_nc):
    png = rashba_nc.with_suffix(".png")
    png.unlink(missing_ok=True)
    assert main(["plot", str(rashba_nc)]) == 0
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_missing_files_are_errors_without_traceback(tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.toml")]) == 2
    assert main(["info", str(tmp_path / "none.nc")]) == 1
    err = capsys.readouterr().err
    assert "none.toml: no such file" in err and "none.nc" in err and "Traceback" not in err


def test_reproduce_dispatches_to_paper_module(monkeypatch, tmp_path):
    calls = []
    fake = types.ModuleType("properspin.paper.reproduce")
    fake.run = lambda output_dir, quick, progress, force: calls.append((output_dir, quick, progress, force))
    monkeypatch.setitem(sys.modules, "properspin.paper.reproduce", fake)
    import properspin.paper

    monkeypatch.setattr(properspin.paper, "reproduce", fake, raising=False)
    assert main(["reproduce", "--output", str(tmp_path), "--quick", "--quiet"]) == 0
    assert main(["reproduce"]) == 0
    assert main(["reproduce", "--quick", "--force"]) == 0  # a quick run has its own default folder
    assert calls == [(tmp_path, True, False, False), (Path("paper-figures"), False, True, False),
                     (Path("paper-figures-quick"), True, True, True)]


def test_reproduce_without_paper_module_is_a_clear_error(monkeypatch, capsys):
    import properspin.paper

    monkeypatch.delattr(properspin.paper, "reproduce", raising=False)
    monkeypatch.setitem(sys.modules, "properspin.paper.reproduce", None)
    assert main(["reproduce", "--quick"]) == 1
    assert "paper reproduction" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "reproduce", "models", "info", "plot"])
def test_help_has_examples(command, capsys):
    assert main([command, "--help"]) == 0
    assert "examples:\n  properspin " + command in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "properspin", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and "reproduce" in proc.stdout
