"""TOML run files: schema, readable errors naming file and key, model/mesh building, run_config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from properspin import registry
from properspin.cli import main
from properspin.config import ConfigError, build_mesh, build_model, load_config, run_config

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

BASE = """
[model]
name = "rashba"
parameters = { alpha = 0.3, mass = 1.0, zeeman = [0.0, 0.0, 1e-3] }

[mesh]
kind = "disk"
radius = 0.6
nk = 40
nphi = 8

[fermi]
values = [0.1, 0.2]

[calculation]
responses = ["proper_spin"]
temperature = 0.0

[output]
formats = ["netcdf"]
"""

KP = """
[model.kp]
matrix = "MATRIX"
parameters = { a = 0.3 }

[mesh]
kind = "disk"
radius = 0.6

[fermi]
values = [0.1]
"""

HOLE = """
[model]
name = "hole_quantum_well"
parameters = { material = "GaAs", width = WIDTH }

[mesh]
kind = "disk"
radius = 0.1

[fermi]
values = [0.01]
"""

GRID = BASE.replace('kind = "disk"\nradius = 0.6\nnk = 40\nnphi = 8', 'kind = "grid"\nn = @N@')

# (name, text, key that the message must name, fragment of the explanation)
BAD = [
    ("missing_key", BASE.replace("radius = 0.6\n", ""), "mesh.radius", "missing required key"),
    ("missing_section", BASE.replace("[fermi]\nvalues = [0.1, 0.2]\n", ""), "fermi", "missing required key"),
    ("wrong_type", BASE.replace("nk = 40", 'nk = "40"'), "mesh.nk", "expected an integer, got '40'"),
    ("negative_nk", BASE.replace("nk = 40", "nk = -3"), "mesh.nk", "expected a positive integer, got -3"),
    ("negative_temperature", BASE.replace("temperature = 0.0", "temperature = -5.0"),
     "calculation.temperature", "expected a number ≥ 0"),
    ("unknown_model", BASE.replace('"rashba"', '"rashbaa"'), "model.name", "known models: qwz"),
    ("unknown_key", BASE.replace("nphi = 8", "nphi = 8\nnq = 3"), "mesh.nq", "unknown key; expected one of kind"),
    ("unknown_section", BASE + "\n[extras]\nx = 1\n", "extras", "unknown key"),
    ("unknown_parameter", BASE.replace("mass = 1.0", "mass = 1.0, beta = 2.0"), "model.parameters.beta",
     "unknown parameter of model 'rashba'"),
    ("missing_parameter", BASE.replace("alpha = 0.3, ", ""), "model.parameters.alpha", "missing required"),
    ("unphysical_mass", BASE.replace("mass = 1.0", "mass = -1.0"), "model.parameters.mass", "must be positive"),
    ("unphysical_width", HOLE.replace("WIDTH", "-25e-9"), "model.parameters.width", "width must be in (0, 1e-6]"),
    ("zero_width", HOLE.replace("WIDTH", "0.0"), "model.parameters.width", "width must be in"),
    ("malformed_kp", KP.replace("MATRIX", "[[k_x, a*k_y], [k_x]]"), "model.kp.matrix", "ragged matrix"),
    ("kp_bad_syntax", KP.replace("MATRIX", "[[k_x, a*k_y], [a*k_y, k_x +]]"), "model.kp.matrix",
     "could not be parsed"),
    ("non_hermitian_kp", KP.replace("MATRIX", "[[k_x**2, a*k_y], [0, k_y**2]]"), "model.kp.matrix",
     "not Hermitian"),
    ("kp_missing_parameter", KP.replace("MATRIX", "[[k_x**2, a*k_y], [a*k_y, b]]"), "model.kp.parameters",
     "missing parameter(s) b"),
    ("bad_response", BASE.replace('["proper_spin"]', '["proper"]'), "calculation.responses",
     "unknown response 'proper'"),
    ("bad_format", BASE.replace('["netcdf"]', '["pdf"]'), "output.formats[0]", "expected one of"),
    ("bad_mesh_kind", BASE.replace('"disk"', '"circle"'), "mesh", "expected one of 'grid', 'disk'"),
    ("two_fermi_forms", BASE.replace("values = [0.1, 0.2]", "values = [0.1]\nstart = 0.0"), "fermi",
     "either values"),
    ("duplicate_fermi", BASE.replace("values = [0.1, 0.2]", "values = [0.1, 0.1]"), "fermi", "distinct"),
    ("inf_fermi", BASE.replace("values = [0.1, 0.2]", "values = [0.1, inf]"), "fermi.values[1]", "finite"),
    ("two_models", BASE.replace("[mesh]", '[model.kp]\nmatrix = "[[k_x]]"\n\n[mesh]'), "model", "exactly one of"),
    ("short_zeeman", BASE.replace('name = "rashba"', 'name = "rashba"\nzeeman = [0.0, 1e-3]'), "model.zeeman",
     "expected exactly 3 entries (x, y, z), got 2"),
    ("periodic_mesh_on_kp", GRID.replace("@N@", "8"),
     "mesh.n", "continuum k·p model"),
    ("grid_n_negative", GRID.replace("@N@", "-3"), "mesh.n", "expected a positive integer, got -3"),
    ("grid_n_string", GRID.replace("@N@", '"x"'), "mesh.n", "expected an integer or an array, got 'x'"),
    ("grid_n_element", GRID.replace("@N@", "[8, 8.5]"), "mesh.n[1]", "expected an integer, got 8.5"),
    ("spin_response_no_spin", GRID.replace("@N@", "8").replace('name = "rashba"', 'name = "qwz"')
     .replace("alpha = 0.3, mass = 1.0, zeeman = [0.0, 0.0, 1e-3]", "u = 1.0"),
     "calculation.responses", "needs a spin operator"),
]


@pytest.mark.parametrize("name, text, key, fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_refused_naming_file_and_key(name, text, key, fragment, tmp_path, capsys):
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        run_config(path, output=tmp_path / "out")
    assert key in [k for k, _ in info.value.problems], info.value.problems
    assert f"{path}: {key}: " in str(info.value) and fragment in str(info.value)
    assert not (tmp_path / "out").exists()  # refused before anything ran or was written

    assert main(["run", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {key}: " in err and fragment in err and "Traceback" not in err


def test_config_error_message_format_and_type(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BASE.replace("nk = 40", "nk = -3"), encoding="utf-8")
    with pytest.raises(ValueError) as info:  # ConfigError is a ValueError
        load_config(path)
    assert str(info.value) == f"{path}: mesh.nk: expected a positive integer, got -3"


def test_invalid_toml_and_missing_file(tmp_path):
    (tmp_path / "x.toml").write_text("a = [1,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="x.toml: invalid TOML"):
        load_config(tmp_path / "x.toml")
    with pytest.raises(ConfigError, match="nope.toml: no such file"):
        load_config(tmp_path / "nope.toml")


def test_fermi_range_and_defaults(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(BASE.replace("values = [0.1, 0.2]", "start = 0.0\nstop = 0.3\nnum = 4"), encoding="utf-8")
    cfg = load_config(path)
    np.testing.assert_allclose(cfg.fermi.energies(), [0.0, 0.1, 0.2, 0.3], atol=1e-15)
    assert cfg.calculation.broadening == 0.0 and cfg.calculation.degeneracy_tol == 1e-6
    assert cfg.output.path == "results"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_validates(example):
    from properspin import mesh

    cfg = load_config(example)
    if cfg.model.wannier90 is not None:
        assert cfg.model.wannier90.spinor_order == "interleaved"
        return  # the data file lies outside the repository; see test_cli for the run
    if cfg.model.wannier90_run is not None:
        assert cfg.fermi is None and cfg.mesh is None  # both from the run's .win
        return  # the run lies outside the repository; see test_cli for the run
    model = build_model(cfg, example)
    assert model.nbands >= 2
    assert mesh.resolve(build_mesh(cfg), model).size >= 1000
    assert cfg.output.path == "output"


def test_kp_model_from_config_matches_builtin_rashba():
    cfg = load_config(EXAMPLES / "rashba_kp.toml")
    text = build_model(cfg, EXAMPLES / "rashba_kp.toml")
    from properspin.models import rashba

    ref = rashba(alpha=0.3, mass=1.0, zeeman=(0, 0, 1e-3))
    k = np.random.default_rng(1).uniform(-0.5, 0.5, (20, 2))
    np.testing.assert_allclose(text.energies(k), ref.energies(k), atol=1e-5)  # D = 3.80998 vs ħ²/2m_e
    assert text.name == "rashba_text"


def test_zeeman_key_lifts_degeneracy(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text(BASE.replace('name = "rashba"', 'name = "bhz"\nzeeman = [0.0, 0.0, 2e-3]')
                    .replace("alpha = 0.3, mass = 1.0, zeeman = [0.0, 0.0, 1e-3]", "u = 1.0"), encoding="utf-8")
    model = build_model(load_config(path), path)
    e = model.energies(np.array([[0.3, 0.2]]))[0]
    assert e[1] - e[0] == pytest.approx(4e-3)  # m·σ splits each Kramers pair by 2|m|
    assert model.parameters["zeeman_eV"] == (0.0, 0.0, 2e-3)


def test_run_config_writes_outputs_relative_to_the_file(tmp_path):
    path = tmp_path / "cfg" / "rashba.toml"
    path.parent.mkdir()
    path.write_text(BASE.replace('formats = ["netcdf"]', 'path = "out"\nformats = ["netcdf", "csv"]'),
                    encoding="utf-8")
    results = run_config(path, progress=False)
    assert list(results) == ["proper_spin"]
    assert sorted(p.name for p in (tmp_path / "cfg" / "out").iterdir()) == \
        ["rashba_proper_spin.csv", "rashba_proper_spin.nc"]
    assert results["proper_spin"].sel(spin="z", current="y", field="x").values == pytest.approx(-1, abs=5e-3)


def test_broadening_only_reaches_the_responses_that_use_it(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text(BASE.replace('["proper_spin"]', '["proper_spin", "conventional_spin"]')
                    .replace("temperature = 0.0", "broadening = 1e-3"), encoding="utf-8")
    res = run_config(path, output=tmp_path, progress=False)
    assert res["proper_spin"].attrs["broadening_eV"] == 0.0
    assert res["conventional_spin"].attrs["broadening_eV"] == 1e-3


def test_registry_parameters_come_from_signatures():
    params = {p.name: p for p in registry.get("rashba").parameters()}
    assert params["alpha"].required and params["alpha"].unit == "eV Å"
    assert params["zeeman"].default == (0.0, 0.0, 0.0)
    assert registry.get("kp").kind == "kp" and registry.get("wannier90").kind == "wannier90"
    with pytest.raises(ValueError, match="known models: qwz, massive_dirac"):
        registry.get("nope")
