"""Wannier90 readers/writers, the tight-binding builder, and the real bcc-Fe ``_tb.dat``."""

from __future__ import annotations

import importlib
import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import properspin
from properspin.model import PAULI, SPIN_HALF
from properspin.models.tight_binding import TightBinding, haldane, qwz_lattice
from properspin.models.wannier import (
    BOHR_ANGSTROM,
    WannierHamiltonian,
    read_hr,
    read_tb,
    read_win_lattice,
    wannier90,
    write_hr,
    write_tb,
)

from .conftest import FE, needs_fe

LATTICE = np.array([[2.0, 0.1, 0.0], [0.3, 2.5, 0.2], [0.0, -0.4, 3.1]])


def random_wannier(n: int = 4, seed: int = 0, deg: bool = True) -> WannierHamiltonian:
    """Random Hermitian model on R ∈ {-1,0,1}³ with H(−R) = H(R)†, r(−R) = r(R)†, symmetric deg."""
    rng = np.random.default_rng(seed)
    rvec = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    index = {tuple(r): i for i, r in enumerate(rvec.tolist())}

    def cplx(*shape: int) -> np.ndarray:
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)

    ham = np.zeros((27, n, n), complex)
    pos = np.zeros((27, 3, n, n), complex)
    degs = np.ones(27, int)
    for i, r in enumerate(rvec.tolist()):
        j = index[tuple(-x for x in r)]
        if i < j:
            ham[i], pos[i] = cplx(n, n), 0.1 * cplx(3, n, n)
            ham[j], pos[j] = ham[i].conj().T, pos[i].conj().transpose(0, 2, 1)
            degs[i] = degs[j] = rng.integers(1, 3) if deg else 1
        elif i == j:
            h, p = cplx(n, n), cplx(3, n, n)
            ham[i], pos[i] = h + h.conj().T, p + p.conj().transpose(0, 2, 1)
    return WannierHamiltonian(LATTICE, rvec, degs, ham, pos, "random test model")


def random_k(model, count: int = 20, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (count, model.dim)) @ model.reciprocal


def chern_lower(model, n: int = 40) -> float:
    """Lower-band Chern number (1/2π)∫Ω, Ω = −2 Im Σ <0|∂xH|1><1|∂yH|0>/(ε0−ε1)², on an n² grid."""
    f = (np.arange(n) + 0.5) / n
    k = np.stack(np.meshgrid(f, f, indexing="ij"), -1).reshape(-1, 2) @ model.reciprocal
    e, v = np.linalg.eigh(model.h(k))
    gx, gy = (v.conj().transpose(0, 2, 1) @ g @ v for g in model.dh(k))
    omega = -2 * np.imag(gx[:, 0, 1] * gy[:, 1, 0]) / (e[:, 0] - e[:, 1]) ** 2
    area = abs(np.linalg.det(model.reciprocal))
    return float(omega.sum() * area / n**2 / (2 * np.pi))


# --------------------------------------------------------------------------------------- round trips
def test_roundtrip_random_model_both_formats(tmp_path):
    wh = random_wannier()
    ref = wh.to_model()
    write_tb(tmp_path / "x_tb.dat", wh)
    write_hr(tmp_path / "x_hr.dat", wh)
    m_tb = wannier90(tmp_path / "x_tb.dat")
    m_hr = wannier90(tmp_path / "x_hr.dat", lattice=LATTICE)
    k = random_k(ref)
    for m in (m_tb, m_hr):
        np.testing.assert_allclose(m.h(k), ref.h(k), atol=1e-12)
        np.testing.assert_allclose(m.dh(k), ref.dh(k), atol=1e-12)
    np.testing.assert_allclose(m_tb.position(k), ref.position(k), atol=1e-13)
    assert m_hr.position is None
    back = read_tb(tmp_path / "x_tb.dat")
    np.testing.assert_array_equal(back.deg, wh.deg)
    np.testing.assert_array_equal(back.rvec, wh.rvec)
    np.testing.assert_allclose(back.lattice, LATTICE, atol=0)


def test_roundtrip_builder_model(tmp_path):
    tb = haldane(t1=1.0, t2=0.15, phi=0.7, M=0.2)
    ref = tb.to_model()
    wh = tb.to_wannier()
    write_hr(tmp_path / "hal_hr.dat", wh)
    write_tb(tmp_path / "hal_tb.dat", wh)
    from_hr = wannier90(tmp_path / "hal_hr.dat", lattice=wh.lattice, dim=2)
    from_tb = wannier90(tmp_path / "hal_tb.dat", dim=2)
    k = random_k(ref)
    for m in (from_hr, from_tb):
        assert m.dim == 2
        np.testing.assert_allclose(m.reciprocal, ref.reciprocal, atol=1e-14)
        np.testing.assert_allclose(m.h(k), ref.h(k), atol=1e-13)
        np.testing.assert_allclose(m.dh(k), ref.dh(k), atol=1e-13)
    np.testing.assert_allclose(from_tb.position(k), ref.position(k), atol=1e-14)
    # reading as 3D works too (the vacuum direction is flat)
    m3 = wannier90(tmp_path / "hal_tb.dat")
    k3 = np.column_stack([k, np.linspace(-1, 1, len(k))])
    np.testing.assert_allclose(m3.h(k3), ref.h(k), atol=1e-13)


