"""Symmetry in run files (``[mesh] symmetry``) and on native Wannier90 runs (k-dependent spin S(k), Qiao spin
current): the reduced run equals the full-grid run where the model has the symmetry, falls back (warning, attrs)
where it does not, and bad requests name the key."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import properspin as ps
from properspin import symmetry as sy
from properspin.config import ConfigError, run_config
from properspin.models.wannier import BOHR_ANGSTROM, write_hr

from .test_symmetry import FCC, pt_like, pt_like_tb

DATA = Path(__file__).parents[1] / ".." / "shared" / "data" / "wannier90"
PT, FE = DATA / "Pt" / "Pt", DATA / "Fe" / "Fe"
needs_pt = pytest.mark.skipif(not (DATA / "Pt" / "Pt.win").is_file(), reason=f"real-data run {PT} absent")
needs_fe = pytest.mark.skipif(not (DATA / "Fe" / "Fe.win").is_file(), reason=f"real-data run {FE} absent")

WIN = f"""num_wann = 6
begin unit_cell_cart
bohr
{chr(10).join(' '.join(f'{x / BOHR_ANGSTROM:.12f}' for x in row) for row in FCC)}
end unit_cell_cart
begin atoms_frac
Pt 0.0 0.0 0.0
end atoms_frac
"""


@pytest.fixture(scope="module")
def pt_files(tmp_path_factory) -> Path:
    """pt_like written as pt_hr.dat with a pt.win beside it (the .win a `symmetry = true` run finds)."""
    d = tmp_path_factory.mktemp("ptlike")
    write_hr(d / "pt_hr.dat", pt_like_tb().to_wannier())
    (d / "pt.win").write_text(WIN)
    return d


def _run(d: Path, name: str, mesh: str, extra: str = "", responses: str = '["conventional_spin"]') -> dict:
    cfg = d / f"{name}.toml"
    cfg.write_text(f'[model]\n{extra}\n[model.wannier90]\npath = "pt_hr.dat"\nspinor_order = "interleaved"\n'
                   f'[mesh]\nkind = "grid"\n{mesh}\n[fermi]\nvalues = [-1.0, 0.3, 1.5]\n'
                   f'[calculation]\nresponses = {responses}\nbroadening = 0.05\n[output]\nformats = ["netcdf"]\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = run_config(cfg, output=d / "out" / name)
    out["warnings"] = [w for w in caught if issubclass(w.category, sy.SymmetryWarning)]
    return out


def test_run_file_symmetry_equals_full_grid(pt_files):
    """`symmetry = true`: the .win beside pt_hr.dat gives m-3m1'; σ from 1/48 of the points = the full grid."""
    full = _run(pt_files, "full", "n = 6")
    red = _run(pt_files, "red", "n = 6\nsymmetry = true")
    a, b = full["conventional_spin"], red["conventional_spin"]
    assert not red["warnings"]
    assert b.attrs["mesh_symmetry_group"] == "m-3m1'" and b.attrs["mesh_full_size"] == 216
    assert b.attrs["mesh_size"] == 16 and b.attrs["mesh_symmetry"] == "irreducible wedge + projector"
    assert b.attrs["mesh_symmetry_energy_error"] < 1e-12 and b.attrs["mesh_symmetry_tolerance"] == 1e-3
    scale = float(np.abs(a.values).max())
    assert scale > 1e3  # (ħ/2e) S/m: a finite spin Hall conductivity to compare
    np.testing.assert_allclose(b.values, a.values, rtol=0, atol=1e-10 * scale)
    # the same structure given in the file (lattice from the model) instead of the .win
    pos = _run(pt_files, "pos", 'n = 6\n[mesh.symmetry]\npositions = [[0, 0, 0]]\nspecies = ["Pt"]\n'
                                'tolerance = 1e-6')
    assert pos["conventional_spin"].attrs["mesh_symmetry_tolerance"] == 1e-6
    np.testing.assert_allclose(pos["conventional_spin"].values, a.values, rtol=0, atol=1e-10 * scale)


