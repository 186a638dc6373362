"""Native Wannier90 runs: readers, the operators postw90 builds, and postw90's numbers for bcc Fe."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import properspin as ps
from properspin.geometry import band_geometry
from properspin.models import wannier90_run
from properspin.models.wannier.native import read_chk, read_spn, write_chk_unformatted
from properspin.models.wannier.run import read_wannier90_run, wigner_seitz, ws_distance_table

from .w90files import bloch, write_run

DATA = Path(__file__).parents[1] / ".." / "shared" / "data" / "wannier90"
FE = DATA / "Fe" / "Fe"
needs_fe = pytest.mark.skipif(not (DATA / "Fe" / "Fe.win").is_file(), reason=f"real-data run {FE} absent")


def wpout_ahc(path: Path) -> np.ndarray:
    """(σ_yz, σ_zx, σ_xy) in S/cm from the line after 'AHC (S/cm)' in a postw90 output."""
    lines = path.read_text().splitlines()
    i = next(i for i, s in enumerate(lines) if "AHC (S/cm)" in s)
    return np.array(re.findall(r"-?\d+\.\d+", lines[i + 1]), dtype=float)


@pytest.fixture(scope="module")
def fe_model():
    if not (DATA / "Fe" / "Fe.win").is_file():
        pytest.skip(f"real-data run {FE} absent (no ../shared/data)")
    return wannier90_run(FE)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("syn")
    return write_run(folder)


# ------------------------------------------------------------------------------------------ Fe: postw90
@needs_fe
def test_fe_ahc_matches_postw90(fe_model):
    """postw90 2.1 (benchmark-ahc.wpout): 10³ Γ-centred berry_kmesh, E_F = 12.6279 eV, use_ws_distance false."""
    ref = wpout_ahc(DATA / "Fe" / "benchmark-ahc.wpout")
    res = ps.conductivity(fe_model, "charge", fermi=12.6279, mesh=ps.mesh.grid(10))
    s = ps.results.convert(res, "S/cm").values[0]
    got = np.array([s[1, 2], s[2, 0], s[0, 1]])
    assert abs(got[2] / ref[2] - 1) < 1e-6
    np.testing.assert_allclose(got[:2], ref[:2], atol=6e-5)  # printed to 4 decimals
    np.testing.assert_allclose(s, -s.T, atol=1e-9)


@needs_fe
def test_fe_run_what_was_read(fe_model):
    info = fe_model.info
    assert (info["num_wann"], info["num_bands"], info["mp_grid"], info["nntot"]) == (18, 28, [2, 2, 2], 12)
    assert info["disentangled"] and not info["use_ws_distance"]
    shell = info["bvector_shells"]
    assert len(shell) == 1 and shell[0]["multiplicity"] == 12
    assert abs(shell[0]["weight_angstrom2"] - 0.104321) < 1e-6  # postw90's printed w_b
    assert info["postw90"]["fermi_energies"] == [12.6279] and info["postw90"]["berry_kmesh"] == [10, 10, 10]
    assert "none" in info["spin_operator"] and fe_model.spin is None and fe_model.spin_k is None
    with pytest.raises(ValueError, match=r"needs a spin operator.*Fe\.spn not found"):
        ps.conductivity(fe_model, "proper_spin", fermi=12.6, mesh=ps.mesh.grid(2))


@needs_fe
def test_fe_unformatted_checkpoint_same_operators(tmp_path):
    """The unformatted ``.chk`` (written here from the formatted one) gives the same run, bit for bit."""
    for f in (FE.parent).glob("Fe.*"):
        if ".chk" not in f.name:
            shutil.copy(f, tmp_path / f.name)
    write_chk_unformatted(read_chk(FE.parent / "Fe.chk.fmt.bz2"), tmp_path / "Fe.chk")
    a = read_wannier90_run(FE)
    b = read_wannier90_run(tmp_path / "Fe")
    assert b.files["chk"].endswith("Fe.chk")
    np.testing.assert_array_equal(a.ham_R, b.ham_R)
    np.testing.assert_array_equal(a.pos_R, b.pos_R)


@needs_fe
def test_fe_ws_distance_keeps_the_ab_initio_points():
    """use_ws_distance moves elements by supercell vectors T: H(q) at the ab-initio k-points is unchanged."""
    plain = read_wannier90_run(FE)
    ws = read_wannier90_run(FE, use_ws_distance=True)
    assert ws.ws_table is not None and plain.ws_table is None
    m0, m1 = plain.model(), ws.model()
    q = plain.chk.kpt_latt @ m0.reciprocal
    np.testing.assert_allclose(m1.h(q), m0.h(q), atol=1e-10)
    np.testing.assert_allclose(m1.position(q), m0.position(q), atol=1e-10)
    k = np.random.default_rng(0).uniform(-1, 1, (5, 3)) @ m0.reciprocal
    assert np.max(np.abs(m1.h(k) - m0.h(k))) > 1e-4  # but it is a different interpolation
    for shifts in ws.ws_table.values():
        assert np.all(shifts % np.array(plain.chk.mp_grid) == 0)


def test_wigner_seitz_weights_and_symmetry():
    lat = np.array([[1.0, 0.2, 0.0], [0.1, 1.3, 0.0], [0.0, 0.3, 0.9]])
    for mp in ((2, 2, 2), (4, 3, 5), (1, 1, 6)):
        irvec, deg = wigner_seitz(lat, mp)
        assert abs(np.sum(1 / deg) - np.prod(mp)) < 1e-12
        rows = {tuple(r) for r in irvec.tolist()}
        assert all(tuple(-x for x in r) in rows for r in rows)


def test_ws_distance_images_are_equidistant_and_nearest():
    lat = np.diag([1.0, 1.0, 1.0])
    irvec, _ = wigner_seitz(lat, (2, 2, 2))
    centres = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    table = ws_distance_table(lat, (2, 2, 2), irvec, centres)
    for (r1, r2, r3, m, n), shifts in table.items():
        d = np.array([r1, r2, r3]) + shifts + centres[n - 1] - centres[m - 1]
        lengths = np.linalg.norm(d, axis=1)
        assert np.ptp(lengths) < 1e-5
        # nothing nearer among the images R + T + 2 t
        t = np.array([[i, j, k] for i in (-2, 0, 2) for j in (-2, 0, 2) for k in (-2, 0, 2)])
        assert lengths[0] <= np.min(np.linalg.norm(d[0] + t, axis=1)) + 1e-12


# ------------------------------------------------------------------------------------------ synthetic runs
def test_synthetic_run_gives_back_the_tight_binding_model(synthetic):
    model = wannier90_run(synthetic["seedname"])
    rng = np.random.default_rng(3)
    kf = rng.uniform(-1, 1, (12, 3))
    k = kf @ model.reciprocal
    np.testing.assert_allclose(model.h(k), bloch(synthetic["rvec"], synthetic["ham"], kf), atol=1e-10)
    np.testing.assert_allclose(model.position(k), 0, atol=1e-10)  # point-like orbitals: A^W = 0
    np.testing.assert_allclose(model.spin_at(k), np.broadcast_to(synthetic["spin"][:, None], (3, 12, 4, 4)),
                               atol=1e-10)
    assert model.info["bvector_shells"] and len(model.info["bvector_shells"]) == 3


def test_synthetic_qiao_equals_simple_spin_current(synthetic):
    """With every band a Wannier band and point-like orbitals, <ψ_n|σ v|ψ_m> through the ab-initio bands is
    exactly ½{s, v} of the interpolated model (Qiao et al. Eqs. 23–39 reduce to the tight-binding form)."""
    model = wannier90_run(synthetic["seedname"])
    k = np.random.default_rng(4).uniform(-1, 1, (9, 3)) @ model.reciprocal
    g = band_geometry(model, k)
    np.testing.assert_allclose(g.spin_current("qiao"), g.spin_current("simple"), atol=1e-9)
    simple = ps.conductivity(model, "conventional_spin", fermi=[-0.5, 0.1], mesh=ps.mesh.grid(3))
    qiao = ps.conductivity(model, ps.responses.get("conventional_spin", method="qiao"), fermi=[-0.5, 0.1],
                           mesh=ps.mesh.grid(3))
    np.testing.assert_allclose(qiao.values, simple.values, atol=1e-9 * np.abs(simple.values).max())
    assert np.abs(simple.values).max() > 1e2  # not a vanishing comparison


def test_synthetic_scissors_shift_moves_conduction_bands(tmp_path):
    data = write_run(tmp_path, extra_win="scissors_shift = 0.7\nnum_valence_bands = 2")
    model = wannier90_run(data["seedname"])
    assert model.parameters["scissors_shift_eV"] == 0.7 and model.parameters["num_valence_bands"] == 2
    q = data["kfrac"] @ model.reciprocal
    shifted = data["eig"] + 0.7 * (np.arange(4) >= 2)
    np.testing.assert_allclose(model.energies(q), shifted, atol=1e-10)  # exact at the ab-initio k-points
    k = np.random.default_rng(5).uniform(-1, 1, (6, 3)) @ model.reciprocal
    g = band_geometry(model, k)  # the scissors enter H and the ab-initio H_o of the spin current alike
    np.testing.assert_allclose(g.spin_current("qiao"), g.spin_current("simple"), atol=1e-9)
    plain = wannier90_run(data["seedname"], scissors_shift=0.0)
    assert plain.parameters["scissors_shift_eV"] == 0.0


def test_synthetic_unformatted_spn_equals_formatted(tmp_path):
    a = write_run(tmp_path / "a", spn_formatted=True)
    b = write_run(tmp_path / "b", spn_formatted=False)
    fa, fb = read_spn(Path(a["seedname"] + ".spn")), read_spn(Path(b["seedname"] + ".spn"))
    np.testing.assert_allclose(fa, fb, atol=1e-14)  # the text file holds 16 digits
    assert np.abs(fa).max() > 0.5


def test_k_dependent_spin_runs_every_response(synthetic):
    """A model with S(k) (spin_k) runs every response on the numpy path and matches the same physics with the
    constant spin operator, which is what S(k) is for this run."""
    model = wannier90_run(synthetic["seedname"])
    const = ps.Model(model.hamiltonian, model.gradient, synthetic["spin"], 3, reciprocal=model.reciprocal,
                     position=model.position, position_gradient=model.position_gradient)
    from properspin import kernels

    assert kernels.supports("conventional_spin", const) and not kernels.supports("conventional_spin", model)
    for name in ("proper_spin", "conventional_spin", "torque_dipole", "charge", "appendix_c", "torque"):
        a = ps.conductivity(model, name, fermi=0.1, mesh=ps.mesh.grid(3))
        b = ps.conductivity(const, name, fermi=0.1, mesh=ps.mesh.grid(3))
        np.testing.assert_allclose(a.values, b.values, atol=1e-8 * max(1.0, np.abs(b.values).max()), err_msg=name)
    z = model.with_zeeman((0.0, 0.0, 0.05))
    zc = const.with_zeeman((0.0, 0.0, 0.05))
    k = np.random.default_rng(6).uniform(-1, 1, (5, 3)) @ model.reciprocal
    np.testing.assert_allclose(z.h(k), zc.h(k), atol=1e-12)
    np.testing.assert_allclose(z.dh(k), zc.dh(k), atol=1e-7)


# ------------------------------------------------------------------------------------------ Fe: Fermi scan
#: postw90 2.1 used CODATA 2006 (e, ħ); properspin uses scipy's CODATA 2018: e²/ħ differs by −3.67e-9 relative
CODATA2006_E2_OVER_HBAR = (1.602176487e-19**2 / 1.054571628e-34) / ps.units.E2_OVER_HBAR


@needs_fe
def test_fe_adaptive_fermi_scan_matches_postw90(fe_model):
    """benchmark-ahc-fermiscan.dat (Fe-adaptandfermi.win: berry_kmesh 10, berry_curv_adpt_kmesh 5, threshold
    10 Å², Fermi scan 11.6279 → 13.6279 eV): the refined energies of the scan where few points are refined
    (fast), to the printed digits once postw90's CODATA 2006 e²/ħ is used."""
    from properspin.adaptive import adaptive_fermi_scan
    from properspin.models.wannier.native import read_win
    from properspin.models.wannier.run import postw90_settings

    settings = postw90_settings(read_win(DATA / "Fe" / "Fe-adaptandfermi.win"), np.zeros(1))
    assert settings["berry_curv_adpt_kmesh"] == 5 and settings["berry_curv_adpt_kmesh_thresh"] == 10.0
    energies = np.array(settings["fermi_energies"])
    ref = np.loadtxt(DATA / "Fe" / "benchmark-ahc-fermiscan.dat")
    np.testing.assert_allclose(energies, ref[:, 0], atol=5e-7)
    pick = [4, 8, 10]  # 12.4279, 13.2279, 13.6279 eV: 4, 2 and 0 points refined
    res = adaptive_fermi_scan(fe_model, "charge", fermi=energies[pick], n=10, refine=5, threshold=10.0)
    assert ps.results.parameters(res, "adaptive_points_refined") == [4, 2, 0]
    s = ps.results.convert(res, "S/cm").values * CODATA2006_E2_OVER_HBAR
    got = np.column_stack([s[:, 1, 2], s[:, 2, 0], s[:, 0, 1]])
    np.testing.assert_allclose(got, ref[pick, 1:], atol=5.01e-7)  # printed with 6 decimals
    plain = ps.conductivity(fe_model, "charge", fermi=energies[pick[0]], mesh=ps.mesh.grid(10))
    assert abs(ps.results.convert(plain, "S/cm").values[0, 0, 1] - ref[pick[0], 3]) > 1.0  # refinement matters


@needs_fe
def test_fe_adaptive_without_refinement_is_the_plain_grid(fe_model):
    from properspin.adaptive import adaptive_fermi_scan

    res = adaptive_fermi_scan(fe_model, "charge", fermi=[12.6279], n=6, refine=5, threshold=1e12)
    plain = ps.conductivity(fe_model, "charge", fermi=12.6279, mesh=ps.mesh.grid(6))
    np.testing.assert_allclose(res.values, plain.values, rtol=1e-10, atol=1e-6)
    assert ps.results.parameters(res, "adaptive_points_refined") == [0]