def test_analytic_gradient_matches_finite_differences():
    model = random_wannier(seed=3).to_model()
    k = random_k(model, 10)
    fd = replace(model, gradient=None, fd_step=1e-4).dh(k)
    np.testing.assert_allclose(model.dh(k), fd, atol=1e-8 * np.abs(fd).max())


def test_degeneracy_weight_halves_contribution():
    n = 2
    rng = np.random.default_rng(5)
    t = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    h0 = np.diag([0.3, -0.2]).astype(complex)
    rvec = [[0, 0, 0], [1, 0, 0], [-1, 0, 0]]
    full = WannierHamiltonian(np.eye(3), rvec, [1, 1, 1], [h0, t / 2, t.conj().T / 2])
    weighted = WannierHamiltonian(np.eye(3), rvec, [1, 2, 2], [h0, t, t.conj().T])
    k = np.random.default_rng(6).uniform(-4, 4, (30, 3))
    a, b = full.to_model(), weighted.to_model()
    np.testing.assert_allclose(b.h(k), a.h(k), atol=1e-14)
    np.testing.assert_allclose(b.dh(k), a.dh(k), atol=1e-14)
    kx = k[:, 0, None, None]
    np.testing.assert_allclose(b.h(k), h0 + (np.exp(1j * kx) * t + np.exp(-1j * kx) * t.conj().T) / 2)
    assert b.h(k).shape == (30, 2, 2)  # Model.h checks Hermiticity


def test_degeneracy_roundtrip_through_file(tmp_path):
    wh = random_wannier(seed=7)
    assert set(wh.deg.tolist()) == {1, 2}
    write_hr(tmp_path / "d_hr.dat", wh)
    back = read_hr(tmp_path / "d_hr.dat", lattice=LATTICE)
    np.testing.assert_array_equal(back.deg, wh.deg)
    k = random_k(wh.to_model())
    np.testing.assert_allclose(back.to_model().h(k), wh.to_model().h(k), atol=1e-12)


# --------------------------------------------------------------------------------------- spin order
def spinful_builder() -> TightBinding:
    """2 orbitals × spin on a square lattice with Rashba-like SOC and an exchange field (interleaved)."""
    tb = TightBinding(np.eye(2) * 3.0, np.zeros((4, 2)), spin="interleaved")
    tau_z = np.diag([1.0, -1.0])
    tau_x = np.array([[0.0, 1.0], [1.0, 0.0]])
    sx, sy, sz = PAULI
    tb.add_block(np.kron(0.4 * tau_z, np.eye(2)) + np.kron(np.eye(2), 0.05 * sz + 0.02 * sx), (0, 0))
    tb.add_block(np.kron(-0.5 * tau_z + 0.1 * tau_x, np.eye(2)) - 0.08j * np.kron(tau_z, sy), (1, 0))
    tb.add_block(np.kron(-0.3 * tau_z, np.eye(2)) + 0.08j * np.kron(tau_z, sx), (0, 1))
    tb.add_block(0.03j * np.kron(tau_x, sz), (1, 1))
    return tb


def test_block_and_interleaved_orders_agree(tmp_path):
    wh = spinful_builder().to_wannier()
    order = [0, 2, 1, 3]  # block: (orb0↑, orb1↑, orb0↓, orb1↓) from interleaved (o0↑, o0↓, o1↑, o1↓)
    write_hr(tmp_path / "inter_hr.dat", wh)
    write_hr(tmp_path / "block_hr.dat", wh.permuted(order))
    mi = wannier90(tmp_path / "inter_hr.dat", lattice=wh.lattice, spinor_order="interleaved", dim=2)
    mb = wannier90(tmp_path / "block_hr.dat", lattice=wh.lattice, spinor_order="block", dim=2)
    np.testing.assert_allclose(mb.spin, mi.spin[:, order][:, :, order])
    k = random_k(mi, 25)
    ei, vi = np.linalg.eigh(mi.h(k))
    eb, vb = np.linalg.eigh(mb.h(k))
    np.testing.assert_allclose(eb, ei, atol=1e-12)
    assert np.min(np.diff(ei, axis=1)) > 1e-3  # non-degenerate: <s> per band well defined
    for l in range(3):
        si = np.einsum("kan,ab,kbn->kn", vi.conj(), mi.spin[l], vi).real
        sb = np.einsum("kan,ab,kbn->kn", vb.conj(), mb.spin[l], vb).real
        np.testing.assert_allclose(sb, si, atol=1e-10)
    # a wrong order gives different spin texture
    wrong = wannier90(tmp_path / "block_hr.dat", lattice=wh.lattice, spinor_order="interleaved", dim=2)
    sw = np.einsum("kan,ab,kbn->kn", vb.conj(), wrong.spin[2], vb).real
    assert np.abs(sw - np.einsum("kan,ab,kbn->kn", vi.conj(), mi.spin[2], vi).real).max() > 1e-3