def test_run_file_magnet_and_broken_symmetry(pt_files):
    """A Zeeman field along z: the magnetisation is taken from the model (4/mm'm'), charge and spin Hall equal the
    full grid; claimed along x, the model breaks the group: full grid, a SymmetryWarning, the attrs say why."""
    zee = 'zeeman = [0.0, 0.0, 0.08]'
    both = '["conventional_spin", "charge"]'
    full = _run(pt_files, "zfull", "n = 6", zee, both)
    red = _run(pt_files, "zred", "n = 6\nsymmetry = true", zee, both)
    for name in ("conventional_spin", "charge"):
        a, b = full[name], red[name]
        assert b.attrs["mesh_symmetry_group"] == "4/mmm(4/m)" and b.attrs["mesh_size"] == 30
        np.testing.assert_allclose(b.values, a.values, rtol=0, atol=1e-10 * float(np.abs(a.values).max()))
    assert abs(full["charge"].sel(current="x", field="y").values).max() > 1.0  # S/m: a finite Hall response
    bad = _run(pt_files, "zbad", 'n = 6\n[mesh.symmetry]\nmagnetization = [1, 0, 0]', zee, both)
    assert len(bad["warnings"]) == 2 and "breaks the magnetic point group" in str(bad["warnings"][0].message)
    for name in ("conventional_spin", "charge"):
        attrs = bad[name].attrs
        assert attrs["mesh_symmetry"].startswith("not used: model breaks the magnetic point group 4/mmm(4/m)")
        assert attrs["mesh_size"] == 216 and attrs["mesh_symmetry_energy_error"] > 1e-3
        np.testing.assert_array_equal(bad[name].values, full[name].values)


def test_run_file_symmetry_errors(pt_files, tmp_path):
    def err(mesh: str, model: str = '[model.wannier90]\npath = "pt_hr.dat"\nspinor_order = "interleaved"') -> str:
        cfg = pt_files / "bad.toml"
        cfg.write_text(f'{model}\n[mesh]\nkind = "grid"\n{mesh}\n[fermi]\nvalues = [0.0]\n'
                       '[calculation]\nresponses = ["charge"]\n')
        with pytest.raises(ConfigError) as info:
            run_config(cfg, output=tmp_path)
        return str(info.value)

    assert "bad.toml: mesh.symmetry.positions:" in err('n = 4\n[mesh.symmetry]\npositions = [[0, 0]]\n'
                                                       'species = ["Pt"]')
    assert "positions and species must be given together" in err('n = 4\n[mesh.symmetry]\npositions = [[0,0,0]]')
    assert "one label per atom (1), got 2" in err('n = 4\n[mesh.symmetry]\npositions = [[0,0,0]]\n'
                                                  'species = ["Pt", "Pt"]')
    assert "either win" in err('n = 4\n[mesh.symmetry]\nwin = "pt.win"\npositions = [[0,0,0]]\nspecies = ["Pt"]')
    assert "mesh.symmetry.tolerance: expected a positive number" in err('n = 4\n[mesh.symmetry]\ntolerance = 0')
    assert "mesh.symmetry.magnetization" in err('n = 4\n[mesh.symmetry]\nmagnetization = [0, 1]')
    assert "mesh.symmetry.oops: unknown key" in err('n = 4\n[mesh.symmetry]\noops = 1')
    assert "model.wannier90_run.spin_current_tol: expected a positive number" in err(
        'n = 4', '[model.wannier90_run]\nseedname = "nothere"\nspin_current_tol = -1e-5')
    assert "mesh.symmetry.win: no such file" in err('n = 4\nsymmetry = "nothere.win"')
    assert "mesh.symmetry: no Wannier90 .win found" in err('n = 4\nsymmetry = true',
                                                            '[model]\nname = "qwz"\nparameters = { u = 1.0 }')
    (pt_files / "other.win").write_text(WIN.replace("bohr", "ang"))  # the same numbers in Å: another lattice
    assert "mesh.symmetry: the structure's lattice differs" in err('n = 4\nsymmetry = "other.win"')
    with pytest.raises(ConfigError, match="mesh.symmetry: unknown key"):
        cfg = pt_files / "disk.toml"
        cfg.write_text('[model]\nname = "rashba"\n[mesh]\nkind = "disk"\nradius = 0.1\nsymmetry = true\n'
                       '[fermi]\nvalues = [0.0]\n')
        run_config(cfg, output=tmp_path)


