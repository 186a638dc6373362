"""Native Wannier90 runs: readers, the operators postw90 builds, and postw90's numbers for bcc Fe."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import properspin as ps
from properspin.geometry import band_geometry
from properspin.models import wannier90_run
from properspin.models.wannier.native import read_chk, read_spn, write_chk_unformatted
from properspin.models.wannier.run import read_wannier90_run, wigner_seitz, ws_distance_table

from .w90files import bloch, copy_run, write_run

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
    """A model with S(k) (spin_k) runs every response (the compiled kernel takes S(k) for proper, conventional,
    torque dipole) and matches the same physics with the constant spin operator, which is what S(k) is here."""
    model = wannier90_run(synthetic["seedname"])
    const = ps.Model(model.hamiltonian, model.gradient, synthetic["spin"], 3, reciprocal=model.reciprocal,
                     position=model.position, position_gradient=model.position_gradient)
    from properspin import kernels

    conv = ps.responses.get("conventional_spin")
    assert kernels.supports(conv, const) and kernels.supports(conv, model)
    assert ps.responses.get("conventional_spin", method="qiao").fused_mode is not None  # Qiao: compiled kernel
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


# ------------------------------------------------------------------------------------------ Pt: spin Hall
PT = DATA / "Pt" / "Pt"
#: WannierBerri 26.10 (benchmarks/bench_wannierberri.py, its own readers and formulas; not computed by properspin):
#: dynamic SHC, Qiao spin current, Lorentzian η = 0.1 eV, ω = 0, E_F = 18.3823 eV, Γ-centred 6³ grid, no ws distance,
#: σ^z_xy in (ħ/e) S/m.
WB_PT_QIAO_6 = 170364.0826030753


@pytest.fixture(scope="module")
def pt_model():
    if not (DATA / "Pt" / "Pt.win").is_file():
        pytest.skip(f"real-data run {PT} absent (no ../shared/data)")
    return wannier90_run(PT)


def test_pt_qiao_threshold_warns_where_ab_initio_pairs_are_nearly_degenerate():
    """Pt's Kramers pairs at the ab-initio k-points are split by µeV, above postw90's D threshold 1e-7 eV: the Qiao
    current is then ill-conditioned on grids holding those points, and a calculation with it says so (reading the
    run, or a response without the Qiao current, does not); a threshold above the splittings gives no warning."""
    from properspin.models.wannier.run import QiaoConditioningWarning

    if not (DATA / "Pt" / "Pt.win").is_file():
        pytest.skip(f"real-data run {PT} absent (no ../shared/data)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", QiaoConditioningWarning)
        run = read_wannier90_run(PT)  # reading is silent: the proper spin current does not use the Qiao operator
        model = run.model()
        ps.conductivity(model, "proper_spin", fermi=[18.3823], mesh=ps.mesh.grid(2), degeneracy_tol=0.05)
        calm = read_wannier90_run(PT, spin_current_tol=1e-5)
        _shc(calm.model(), "qiao", 2)
    assert run.describe()["qiao_ill_conditioned_pairs"] > 100  # every Kramers pair at the 64 ab-initio k-points
    assert calm.describe()["qiao_ill_conditioned_pairs"] == 0
    with pytest.warns(QiaoConditioningWarning, match="spin_current_tol"):
        _shc(model, "qiao", 2)


def _shc(model, method: str, n: int, eta: float = 0.1, **params):
    resp = ps.responses.get("conventional_spin", method=method, broadening=eta, **params)
    res = ps.conductivity(model, resp, fermi=18.3823, mesh=ps.mesh.grid(n))
    return ps.results.convert(res, "(hbar/e) S/m").values[0]  # (spin, current, field)


def test_pt_qiao_symmetry_and_wannierberri(pt_model):
    """Cubic Pt: σ^z_xy = −σ^z_yx = σ^x_yz = σ^y_zx, every other element ≈ 0 (to the symmetry breaking of the
    Wannier interpolation, ~1 %); and the independent WannierBerri number on the same files and grid."""
    s = _shc(pt_model, "qiao", 6)
    big = s[2, 0, 1]
    assert abs(big / WB_PT_QIAO_6 - 1) < 1e-6
    assert 1e5 < big < 2.5e5  # ~1700 (ħ/e) S/cm
    for spin, a, b in ((2, 0, 1), (0, 1, 2), (1, 2, 0)):
        assert abs(s[spin, a, b] / big - 1) < 0.02 and abs(s[spin, b, a] / big + 1) < 0.02
    mask = np.ones_like(s, dtype=bool)
    for spin, a, b in ((2, 0, 1), (0, 1, 2), (1, 2, 0)):
        mask[spin, a, b] = mask[spin, b, a] = False
    assert np.abs(s[mask]).max() < 0.01 * big
    simple = _shc(pt_model, "simple", 6)
    assert 0.002 < abs(simple[2, 0, 1] / big - 1) < 0.05  # the ab-initio spin current differs from ½{s, v}


def test_pt_qiao_gauge_invariance_and_eigval_max(pt_model):
    k = np.random.default_rng(7).uniform(-0.5, 0.5, (6, 3)) @ pt_model.reciprocal
    h = pt_model.h(k)
    e, u = np.linalg.eigh(h)
    phases = np.exp(2j * np.pi * np.random.default_rng(8).random(u.shape[::2]))[:, None, :]
    from properspin.geometry import conventional_spin_curvature, geometry_from_eigenvectors

    q1 = conventional_spin_curvature(geometry_from_eigenvectors(pt_model, k, h, e, u, 1e-6), 0.1, "qiao")
    q2 = conventional_spin_curvature(geometry_from_eigenvectors(pt_model, k, h, e, u * phases, 1e-6), 0.1, "qiao")
    np.testing.assert_allclose(q2, q1, atol=1e-9 * np.abs(q1).max())
    w = np.linalg.qr(np.random.default_rng(9).normal(size=(18, 18)) + 1j * np.random.default_rng(10).normal(
        size=(18, 18)))[0]
    rotated = pt_model.transformed(w)
    q3 = conventional_spin_curvature(band_geometry(rotated, k), 0.1, "qiao")
    np.testing.assert_allclose(q3, q1, atol=1e-8 * np.abs(q1).max())
    # every unoccupied band dropped (kubo_eigval_max = E_F): no occupied–empty pair is left
    cut = _shc(pt_model, "qiao", 3, eigval_max=18.3823)
    assert np.abs(cut).max() < 1e-6 * np.abs(_shc(pt_model, "qiao", 3)).max()
    np.testing.assert_allclose(_shc(pt_model, "qiao", 3, eigval_max=1000.0), _shc(pt_model, "qiao", 3), rtol=0,
                               atol=1e-9)


def test_pt_run_reads_spin_and_settings(pt_model):
    info = pt_model.info
    assert info["spin_operator"].startswith(".spn:") and info["qiao_spin_current"]
    p = info["postw90"]
    assert (p["shc_alpha"], p["shc_beta"], p["shc_gamma"]) == (3, 2, 1) and p["kubo_smr_fixed_en_width"] == 0.1
    assert p["kubo_eigval_max"] == 1000.0 and not p["use_ws_distance"] and p["fermi_energies"] == [18.3823]
    k = np.random.default_rng(11).uniform(-1, 1, (4, 3)) @ pt_model.reciprocal
    s = pt_model.spin_at(k)
    assert s.shape == (3, 4, 18, 18) and np.abs(s - s.conj().swapaxes(-1, -2)).max() < 1e-12
    # at the ab-initio k-points S(q) = V†(σ/2)V projects σ/2 on the Wannier space: |eigenvalues| ≤ ½, not all ½
    from properspin.models.wannier.native import read_win

    q = read_win(Path(str(PT) + ".win")).kpoints()[:8] @ pt_model.reciprocal
    ev = np.linalg.eigvalsh(pt_model.spin_at(q)[2])
    assert np.abs(ev).max() < 0.5 + 1e-9 and np.abs(np.abs(ev) - 0.5).max() > 1e-3


# ------------------------------------------------------------------------------------------ bad input
def test_missing_files_are_named(synthetic, tmp_path):
    seed = copy_run(synthetic, tmp_path / "a")
    Path(seed + ".eig").unlink()
    with pytest.raises(FileNotFoundError, match=r"syn\.eig: no such file.*eigenvalues"):
        wannier90_run(seed)
    seed = copy_run(synthetic, tmp_path / "b")
    Path(seed + ".chk.fmt").unlink()
    with pytest.raises(FileNotFoundError, match=r"syn\.chk\.fmt: no such file.*checkpoint"):
        wannier90_run(seed)


def test_missing_spn_for_a_spin_response(synthetic, tmp_path):
    seed = copy_run(synthetic, tmp_path / "a")
    Path(seed + ".spn").unlink()
    model = wannier90_run(seed)  # fine for charge
    assert model.spin_k is None and model.spin_current is None
    ps.conductivity(model, "charge", fermi=0.1, mesh=ps.mesh.grid(2))
    for name in ("conventional_spin", "proper_spin", "torque"):
        with pytest.raises(ValueError, match=r"needs a spin operator.*syn\.spn not found"):
            ps.conductivity(model, name, fermi=0.1, mesh=ps.mesh.grid(2))
    with pytest.raises(FileNotFoundError, match=r"syn\.spn: no such file"):
        wannier90_run(seed, spin=True)
    with pytest.raises(ValueError, match="needs a model with ab-initio spin-current"):
        ps.conductivity(wannier90_run(synthetic["seedname"], spin_current=False),
                        ps.responses.get("conventional_spin", method="qiao"), fermi=0.1, mesh=ps.mesh.grid(2))


@pytest.mark.parametrize("name", ["mmn", "eig", "chk.fmt", "spn"])
def test_truncated_files(synthetic, tmp_path, name):
    seed = copy_run(synthetic, tmp_path)
    path = Path(f"{seed}.{name}")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[: len(lines) - 7]) + "\n")
    with pytest.raises(ValueError, match=rf"syn\.{re.escape(name)}.*truncated"):
        wannier90_run(seed)


def test_unformatted_files_truncated_or_corrupt(synthetic, tmp_path):
    seed = copy_run(synthetic, tmp_path / "a")
    write_chk_unformatted(read_chk(Path(seed + ".chk.fmt")), Path(seed + ".chk"))
    ref = read_wannier90_run(seed)
    assert ref.files["chk"].endswith("syn.chk")
    data = Path(seed + ".chk").read_bytes()
    Path(seed + ".chk").write_bytes(data[:-40])
    with pytest.raises(ValueError, match=r"syn\.chk: record \d+ \(wannier_spreads\).*truncated"):
        wannier90_run(seed)
    bad = bytearray(data)
    bad[4 + 33] ^= 0x01  # the trailing marker of the header record (33 characters)
    Path(seed + ".chk").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match=r"syn\.chk: record 1 \(header\): corrupt record markers"):
        wannier90_run(seed)
    other = write_run(tmp_path / "b", spn_formatted=False)
    spn = Path(other["seedname"] + ".spn").read_bytes()
    start = (4 + 60 + 4) + (4 + 8 + 4)  # record 3: the spin matrices of k-point 1
    n = int.from_bytes(spn[start : start + 4], "little")
    end = start + 4 + n
    Path(other["seedname"] + ".spn").write_bytes(spn[:end] + (n + 16).to_bytes(4, "little") + spn[end + 4 :])
    with pytest.raises(ValueError, match=r"syn\.spn: record 3 \(spin matrices of k-point 1\): corrupt record markers: "
                                         rf"leading {n}, trailing {n + 16}"):
        wannier90_run(other["seedname"])


def test_files_of_another_run(synthetic, tmp_path):
    """A checkpoint, .eig, .mmn or .spn of another run: num_wann, num_bands, k-grid or lattice disagree."""
    bigger = write_run(tmp_path / "n6", norb=3)  # num_wann 6
    coarser = write_run(tmp_path / "mp3", mp=3)  # 27 k-points
    stretched = write_run(tmp_path / "lat", lattice=np.diag([2.1, 2.6, 3.5]))
    cases = [(bigger, "chk.fmt", r"num_wann 6 in the checkpoint, 4 in the \.win"),
             (coarser, "chk.fmt", r"mp_grid \[3, 3, 3\] in the checkpoint"),
             (stretched, "chk.fmt", "lattice vectors differ"),
             (coarser, "eig", r"syn\.eig: num_bands × num_kpts = 4 × 27 \(its last line\), but the checkpoint has "
                              r"4 × 64: a file of another run"),  # before: "truncated"
             (bigger, "mmn", r"syn\.mmn: num_bands, num_kpts, nntot = 6, 64, 6"),
             (coarser, "spn", r"syn\.spn: num_kpts = 27, but the run has 64"),
             (coarser, "mmn", r"syn\.mmn: num_bands, num_kpts, nntot = 4, 27, 6 but the checkpoint")]
    for i, (other, name, message) in enumerate(cases):
        seed = copy_run(synthetic, tmp_path / f"case{i}")
        shutil.copy(Path(f"{other['seedname']}.{name}"), Path(f"{seed}.{name}"))
        with pytest.raises(ValueError, match=message):
            wannier90_run(seed)


def test_malformed_win(synthetic, tmp_path):
    seed = copy_run(synthetic, tmp_path)
    win = Path(seed + ".win")
    text = win.read_text()
    win.write_text(text.replace("end unit_cell_cart", ""))
    with pytest.raises(ValueError, match=r"syn\.win, line \d+: 'begin kpoints' inside block 'unit_cell_cart'"):
        wannier90_run(seed)
    win.write_text(text.replace("berry_kmesh = 6", "berry_kmesh = six"))
    with pytest.raises(ValueError, match=r"syn\.win: berry_kmesh = 'six': expected 3 integers"):
        wannier90_run(seed)
    win.write_text(text + "num_wann = 4\n")
    with pytest.raises(ValueError, match="given twice"):
        wannier90_run(seed)


# ------------------------------------------------------------------------------------------ run files, CLI
def test_run_file_with_a_wannier90_seedname(synthetic, tmp_path, capsys):
    """[model.wannier90_run]: Fermi energy and berry_kmesh from the .win, response parameters, Wannier units."""
    from properspin.cli import main
    from properspin.config import ConfigError, run_config

    toml = tmp_path / "run.toml"
    toml.write_text(f"""