def test_spin_options(tmp_path):
    wh = random_wannier(n=4)
    write_hr(tmp_path / "s_hr.dat", wh)
    assert wannier90(tmp_path / "s_hr.dat", lattice=LATTICE).spin is None
    user = np.stack([np.kron(np.eye(2), s) for s in SPIN_HALF])
    m = wannier90(tmp_path / "s_hr.dat", lattice=LATTICE, spin=user)
    np.testing.assert_allclose(m.spin, user)
    with pytest.raises(ValueError, match="either spinor_order or spin"):
        wannier90(tmp_path / "s_hr.dat", lattice=LATTICE, spin=user, spinor_order="block")
    with pytest.raises(ValueError, match="spinor_order"):
        wannier90(tmp_path / "s_hr.dat", lattice=LATTICE, spinor_order="updown")
    odd = WannierHamiltonian(np.eye(3), [[0, 0, 0]], [1], [np.eye(3)])
    write_hr(tmp_path / "odd_hr.dat", odd)
    with pytest.raises(ValueError, match="odd_hr.dat.*even number"):
        wannier90(tmp_path / "odd_hr.dat", lattice=np.eye(3), spinor_order="interleaved")


# --------------------------------------------------------------------------------------- models
def test_qwz_lattice_equals_analytic(tmp_path):
    u = 1.3
    model = qwz_lattice(u).to_model()
    write_hr(tmp_path / "qwz_hr.dat", qwz_lattice(u).to_wannier())
    from_file = wannier90(tmp_path / "qwz_hr.dat", lattice=qwz_lattice(u).to_wannier().lattice, dim=2)
    k = np.random.default_rng(2).uniform(-4, 4, (40, 2))
    kx, ky = k[:, 0, None, None], k[:, 1, None, None]
    sx, sy, sz = PAULI
    ref = np.sin(kx) * sx + np.sin(ky) * sy + (u + np.cos(kx) + np.cos(ky)) * sz
    dref = np.stack([np.cos(kx) * sx - np.sin(kx) * sz, np.cos(ky) * sy - np.sin(ky) * sz])
    for m in (model, from_file):
        np.testing.assert_allclose(m.h(k), ref, atol=1e-14)
        np.testing.assert_allclose(m.dh(k), dref, atol=1e-14)
    assert model.position is None  # both orbitals at the origin
    np.testing.assert_allclose(model.spin, SPIN_HALF)


@pytest.mark.parametrize("u, chern", [(1.0, -1), (-1.0, 1), (3.0, 0)])
def test_qwz_chern_number_from_hr_file(tmp_path, u, chern):
    wh = qwz_lattice(u).to_wannier()
    write_hr(tmp_path / "qwz_hr.dat", wh)
    assert chern_lower(wannier90(tmp_path / "qwz_hr.dat", lattice=wh.lattice, dim=2)) == pytest.approx(
        chern, abs=1e-6
    )


def test_haldane_chern_numbers():
    assert chern_lower(haldane(1.0, 0.1, np.pi / 2, 0.0).to_model()) == pytest.approx(-1, abs=1e-6)
    assert chern_lower(haldane(1.0, 0.1, -np.pi / 2, 0.0).to_model()) == pytest.approx(1, abs=1e-6)
    assert chern_lower(haldane(1.0, 0.1, np.pi / 2, 1.0).to_model()) == pytest.approx(0, abs=1e-6)


def test_builder_positions_are_constant_diagonal_centres(tmp_path):
    tb = haldane(1.0, 0.1, 0.3, 0.1)
    write_tb(tmp_path / "h_tb.dat", tb.to_wannier())
    model = wannier90(tmp_path / "h_tb.dat", dim=2)
    k = random_k(model, 15)
    a = model.position(k)
    centres = np.array([[1 / 3, 1 / 3], [2 / 3, 2 / 3]]) @ tb.lattice
    for d in range(2):
        np.testing.assert_allclose(a[d], np.broadcast_to(np.diag(centres[:, d]), a[d].shape), atol=1e-14)