def test_spin_k_models_magnetisation_and_symmetrised_copy():
    """A k-dependent spin operator (S(k), as a Wannier90 run's) is used like a constant one: the magnetisation
    direction, the representations, and symmetrized_model, which restores the group of a perturbed model."""
    base = pt_like().with_zeeman((0.0, 0.0, 0.05))
    spin = base.spin
    as_k = replace(base, spin=None, name="pt-like, S(k)",
                   spin_k=lambda k: np.broadcast_to(spin[:, None], (3, len(k), *spin.shape[1:])).copy())
    np.testing.assert_allclose(sy.model_magnetization(as_k), [0, 0, 1], atol=1e-12)
    group = sy.group_for(as_k, sy.Structure(FCC, [[0, 0, 0]], ["Pt"]))
    assert group.label == "4/mmm(4/m)"
    for op in group.operations[:4]:
        np.testing.assert_allclose(np.abs(sy.representation(as_k, op)), np.abs(sy.representation(base, op)),
                                   atol=1e-8)
    # symmetrized_model averages S(k) with the axial, T-odd law: on a model that has the group it returns the model
    # (a wrong law — R̃ transposed, no sign for time reversal — would rotate or flip the spin texture)
    fixed = sy.symmetrized_model(as_k, group)
    k = np.random.default_rng(5).random((4, 3)) @ as_k.reciprocal
    np.testing.assert_allclose(fixed.spin_at(k), as_k.spin_at(k), atol=1e-10)
    np.testing.assert_allclose(fixed.h(k), as_k.h(k), atol=1e-10)
    kw = {"fermi": [0.0, 1.0], "engine": ps.Engine(workers=1), "broadening": 0.05}
    full = ps.conductivity(fixed, "conventional_spin", mesh=ps.mesh.grid(4), **kw)
    red = ps.conductivity(fixed, "conventional_spin", mesh=ps.mesh.grid(4, symmetry=group), **kw)
    assert red.attrs["mesh_size"] < 64
    np.testing.assert_allclose(red.values, full.values, rtol=0, atol=1e-9 * float(np.abs(full.values).max()))
    with pytest.raises(ValueError, match="cannot average an ab-initio spin current"):
        sy.symmetrized_model(replace(as_k, spin_current=lambda *a: None), group)


def test_ac_spin_hall_law():
    """conventional_spin_ac (Re and Im of σ(ω)) transforms as the static spin current: on a magnet (4/mm'm') the
    wedge equals the full grid for both parts, and Im σ^z_xy(ω) is finite (a test of a non-trivial part)."""
    model = pt_like().with_zeeman((0.0, 0.0, 0.08))
    group = sy.group_for(model, sy.Structure(FCC, [[0, 0, 0]], ["Pt"]))
    resp = ps.responses.get("conventional_spin_ac", frequency=0.7, broadening=0.05)
    kw = {"fermi": [0.3, 1.5], "engine": ps.Engine(workers=1)}
    full = ps.conductivity(model, resp, mesh=ps.mesh.grid(6), **kw)
    red = ps.conductivity(model, resp, mesh=ps.mesh.grid(6, symmetry=group), **kw)
    assert red.attrs["mesh_symmetry_group"] == "4/mmm(4/m)" and red.attrs["mesh_size"] == 30
    scale = float(np.abs(full.values).max())
    assert abs(full.sel(part="im", spin="z", current="x", field="y").values).max() > 1e-3 * scale
    np.testing.assert_allclose(red.values, full.values, rtol=0, atol=1e-10 * scale)


# ------------------------------------------------------------------------------------------ native runs
@needs_fe
def test_native_fe_charge_with_symmetry():
    """bcc Fe (no .spn): magnetisation given along z → 4/mm'm' (16 operations), σ on the wedge = full grid to the
    run's own asymmetry (energies symmetric to 1e-5 eV); without it the grey group is refused, with a hint."""
    fe = ps.models.wannier90_run(FE)
    win = FE.with_suffix(".win")
    kw = {"fermi": [12.1279, 12.6279], "engine": ps.Engine(workers=1)}
    full = ps.conductivity(fe, "charge", mesh=ps.mesh.grid(8), **kw)
    red = ps.conductivity(fe, "charge", mesh=ps.mesh.grid(8, symmetry=sy.structure_from_win(win, (0, 0, 1))), **kw)
    assert red.attrs["mesh_symmetry_group"] == "4/mmm(4/m)" and red.attrs["mesh_size"] == 59
    assert red.attrs["mesh_symmetry_energy_error_eV"] < 1e-4
    xy = full.sel(current="x", field="y").values
    np.testing.assert_allclose(red.sel(current="x", field="y").values, xy, rtol=3e-4)
    assert abs(float(red.sel(current="x", field="z")[0])) == 0.0  # forbidden by 4/mm'm': exactly 0
    with pytest.warns(sy.SymmetryWarning, match="no spin operator to take a magnetisation from"):
        grey = ps.conductivity(fe, "charge", mesh=ps.mesh.grid(4, symmetry=win), **kw)
    assert grey.attrs["mesh_symmetry"].startswith("not used")


