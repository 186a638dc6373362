"""Symmetrised Wannier models (properspin.models.wannier.symmetrize, .orbitals, .gauge; issue 21).

Representation matrices are checked as group homomorphisms; a synthetic run built from a Slater–Koster model with
mmm1' symmetry is left unchanged by the averaging (1e-12); a random run is made symmetric (energies at k and g k
equal, Kramers pairs degenerate, H(gk) = D H(k) D†) and the averaging is idempotent; the Pt and Fe runs of the
Wannier90 test suite give their magnetic groups, exact Kramers pairs (Pt) and band shifts within the reported bound.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from properspin.models.wannier import read_wannier90_run
from properspin.models.wannier.orbitals import (
    harmonic_rotation,
    operation_matrix,
    parse_projections,
    spinor_rotation,
    wannier_order,
)
from properspin.models.wannier.symmetrize import basis_from_win, representation, space_group, symmetrize_run

from .conftest import DATA, needs_data
from .w90files import ORTHO, write_run

PAULI = (np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0]))


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


# ---------------------------------------------------------------------------------------------- representations
def test_harmonic_rotation_is_an_orthogonal_homomorphism_with_parity() -> None:
    rng = np.random.default_rng(0)
    a, b = _random_rotation(rng), _random_rotation(rng)
    da, db, dab = harmonic_rotation(a), harmonic_rotation(b), harmonic_rotation(a @ b)
    assert np.abs(da @ db - dab).max() < 1e-12
    assert np.abs(da.T @ da - np.eye(16)).max() < 1e-12
    parity = np.concatenate([[1.0], -np.ones(3), np.ones(5), -np.ones(7)])  # (−1)^l
    assert np.abs(harmonic_rotation(-np.eye(3)) - np.diag(parity)).max() < 1e-12
    # p orbitals (pz, px, py) transform as the vector (z, x, y)
    perm = [2, 0, 1]
    assert np.abs(da[1:4, 1:4] - a[np.ix_(perm, perm)]).max() < 1e-12


def test_spinor_rotation_rotates_the_spin_and_is_projective() -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        p = _random_rotation(rng)
        p *= np.linalg.det(p)
        u = spinor_rotation(p)
        for i in range(3):  # U σ_i U† = Σ_j P_ji σ_j: the spin of Uχ is P times the spin of χ
            assert np.abs(u @ PAULI[i] @ u.conj().T - sum(p[j, i] * PAULI[j] for j in range(3))).max() < 1e-12
    c2 = np.diag([-1.0, -1.0, 1.0])  # a rotation by π: U² = −1 (double group)
    assert np.abs(spinor_rotation(c2) @ spinor_rotation(c2) + np.eye(2)).max() < 1e-12


def test_projections_order_hybrids_and_refusals() -> None:
    fe = parse_projections(["Fe: sp3d2;dxy;dxz;dyz"], ["Fe"], spinors=True)
    assert len(fe) == 1 and fe[0].coefficients.shape == (32, 18)
    assert np.abs(fe[0].coefficients.T @ fe[0].coefficients - np.eye(18)).max() < 1e-12
    # Wannier90's order: by l (the hybrid first), then mr (dxz, dyz, dxy), spin inner
    assert fe[0].labels[12:18] == ("Fe1:l=2,mr=2↑", "Fe1:l=2,mr=2↓", "Fe1:l=2,mr=3↑", "Fe1:l=2,mr=3↓",
                                   "Fe1:l=2,mr=5↑", "Fe1:l=2,mr=5↓")
    assert [j for _, j in wannier_order(fe)] == list(range(18))
    with pytest.raises(ValueError, match="only projections on atoms"):
        parse_projections(["f=0,0,0: s"], ["Pt"], True)
    with pytest.raises(ValueError, match="cannot be symmetrised"):
        parse_projections(["Pt: s:(u)"], ["Pt"], True)
    with pytest.raises(ValueError, match="not one of Wannier90"):
        parse_projections(["Pt: g"], ["Pt"], True)


def test_incomplete_shell_is_refused() -> None:
    """px alone is not closed under the fourfold axis of a cubic crystal."""
    lat = 2.0 * np.eye(3)
    ops, label = space_group(lat, np.zeros((1, 3)), ["X"], np.zeros((1, 3)))
    assert label == "m-3m1'" and len(ops) == 96
    projs = parse_projections(["X: px"], ["X"], spinors=True)
    with pytest.raises(ValueError, match="not closed"):
        for op in ops:
            representation(op, projs, True)


# ---------------------------------------------------------------------------------------------- synthetic runs
def sk_model(soc: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """s + p (pz, px, py) ⊗ spin on one atom, two-centre hoppings and on-site λ L·σ/2: invariant under O(3) × T."""
    rvec = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    ham = np.zeros((len(rvec), 8, 8), complex)
    lvec = np.zeros((3, 4, 4), complex)  # L in (s, pz, px, py): (L_k)_ij = −i ε_kij on (x, y, z)
    cart = {0: 2, 1: 3, 2: 1}  # Cartesian axis → index of p_axis
    for k, i, j in itertools.permutations(range(3)):
        eps = np.linalg.det(np.eye(3)[[k, i, j]])
        lvec[k, cart[i], cart[j]] = -1j * eps
    for r, rr in enumerate(rvec):
        orb = np.zeros((4, 4))
        if not rr.any():
            orb[np.diag_indices(4)] = [-1.0, 1.5, 1.5, 1.5]
            ham[r] = np.kron(orb, np.eye(2)) + soc * sum(np.kron(lvec[k], PAULI[k] / 2) for k in range(3))
            continue
        x = rr @ ORTHO
        dist = np.linalg.norm(x)
        d = x[[2, 0, 1]] / dist  # (z, x, y): the order of pz, px, py
        a, b, c, e = (v * np.exp(-dist) for v in (-0.8, 0.6, 0.2, 0.9))
        orb[0, 0] = a
        orb[0, 1:], orb[1:, 0] = b * d, -b * d
        orb[1:, 1:] = c * np.eye(3) + e * np.outer(d, d)
        ham[r] = np.kron(orb, np.eye(2))
    return rvec, ham


ATOM_WIN = "begin atoms_frac\nX 0 0 0\nend atoms_frac\nbegin projections\nX: s;p\nend projections"


@pytest.fixture(scope="module")
def symmetric_run(tmp_path_factory):
    data = write_run(tmp_path_factory.mktemp("sym"), norb=4, extra_win=ATOM_WIN, model=sk_model())
    return read_wannier90_run(data["seedname"])


@pytest.fixture(scope="module")
def random_run(tmp_path_factory):
    data = write_run(tmp_path_factory.mktemp("rnd"), norb=4, extra_win=ATOM_WIN, model_seed=3)
    return read_wannier90_run(data["seedname"])


@pytest.mark.parametrize("gauge", ["projections", "auto"])
def test_averaging_a_symmetric_run_changes_nothing(symmetric_run, gauge) -> None:
    sym = symmetrize_run(symmetric_run, wannier_gauge=gauge)
    rep = sym.options["symmetrization"]
    assert rep["group"] == "mmm1'" and rep["order"] == 16 and rep["magnetization"] is None
    assert set(rep["removed"]) == {"H", "A", "S", "SH", "SR", "SHR"}
    for name, entry in rep["removed"].items():
        assert entry["max_abs"] < 1e-12, (name, entry)


def test_random_run_becomes_symmetric_and_averaging_is_idempotent(random_run) -> None:
    sym = symmetrize_run(random_run, magnetization=[0, 0, 0], wannier_gauge="projections")
    assert sym.options["symmetrization"]["group"] == "mmm1'"
    assert sym.options["symmetrization"]["removed"]["H"]["max_abs"] > 0.1  # a random model is far from symmetric
    again = symmetrize_run(sym, wannier_gauge="projections")
    assert again.options["symmetrization"]["magnetization"] is None  # found non-magnetic by itself now
    for name, entry in again.options["symmetrization"]["removed"].items():
        assert entry["max_abs"] < 1e-12, (name, entry)
    model, before = sym.model(), random_run.model()
    rng = np.random.default_rng(5)
    k = rng.random((6, 3)) @ model.reciprocal
    e = np.linalg.eigvalsh(model.h(k))
    assert np.abs(e[:, 1::2] - e[:, 0::2]).max() < 1e-12  # P·T: Kramers pairs
    shift = np.abs(e - np.linalg.eigvalsh(before.h(k))).max()
    assert shift <= sym.options["symmetrization"]["removed"]["H"]["band_shift_bound_eV"]
    basis = basis_from_win(sym.win, sym.num_wann)
    ops, _ = space_group(basis.lattice, basis.positions, basis.species, np.zeros((1, 3)))
    for op in ops:  # H(g k) = D H(k) D† (unitary) or D H(k)* D† (with T), D on the Wannier functions
        d = basis.projections[0].coefficients.T @ operation_matrix(op.cartesian, op.time_reversal, True) @ \
            basis.projections[0].coefficients
        hk = model.h(k)
        hk = hk.conj() if op.time_reversal else hk
        kg = k @ (-op.cartesian if op.time_reversal else op.cartesian).T
        assert np.abs(model.h(kg) - d @ hk @ d.conj().T).max() < 1e-11
    spin = model.spin_at(k)  # S(gk) = det(S) S · D S(k) D† (axial, T-odd)
    op = next(o for o in ops if not o.time_reversal and np.abs(o.cartesian - np.eye(3)).max() > 0.5)
    d = basis.projections[0].coefficients.T @ operation_matrix(op.cartesian, False, True) @ \
        basis.projections[0].coefficients
    law = np.linalg.det(op.cartesian) * op.cartesian
    rotated = np.einsum("ij,jkmn->ikmn", law, d @ spin @ d.conj().T)
    assert np.abs(model.spin_at(k @ op.cartesian.T) - rotated).max() < 1e-11


def test_wrong_projection_count_and_bad_options_are_refused(tmp_path, symmetric_run) -> None:
    data = write_run(tmp_path, norb=4, extra_win=ATOM_WIN.replace("s;p", "p"), model=sk_model())
    with pytest.raises(ValueError, match="projections give 6 Wannier functions, num_wann is 8"):
        read_wannier90_run(data["seedname"], symmetrize=True)
    with pytest.raises(ValueError, match="magnetization must be a 3-vector"):
        symmetrize_run(symmetric_run, magnetization=[0, 1])
    with pytest.raises(ValueError, match="symprec must be a positive"):
        symmetrize_run(symmetric_run, symprec=-1.0)
    with pytest.raises(ValueError, match="wannier_gauge must be"):
        symmetrize_run(symmetric_run, wannier_gauge="best")


# ---------------------------------------------------------------------------------------------- real runs
PT = DATA / "wannier90" / "Pt" / "Pt"
FE = DATA / "wannier90" / "Fe" / "Fe"


@pytest.fixture(scope="module")
def pt_runs():
    run = read_wannier90_run(PT)
    return run, symmetrize_run(run, wannier_gauge="fit")  # "auto" picks it too (docs/wannier90-native.md)


@pytest.mark.slow
@needs_data("wannier90/Pt/Pt.win", "wannier90/Pt/Pt.chk.fmt.bz2", "wannier90/Pt/Pt.spn.bz2")
def test_pt_symmetrised_kramers_pairs_and_band_shift(pt_runs) -> None:
    run, sym = pt_runs
    rep = sym.options["symmetrization"]
    assert rep["group"] == "m-3m1'" and rep["order"] == 96 and rep["magnetization"] is None
    # maximal localisation made hybrids: the fitted on-site gauge, not the bare projections, describes them
    assert rep["gauge_fit"]["null_dimension"] == 8  # commutant of s+p+d ⊗ ½
    removed = rep["removed"]["H"]["max_abs"]
    assert 0.01 < removed < 0.06  # eV: the model's own asymmetry (Kramers pairs were split by up to ≈ 40 meV)
    model, before = sym.model(), run.model()
    k = np.random.default_rng(11).random((20, 3)) @ model.reciprocal
    e, e0 = np.linalg.eigvalsh(model.h(k)), np.linalg.eigvalsh(before.h(k))
    assert np.abs(e[:, 1::2] - e[:, 0::2]).max() < 1e-10
    assert np.abs(e0[:, 1::2] - e0[:, 0::2]).max() > 1e-3  # the run as read is not Kramers-degenerate
    assert np.abs(e - e0).max() <= removed * run.num_wann  # bands move by no more than the removed asymmetry ...
    assert np.abs(e - e0).max() <= rep["removed"]["H"]["band_shift_bound_eV"]  # ... and its Weyl bound
    assert model.info["qiao_ill_conditioned_pairs"] == 0  # the D-threshold artefact is gone
    again = symmetrize_run(sym, wannier_gauge="fit")
    for name, entry in again.options["symmetrization"]["removed"].items():
        assert entry["max_abs"] < 1e-11, (name, entry)


@needs_data("wannier90/Fe/Fe.win", "wannier90/Fe/Fe.chk.fmt.bz2", "wannier90/Fe/Fe.mmn.bz2")
def test_fe_magnetic_group_and_idempotence() -> None:
    sym = read_wannier90_run(FE, symmetrize=True)
    rep = sym.options["symmetrization"]
    assert rep["group"] == "4/mmm(4/m)" and rep["order"] == 16  # 4/mm'm' with m ∥ z
    assert abs(abs(rep["magnetization"][2]) - 1) < 1e-9
    assert rep["wannier_gauge"] == "projections"  # Fe's functions transform like sp3d2; dxy; dxz; dyz
    assert rep["removed"]["H"]["max_abs"] < 1e-5
    again = symmetrize_run(sym, wannier_gauge="projections")
    for name, entry in again.options["symmetrization"]["removed"].items():
        assert entry["max_abs"] < 1e-12, (name, entry)
    assert read_wannier90_run(FE, symmetrize=True, magnetization=[0, 0, 0], wannier_gauge="projections").options[
        "symmetrization"]["group"] \
        == "m-3m1'"


@needs_data("Fe_tb.dat")
def test_fe_tb_dat_symmetrised_with_a_win(tmp_path) -> None:
    """A _tb.dat needs the structure and projections: a .win beside it (README: Fe: sp3d2; dxy; dxz; dyz,
    spinors, num_iter = 0, m ∥ −z): the projected functions transform like the projections."""
    from properspin.models.wannier import read_tb, wannier90

    wh = read_tb(DATA / "Fe_tb.dat")
    cell = "\n".join(" ".join(f"{x:.10f}" for x in row) for row in wh.lattice)
    win = tmp_path / "Fe.win"
    win.write_text(f"num_wann = 18\nspinors = true\nbegin unit_cell_cart\nang\n{cell}\nend unit_cell_cart\n"
                   "begin atoms_frac\nFe 0 0 0\nend atoms_frac\nbegin projections\nFe: sp3d2;dxy;dxz;dyz\n"
                   "end projections\n")
    model = wannier90(DATA / "Fe_tb.dat", spinor_order="interleaved", symmetrize=win)
    rep = model.info["symmetrization"]
    assert rep["group"] == "4/mmm(4/m)" and abs(abs(rep["magnetization"][2]) - 1) < 1e-6
    assert rep["wannier_gauge"] == "projections" and set(rep["removed"]) == {"H", "A"}
    assert rep["removed"]["H"]["max_abs"] < 1e-5  # eV: the file is symmetric to its printed digits
    before = wannier90(DATA / "Fe_tb.dat", spinor_order="interleaved")
    k = np.random.default_rng(2).random((5, 3)) @ model.reciprocal
    shift = np.abs(np.linalg.eigvalsh(model.h(k)) - np.linalg.eigvalsh(before.h(k))).max()
    assert shift <= rep["removed"]["H"]["band_shift_bound_eV"]
    with pytest.raises(ValueError, match="spinor_order must be"):
        wannier90(DATA / "Fe_tb.dat", spinor_order="odd", symmetrize=win)


def test_run_file_and_info_symmetrize(symmetric_run, tmp_path, capsys) -> None:
    """``symmetrize = true`` in [model.wannier90_run] and ``properspin info --symmetrize`` report the group and
    the removed asymmetry (zero here: the synthetic run is symmetric)."""
    from properspin.cli import main
    from properspin.config import build_model, load_config

    seed = symmetric_run.seedname
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'[model.wannier90_run]\nseedname = "{seed}"\nsymmetrize = true\nwannier_gauge = "projections"\n'
                   '[calculation]\nresponses = ["proper_spin"]\n')
    model = build_model(load_config(cfg), cfg)
    rep = model.info["symmetrization"]
    assert model.parameters["symmetrize"] is True and rep["group"] == "mmm1'"
    assert rep["removed"]["H"]["max_abs"] < 1e-12
    assert main(["info", seed, "--symmetrize"]) == 0
    out = capsys.readouterr().out
    assert "symmetrised: group mmm1' (16 operations, non-magnetic" in out and "removed SHR" in out
    cfg.write_text(f'[model.wannier90_run]\nseedname = "{seed}"\nwannier_gauge = "best"\n'
                   '[calculation]\nresponses = ["proper_spin"]\n')
    with pytest.raises(Exception, match="wannier_gauge"):
        build_model(load_config(cfg), cfg)