def test_builder_errors():
    tb = TightBinding(np.eye(2), [[0, 0]])
    with pytest.raises(ValueError, match="set_onsite"):
        tb.add_hopping(1.0, 0, 0, (0, 0))
    with pytest.raises(ValueError, match="2 integer components"):
        tb.add_hopping(1.0, 0, 0, (1, 0, 0))
    with pytest.raises(ValueError, match="empty"):
        tb.to_model()
    tb.add_hopping(-1.0, 0, 0, (1, 0))
    k = np.array([[0.3, -0.7]])
    np.testing.assert_allclose(tb.to_model().h(k)[0, 0, 0], -2 * np.cos(0.3))


# --------------------------------------------------------------------------------------- .win, wsvec
@pytest.mark.parametrize("unit, scale", [("", 1.0), ("Ang", 1.0), ("bohr", BOHR_ANGSTROM)])
def test_win_lattice(tmp_path, unit, scale):
    rows = "\n".join(" ".join(f"{x:.10f}" for x in row) for row in LATTICE)
    (tmp_path / "x.win").write_text(
        f"num_wann = 4\n! comment\nBegin Unit_Cell_Cart\n{unit}\n{rows}\nEnd Unit_Cell_Cart\nspinors = T\n"
    )
    np.testing.assert_allclose(read_win_lattice(tmp_path / "x.win"), LATTICE * scale, atol=1e-10)
    write_hr(tmp_path / "x_hr.dat", random_wannier())
    np.testing.assert_allclose(read_hr(tmp_path / "x_hr.dat").lattice, LATTICE * scale, atol=1e-10)


def test_wsvec_replicas(tmp_path):
    wh = random_wannier(n=2, seed=11, deg=True)
    rng = np.random.default_rng(12)
    table: dict[tuple[int, ...], np.ndarray] = {}
    for r, m, n in itertools.product(wh.rvec.tolist(), range(1, 3), range(1, 3)):
        key, partner = (*r, m, n), (*(-x for x in r), n, m)
        if partner in table:
            table[key] = -table[partner]
        else:
            count = int(rng.integers(1, 4)) if key != partner else 1
            table[key] = np.vstack([[0, 0, 0], rng.integers(-1, 2, (count - 1, 3)) * 3])
    with open(tmp_path / "w_wsvec.dat", "w") as f:
        f.write("## written by test with use_ws_distance=.true.\n")
        for key, shifts in table.items():
            f.write("".join(f"{x:5d}" for x in key) + f"\n{len(shifts):5d}\n")
            f.writelines("".join(f"{x:5d}" for x in t) + "\n" for t in shifts)
    write_tb(tmp_path / "w_tb.dat", wh)
    model = wannier90(tmp_path / "w_tb.dat", wsvec=True)
    k = random_k(model, 12)
    ref = np.zeros((len(k), 2, 2), complex)
    pref = np.zeros((3, len(k), 2, 2), complex)
    for (r1, r2, r3, m, n), shifts in table.items():
        i = [tuple(r) for r in wh.rvec.tolist()].index((r1, r2, r3))
        for t in shifts:
            phase = np.exp(1j * k @ ((np.array([r1, r2, r3]) + t) @ LATTICE)) / (wh.deg[i] * len(shifts))
            ref[:, m - 1, n - 1] += phase * wh.ham[i, m - 1, n - 1]
            pref[:, :, m - 1, n - 1] += (phase[:, None] * wh.pos[i, :, m - 1, n - 1]).T
    np.testing.assert_allclose(model.h(k), ref, atol=1e-12)
    np.testing.assert_allclose(model.position(k), pref, atol=1e-12)
    fd = replace(model, gradient=None).dh(k)
    np.testing.assert_allclose(model.dh(k), fd, atol=1e-7 * np.abs(fd).max())


# --------------------------------------------------------------------------------------- malformed files
def _corrupt(tmp_path: Path, name: str, edit) -> Path:
    wh = random_wannier(n=2, seed=4)
    path = tmp_path / name
    (write_tb if name.endswith("_tb.dat") else write_hr)(path, wh)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