@pytest.fixture(scope="module")
def pt_run():
    from properspin.models.wannier import read_wannier90_run

    return read_wannier90_run(PT)


@needs_pt
def test_native_pt_qiao_threshold_and_cubic_form(pt_run):
    """On a grid holding the run's ab-initio k-points (8³ ⊃ 4³), where Kramers pairs are split by only 1e-6–1e-5 eV,
    postw90's threshold 1e-7 eV for D = v/Δ lets those pairs into the Qiao spin current: the full-grid σ^z breaks
    the cubic form m-3m1' by more than its own size. spin_current_tol = 1e-5 eV restores it (to the ≈ 1 % asymmetry
    of the interpolation) and is recorded in the model parameters."""
    win = PT.with_suffix(".win")
    resp = ps.responses.get("conventional_spin", method="qiao", broadening=0.1)
    kw = {"fermi": [18.3823], "mesh": ps.mesh.grid(8), "engine": ps.Engine(workers=1)}
    postw90 = ps.conductivity(pt_run.model(), resp, **kw)
    cured_model = replace(pt_run, options={**pt_run.options, "spin_current_tol": 1e-5}).model()
    cured = ps.conductivity(cured_model, resp, **kw)
    group = sy.group_for(cured_model, win)
    sigma = abs(cured.sel(spin="z", current="x", field="y").item())
    assert sy.check_result(postw90, group)["deviation"] > 5 * sigma  # components forbidden by m-3m1' ≫ σ^z_xy
    assert sy.check_result(cured, group)["relative_deviation"] < 0.02
    assert ps.results.parameters(postw90, "model_parameters")["spin_current_tol_eV"] == 1e-7
    assert ps.results.parameters(cured, "model_parameters")["spin_current_tol_eV"] == 1e-5
    with pytest.raises(ValueError, match="spin_current_tol must be a positive number"):
        ps.models.wannier90_run(PT, spin_current_tol=0.0)


@needs_pt
def test_native_pt_spin_hall_with_symmetry(pt_run):
    """fcc Pt with S(k) from .spn and the Qiao spin current: the interpolated bands break m-3m1' (Kramers pairs split
    by up to ~40 meV), so the default tolerance refuses the group (full grid, attrs); a tolerance above the measured
    asymmetry uses it, and the wedge then agrees with the full grid to the model's own asymmetry (≲ 2 %)."""
    pt = replace(pt_run, options={**pt_run.options, "spin_current_tol": 1e-5}).model()
    win = PT.with_suffix(".win")
    kw = {"fermi": [18.3823], "engine": ps.Engine(workers=1)}
    for method in ("simple", "qiao"):
        resp = ps.responses.get("conventional_spin", method=method, broadening=0.1)
        with pytest.warns(sy.SymmetryWarning, match="breaks the magnetic point group m-3m1'"):
            refused = ps.conductivity(pt, resp, mesh=ps.mesh.grid(4, symmetry=win), **kw)
        assert refused.attrs["mesh_size"] == 64 and 5e-3 < refused.attrs["mesh_symmetry_energy_error_eV"] < 0.1
        full = ps.conductivity(pt, resp, mesh=ps.mesh.grid(8), **kw)
        red = ps.conductivity(pt, resp, mesh=ps.mesh.grid(8, symmetry=win, symmetry_tol=0.5), **kw)
        assert red.attrs["mesh_symmetry_group"] == "m-3m1'" and red.attrs["mesh_size"] == 29
        a, b = full.values[0, 2, 0, 1], red.values[0, 2, 0, 1]
        assert abs(b - a) < 0.02 * abs(a), (method, a, b)
        assert sy.check_result(full, sy.group_for(pt, win))["relative_deviation"] < 0.02  # the grid's own asymmetry