[model.wannier90_run]
seedname = "{synthetic['seedname']}"

[calculation]
responses = ["charge", "conventional_spin"]

[calculation.parameters.conventional_spin]
method = "qiao"
broadening = 0.05

[output]
path = "out"
formats = ["netcdf"]
units = "wannier"
""")
    res = run_config(toml)
    model = wannier90_run(synthetic["seedname"])
    direct = ps.conductivity(model, ps.responses.get("conventional_spin", method="qiao", broadening=0.05),
                             fermi=0.1, mesh=ps.mesh.grid(6))
    got = res["conventional_spin"]
    assert got.attrs["units"] == "(hbar/e) S/cm" and res["charge"].attrs["units"] == "S/cm"
    np.testing.assert_allclose(got.values, 0.5e-2 * direct.values, rtol=1e-12, atol=1e-12)
    assert ps.results.parameters(got, "response_parameters")["method"] == "qiao"
    assert ps.results.parameters(got, "mesh_n") == [6, 6, 6]
    back = ps.results.convert(got, "(hbar/2e) S/m")
    np.testing.assert_allclose(back.values, direct.values, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="cannot convert"):
        ps.results.convert(got, "S/cm")
    assert main(["info", synthetic["seedname"]]) == 0
    out = capsys.readouterr().out
    assert "num_wann 4, num_bands 4" in out and "use_ws_distance false" in out and "Qiao" in out
    toml.write_text(toml.read_text().replace('method = "qiao"', 'method = "kubo"'))
    with pytest.raises(ConfigError, match="calculation.parameters.conventional_spin: method must be"):
        run_config(toml)
    toml.write_text(toml.read_text().replace(synthetic["seedname"], str(tmp_path / "nothing")))
    with pytest.raises(ConfigError, match=r"model\.wannier90_run\.seedname: .*nothing\.win: no such file"):
        run_config(toml)


# ------------------------------------------------------------------------------------------ ac spin Hall
#: WannierBerri 26.10 dynamic.SHC (Qiao, Lorentzian η = 0.1 eV, ħω = 1 eV, 6³, E_F = 18.3823 eV; not computed by
#: properspin): σ^z_xy(ω) = Re + i Im in (ħ/e) S/m.
WB_PT_QIAO_AC_1EV = complex(73912.93082743, 255536.267)


def test_pt_ac_spin_hall(pt_model):
    """σ(ω) with postw90's fixed-η formula: ω = 0 is the static response, WannierBerri's ac number at 1 eV, and
    the Kubo tail far above every interband energy."""
    def ac(omega: float, n: int = 6) -> np.ndarray:
        resp = ps.responses.get("conventional_spin_ac", method="qiao", broadening=0.1, frequency=omega)
        res = ps.conductivity(pt_model, resp, fermi=18.3823, mesh=ps.mesh.grid(n), degeneracy_tol=1e-7)
        assert list(res.coords["part"].values) == ["re", "im"]
        return ps.results.convert(res, "(hbar/e) S/m").values[0]  # (part, spin, current, field)

    static = _shc(pt_model, "qiao", 4)
    zero = ac(0.0, 4)
    np.testing.assert_allclose(zero[0], static, rtol=0, atol=1e-9 * np.abs(static).max())
    assert np.abs(zero[1]).max() < 1e-9 * np.abs(static).max()
    one = ac(1.0)
    got = complex(one[0, 2, 0, 1], one[1, 2, 0, 1])
    assert abs(got / WB_PT_QIAO_AC_1EV - 1) < 1e-6
    far1, far2 = ac(1000.0, 3), ac(2000.0, 3)  # far above every transition: Re σ ∝ ω⁻², Im σ ∝ η ω⁻³
    i = np.unravel_index(np.argmax(np.abs(far1[0])), far1[0].shape)
    assert abs(far2[0][i] / far1[0][i] - 0.25) < 1e-3 and np.abs(far1[0]).max() < 1e-3 * np.abs(ac(0.0, 3)).max()
    assert abs(far2[1][i] / far1[1][i] - 0.125) < 1e-2
    with pytest.raises(ValueError, match="needs a broadening"):
        ps.responses.get("conventional_spin_ac", frequency=1.0)
    with pytest.raises(ValueError, match="frequency must be"):
        ps.responses.get("conventional_spin_ac", frequency=-1.0, broadening=0.1)


def test_synthetic_ac_qiao_equals_simple(synthetic):
    model = wannier90_run(synthetic["seedname"])
    resp = {m: ps.responses.get("conventional_spin_ac", method=m, broadening=0.05, frequency=0.7)
            for m in ("qiao", "simple")}
    a, b = (ps.conductivity(model, resp[m], fermi=0.1, mesh=ps.mesh.grid(3)).values for m in ("qiao", "simple"))
    np.testing.assert_allclose(a, b, atol=1e-9 * np.abs(b).max())
    assert np.abs(b[0, 1]).max() > 1.0  # a finite imaginary (absorptive) part at 0.7 eV