@pytest.mark.parametrize(
    "name, edit, message",
    [
        ("trunc_hr.dat", lambda ls: ls[:-3], "end of file"),
        ("nan_hr.dat", lambda ls: ls[:10] + [ls[10].replace("e", "x", 1)] + ls[11:], "line 11: non-numeric"),
        ("cols_hr.dat", lambda ls: ls[:12] + [ls[12].rsplit(maxsplit=1)[0]] + ls[13:], "line 13: expected 7"),
        ("nwann_hr.dat", lambda ls: ls[:1] + ["3"] + ls[2:], "line"),
        ("nrpts_hr.dat", lambda ls: ls[:2] + ["26"] + ls[3:], "line"),
        ("extra_hr.dat", lambda ls: ls + ls[-1:], "extra data"),
        ("index_hr.dat", lambda ls: ls[:5] + [ls[5][:20] + "    7" + ls[5][25:]] + ls[6:], "out of range"),
        ("herm_hr.dat", lambda ls: ls[:5] + [ls[5][:25] + "   9.0" + ls[5][50:]] + ls[6:], "not Hermitian"),
        ("trunc_tb.dat", lambda ls: ls[:40], "end of file"),
        ("lat_tb.dat", lambda ls: ls[:2] + ["1.0 2.0"] + ls[3:], "line 3: expected 3 numbers"),
        ("rvec_tb.dat", lambda ls: ls[:8] + ["   0.5   0   0"] + ls[9:], "line 9: non-integer"),
    ],
)
def test_malformed_files_raise(tmp_path, name, edit, message):
    path = _corrupt(tmp_path, name, edit)
    with pytest.raises(ValueError, match=message) as err:
        wannier90(path, lattice=None if name.endswith("_tb.dat") else LATTICE)
    assert name in str(err.value)


def test_hr_without_lattice_or_win(tmp_path):
    write_hr(tmp_path / "nolat_hr.dat", random_wannier(n=2))
    with pytest.raises(ValueError, match="nolat_hr.dat.*lattice=.*nolat.win"):
        wannier90(tmp_path / "nolat_hr.dat")


def test_tb_without_positions(tmp_path):
    wh = random_wannier(n=2)
    write_tb(tmp_path / "p_tb.dat", wh)
    lines = (tmp_path / "p_tb.dat").read_text().splitlines()
    first_pos = 8 + 27 * (2 + 4)  # header, 3 lattice, 2 counts, 2 degeneracy lines; then H blocks
    (tmp_path / "p_tb.dat").write_text("\n".join(lines[:first_pos]) + "\n")
    assert read_tb(tmp_path / "p_tb.dat").pos is None
    assert wannier90(tmp_path / "p_tb.dat").position is None
    with pytest.raises(ValueError, match="write_tb needs position"):
        write_tb(tmp_path / "q_tb.dat", replace(wh, pos=None))


# --------------------------------------------------------------------------------------- real data: bcc Fe
@needs_fe
def test_fe_tb_reads():
    wh = read_tb(FE)
    assert (wh.num_wann, wh.nrpts) == (18, 27)
    assert np.all(wh.deg == 1)
    a = 2 * wh.lattice[0, 0]
    assert a == pytest.approx(2.87, abs=0.01)
    np.testing.assert_allclose(wh.lattice, a / 2 * np.array([[1, 1, 1], [-1, 1, 1], [-1, -1, 1]]), atol=1e-12)
    assert {tuple(r) for r in wh.rvec.tolist()} == {tuple(r) for r in (-wh.rvec).tolist()}
    model = wannier90(FE, spinor_order="interleaved")
    k = random_k(model, 50)
    h = model.h(k)  # validates Hermiticity
    assert np.abs(h - h.conj().transpose(0, 2, 1)).max() < 1e-12
    a_w = model.position(k)
    np.testing.assert_allclose(a_w, a_w.conj().transpose(0, 1, 3, 2), atol=1e-14)
    # sp3d2 hybrids sit off the atom (±0.57 Å etc.), the t2g orbitals on it
    centres = np.diagonal(wh.pos[wh.rvec.tolist().index([0, 0, 0])], axis1=1, axis2=2).real
    assert np.abs(centres[:, 12:]).max() < 1e-6 and np.abs(centres).max() > 0.5
    # the stored off-site position blocks are not exactly Hermitian (finite-difference noise); recorded
    assert 0.01 < model.info["position_antihermitian_max_angstrom"] < 0.1


@needs_fe
def test_fe_filling_and_spin_polarisation():
    """8 electrons below E_F ≈ 17.69 eV (README); majority spin is s_z < 0 in the interleaved order."""
    model = wannier90(FE, spinor_order="interleaved")
    f = (np.arange(12) + 0.5) / 12
    k = np.stack(np.meshgrid(f, f, f, indexing="ij"), -1).reshape(-1, 3) @ model.reciprocal
    e, v = np.linalg.eigh(model.hamiltonian(k))
    occ = e < 17.69
    assert occ.sum() / len(k) == pytest.approx(8.0, abs=0.05)
    sz = np.einsum("kan,ab,kbn->kn", v.conj(), model.spin[2], v).real
    assert (sz * occ).sum() / len(k) == pytest.approx(-1.1, abs=0.05)  # spin ħ/2·<σz>: QE "m along −z"
    assert np.median(np.abs(sz)) > 0.49  # projected WFs keep nearly pure spin character


@needs_fe
def test_fe_gradient_matches_finite_differences():
    model = wannier90(FE, spinor_order="interleaved")
    k = random_k(model, 8)
    fd = replace(model, gradient=None, fd_step=1e-4).dh(k)
    np.testing.assert_allclose(model.dh(k), fd, atol=1e-8 * np.abs(fd).max())


@needs_fe
def test_fe_roundtrip(tmp_path):
    wh = read_tb(FE)
    write_tb(tmp_path / "Fe_tb.dat", wh)
    back = read_tb(tmp_path / "Fe_tb.dat")
    np.testing.assert_array_equal(back.ham, wh.ham)
    np.testing.assert_array_equal(back.pos, wh.pos)


# --------------------------------------------------------------------------------------- conductivity engine
def _engine():
    if not hasattr(properspin, "conductivity"):
        pytest.skip("properspin.conductivity (the conductivity engine) is not available yet")
    try:
        return importlib.import_module("properspin.mesh")
    except ImportError:
        pytest.skip("properspin.mesh is not available yet")


@pytest.mark.parametrize(
    "builder, chern",
    [(lambda: qwz_lattice(1.0), -1), (lambda: qwz_lattice(-1.0), 1), (lambda: qwz_lattice(3.0), 0),
     (lambda: haldane(1.0, 0.1, np.pi / 2, 0.0), -1)],
    ids=["qwz_u=1", "qwz_u=-1", "qwz_u=3", "haldane_phi=pi/2"],
)
def test_chern_conductivity_of_hr_model(tmp_path, builder, chern):
    mesh = _engine()
    wh = builder().to_wannier()
    write_hr(tmp_path / "c_hr.dat", wh)
    from_file = wannier90(tmp_path / "c_hr.dat", lattice=wh.lattice, dim=2)  # position None
    for model in (from_file, builder().to_model()):  # the builder's model carries A^W = diag τ
        sigma = properspin.conductivity(model, "charge", fermi=[0.0], mesh=mesh.grid(48))
        sxy = float(sigma.sel(current="x", field="y").isel(fermi=0))
        assert sxy == pytest.approx(-chern, abs=1e-2)  # σ_xy = −C e²/h


# ------------------------------------------------------------------------------------- Fourier sums
def _direct_sum(wh: WannierHamiltonian, k: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Σ_R e^{ik·R} B_R / d_R as an explicit complex einsum (the definition, no folding)."""
    rcart = wh.rvec @ wh.lattice
    return np.einsum("kr,r...->k...", np.exp(1j * k @ rcart.T), blocks / wh.deg.reshape(-1, *[1] * (blocks.ndim - 1)))


def test_fourier_sums_equal_the_definition_hermitian_and_not():
    """H, ∂H and A^W by the folded lower-triangle products equal the direct complex sums (1e-12) and come out
    exactly Hermitian; a block set that is not Hermitian (H_{−R} ≠ H_R†) takes the full product and is also
    the definition.  H, ∂H, A^W and ∂A^W are views of one evaluator, which computes the phases once for all the
    sums asked for and remembers nothing between calls (two k sets in turn, one at a time and together)."""
    from properspin.model import evaluate_together
    from properspin.models.wannier.fourier import WannierSums

    wh = random_wannier(5, seed=3)
    model = wh.to_model()
    sums = model.hamiltonian.evaluator
    assert sums.sums["h"].lower is not None and sums.sums["dh"].lower is not None
    assert model.gradient.evaluator is sums and model.position.evaluator is sums
    assert model.position_gradient.evaluator is sums and model.position_gradient.curl.evaluator is sums
    rcart = wh.rvec @ wh.lattice
    calls = []
    cos = np.cos

    def counting_cos(x):
        calls.append(x.shape)
        return cos(x)

    for k in (random_k(model, 7, seed=4), random_k(model, 9, seed=5), random_k(model, 7, seed=4)):
        np.cos = counting_cos
        try:
            together = evaluate_together(k, {"h": model.hamiltonian, "dh": model.gradient, "pos": model.position})
        finally:
            np.cos = cos
        assert len(calls) == 1  # one phase computation for the three sums
        calls.clear()
        np.testing.assert_array_equal(together["h"], model.hamiltonian(k))
        np.testing.assert_array_equal(together["dh"], model.gradient(k))
        np.testing.assert_array_equal(together["pos"], model.position(k))
        h = model.h(k)
        np.testing.assert_allclose(h, _direct_sum(wh, k, wh.ham), rtol=0, atol=1e-12)
        assert np.array_equal(h, h.conj().transpose(0, 2, 1))
        grad = _direct_sum(wh, k, 1j * np.einsum("ra,rij->raij", rcart, wh.ham)).transpose(1, 0, 2, 3)
        np.testing.assert_allclose(model.dh(k), grad, rtol=0, atol=1e-12)
        np.testing.assert_allclose(model.position(k), _direct_sum(wh, k, wh.pos).transpose(1, 0, 2, 3),
                                   rtol=0, atol=1e-12)
    skew = wh.ham.copy()
    skew[1] += 0.3  # H_{R1} no longer the adjoint of H_{−R1}
    plain = WannierSums(rcart, {"h": skew / wh.deg[:, None, None]})
    assert plain.sums["h"].lower is None and plain.folded
    k = random_k(model, 6, seed=6)
    np.testing.assert_allclose(plain.function("h")(k), _direct_sum(wh, k, skew), rtol=0, atol=1e-12)


def _long_range_wannier(n: int = 4, rmax: int = 3, seed: int = 11) -> WannierHamiltonian:
    """Hermitian model with hoppings and positions on R ∈ {−rmax..rmax}³ (343 R vectors, 7 distinct R_3)."""
    from properspin.models.wannier import random_wannier_hamiltonian

    return random_wannier_hamiltonian(n, LATTICE, rmax=rmax, decay=0.7, seed=seed)


def test_line_sums_on_a_grid_equal_the_definition():
    """On grid blocks (k on lines along b_3) H, ∂H, A^W and ∂A^W are summed per line, then over R_3 only; the
    result is the direct sum to 1e-12 and exactly Hermitian.  Scattered k-points take the direct path (None)."""
    wh = _long_range_wannier()
    model = wh.to_model()
    sums = model.hamiltonian.evaluator
    assert sums.lines is not None and all(sums.sums[s].line_blocks is not None for s in ("h", "dh", "dpos", "curl"))
    grid = properspin.mesh.resolve(properspin.mesh.grid(6), model)
    k, _ = grid.points(model, 40, 140)  # 100 k-points on 4 lines of 6 (and parts of two more)
    assert sums.lines.group(k) is not None
    assert sums.lines.group(random_k(model, 40)) is None
    rcart = wh.rvec @ wh.lattice
    h = model.h(k)
    np.testing.assert_allclose(h, _direct_sum(wh, k, wh.ham), rtol=0, atol=1e-12)
    assert np.array_equal(h, h.conj().transpose(0, 2, 1))
    grad = _direct_sum(wh, k, 1j * np.einsum("ra,rij->raij", rcart, wh.ham)).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(model.dh(k), grad, rtol=0, atol=1e-11)
    np.testing.assert_allclose(model.position(k), _direct_sum(wh, k, wh.pos).transpose(1, 0, 2, 3), rtol=0,
                               atol=1e-12)
    dpos = _direct_sum(wh, k, 1j * np.einsum("ra,rbij->rabij", rcart, wh.pos)).transpose(1, 2, 0, 3, 4)
    np.testing.assert_allclose(model.position_gradient(k), dpos, rtol=0, atol=1e-11)


def test_line_sums_give_the_same_conductivity():
    """Proper spin and charge on a grid with and without the line sums: equal to 1e-12."""
    wh = _long_range_wannier(n=4)
    fermi = np.linspace(-2, 2, 5)
    fast = wh.to_model(spinor_order="interleaved")
    slow = wh.to_model(spinor_order="interleaved")
    slow.hamiltonian.evaluator.lines = None  # one evaluator: no line sums for H, ∂H, A^W, ∂A^W
    for response in ("charge", "proper_spin"):
        a = properspin.conductivity(fast, response, fermi=fermi, mesh=properspin.mesh.grid(8))
        b = properspin.conductivity(slow, response, fermi=fermi, mesh=properspin.mesh.grid(8))
        assert np.max(np.abs(b.values)) > 0
        np.testing.assert_allclose(a.values, b.values, rtol=1e-12, atol=1e-12 * np.max(np.abs(b.values)))


def test_mirror_numpy_fallback_equals_compiled():
    from properspin.models.wannier.fourier import _mirror, _mirror_numpy

    rng = np.random.default_rng(2)
    n = 5
    rows, cols = (x.astype(np.int64) for x in np.tril_indices(n))
    vals = rng.normal(size=(7, len(rows))) + 1j * rng.normal(size=(7, len(rows)))
    a, b = np.empty((7, n * n), complex), np.empty((7, n * n), complex)
    _mirror(vals, a, n)
    _mirror_numpy(vals, b, n)
    np.testing.assert_array_equal(a, b)
    m = a.reshape(7, n, n)
    assert np.array_equal(m, m.conj().transpose(0, 2, 1))


def test_mirror_triangle_order_is_numpy_tril():
    """The compiled mirror finds entry (i, j) of the lower triangle at t = i(i + 1)/2 + j, the order in which the
    sums store it (``numpy.tril_indices``): a Hermitian matrix packed that way comes back exactly, n = 1 to 19."""
    from properspin.models.wannier.fourier import _mirror

    rng = np.random.default_rng(4)
    for n in (1, 2, 5, 18, 19):
        a = rng.normal(size=(3, n, n)) + 1j * rng.normal(size=(3, n, n))
        herm = a + a.conj().transpose(0, 2, 1)
        rows, cols = np.tril_indices(n)
        got = np.full((3, n * n), np.nan, dtype=complex)
        _mirror(np.ascontiguousarray(herm[:, rows, cols]), got, n)
        np.testing.assert_array_equal(got.reshape(3, n, n), herm)


@pytest.mark.parametrize("layout", ["scattered", "grid lines"])
def test_fourier_sums_into_given_arrays_equal_the_definition(layout):
    """``evaluate(k, what, out=...)`` writes every sum (H, ∂H, A^W, ∂A^W, its curl) into the caller's arrays and
    returns them: the direct definition to 1e-12 (scattered k: folded products; grid blocks: the line sums), also
    when the arrays held another block's values before (the kernel driver's reuse); a wrong shape is refused."""
    wh = random_wannier(5, seed=3) if layout == "scattered" else _long_range_wannier()
    model = wh.to_model()
    sums = model.hamiltonian.evaluator
    what = ("h", "dh", "pos", "dpos", "curl")
    if layout == "scattered":
        blocks = [random_k(model, 9, seed=s) for s in (4, 5)]
    else:
        grid = properspin.mesh.resolve(properspin.mesh.grid(6), model)
        blocks = [grid.points(model, a, a + 96)[0] for a in (0, 96)]
        assert all(sums.lines.group(k) is not None for k in blocks)
    out = {name: np.full(v.shape, np.nan, dtype=complex) for name, v in sums.evaluate(blocks[0], what).items()}
    rcart = wh.rvec @ wh.lattice
    for k in blocks:  # the second block overwrites the first's values
        got = sums.evaluate(k, what, out=out)
        assert all(got[name] is out[name] for name in what)
        np.testing.assert_allclose(got["h"], _direct_sum(wh, k, wh.ham), rtol=0, atol=1e-12)
        grad = _direct_sum(wh, k, 1j * np.einsum("ra,rij->raij", rcart, wh.ham)).transpose(1, 0, 2, 3)
        np.testing.assert_allclose(got["dh"], grad, rtol=0, atol=1e-11)
        np.testing.assert_allclose(got["pos"], _direct_sum(wh, k, wh.pos).transpose(1, 0, 2, 3), rtol=0, atol=1e-12)
        dpos = _direct_sum(wh, k, 1j * np.einsum("ra,rbij->rabij", rcart, wh.pos)).transpose(1, 2, 0, 3, 4)
        np.testing.assert_allclose(got["dpos"], dpos, rtol=0, atol=1e-11)
        curl = np.stack([dpos[a, b] - dpos[b, a] for a, b in ((1, 2), (2, 0), (0, 1))])
        np.testing.assert_allclose(got["curl"], curl, rtol=0, atol=1e-11)
        assert np.array_equal(got["h"], got["h"].conj().swapaxes(-1, -2))
    with pytest.raises(ValueError, match=r"out\['dh'\] must be a C-contiguous complex128 array of shape"):
        sums.evaluate(blocks[0][:4], ("dh",), out=out)


def test_kernel_driver_reuses_the_fourier_arrays_of_the_previous_block():
    """``kernels._inputs`` with a buffer dict: the second block's ∂H and A^W are written into the first block's
    arrays (same memory, no fresh pages) and equal a fresh evaluation exactly; a shorter last block gets new arrays."""
    from properspin import kernels

    model = random_wannier(4, seed=7).to_model()
    k1, k2, k3 = random_k(model, 12, seed=1), random_k(model, 12, seed=2), random_k(model, 5, seed=3)
    w = np.ones(12)
    buffers: dict[str, np.ndarray] = {}
    first = kernels._inputs(model, k1, w, True, False, None, buffers)
    dh_memory = first.dh
    second = kernels._inputs(model, k2, w, True, False, None, buffers)
    assert second.dh is dh_memory and np.shares_memory(second.apos, buffers["pos"])
    fresh = kernels._inputs(model, k2, w, True)
    for name in ("dh", "apos", "curl", "energies"):
        np.testing.assert_array_equal(getattr(second, name), getattr(fresh, name))
    last = kernels._inputs(model, k3, w[:5], True, False, None, buffers)
    assert last.dh.shape[1] == 5 and not np.shares_memory(last.dh, dh_memory)
    np.testing.assert_array_equal(last.dh, kernels._inputs(model, k3, w[:5], True).dh)
