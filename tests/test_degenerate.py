"""Degenerate bands (conventions §3): the block-trace form of Eq. (2), Appendix C with projectors onto
degenerate blocks, and the λ → 0 limit of the Zeeman-regulated Eq. (2) = block trace + Π(m̂) + X(m̂)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import properspin as ps
from properspin import geometry as geo
from properspin import mesh, models, responses
from properspin.model import CYCLIC_PAIRS, PAULI

TOL = 1e-8


# ---------------------------------------------------------------------------------------------- models
def pt_model(n_orb: int = 3, seed: int = 3, position: bool = False) -> ps.Model:
    """Random 3D lattice model with PT symmetry (Θ = iσ_y ⊗ 1, Θ H(k)* Θ† = H(k)): Kramers doublets at every k.

    ``H(k) = H0 + Σ_R [cos(k·R) A_R + sin(k·R) B_R]`` with PT-invariant Hermitian H0, A_R, B_R; spin σ/2 ⊗ 1.
    ``position`` adds a smooth Hermitian Wannier position term A^W_a(k), PT-odd as r is.
    """
    rng = np.random.default_rng(seed)
    n = 2 * n_orb
    theta = np.kron(np.array([[0.0, 1.0], [-1.0, 0.0]]), np.eye(n_orb))

    def pt_hermitian(sign: float = 1.0) -> np.ndarray:
        a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
        a = (a + a.conj().T) / 2
        return (a + sign * theta @ a.conj() @ theta.T) / 2

    vecs = np.array([(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1)], dtype=float)
    h0, amp, bmp = pt_hermitian(), [pt_hermitian() for _ in vecs], [pt_hermitian() for _ in vecs]
    pa = [pt_hermitian(-1.0) * 0.3 for _ in range(3)]  # r is PT-odd

    def h(k):
        out = np.broadcast_to(h0, (len(k), n, n)).astype(complex)
        for r, a, b in zip(vecs, amp, bmp, strict=True):
            ph = (k @ r)[:, None, None]
            out = out + np.cos(ph) * a + np.sin(ph) * b
        return out

    def dh(k):
        out = np.zeros((3, len(k), n, n), complex)
        for r, a, b in zip(vecs, amp, bmp, strict=True):
            ph = (k @ r)[:, None, None]
            for d in range(3):
                out[d] += r[d] * (-np.sin(ph) * a + np.cos(ph) * b)
        return out

    def pos(k):
        return np.stack([np.cos(k[:, a])[:, None, None] * pa[a] + pa[(a + 1) % 3] for a in range(3)])

    spin = np.stack([np.kron(p / 2, np.eye(n_orb)) for p in PAULI])
    return ps.Model(h, dh, spin, 3, reciprocal=2 * np.pi * np.eye(3), position=pos if position else None,
                    name="pt_random")


def random_k(count: int = 30, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, size=(count, 3))


def block_rotation(nk: int, n: int, seed: int = 11) -> np.ndarray:
    """A random U(2) inside each consecutive pair of bands (a Kramers doublet)."""
    rng = np.random.default_rng(seed)
    w = np.zeros((nk, n, n), complex)
    for j in range(0, n, 2):
        q, r = np.linalg.qr(rng.normal(size=(nk, 2, 2)) + 1j * rng.normal(size=(nk, 2, 2)))
        w[:, j : j + 2, j : j + 2] = q * np.exp(1j * rng.uniform(0, 6.3, size=(nk, 1, 2)))
    return w


def doublet_sums(q: np.ndarray) -> np.ndarray:
    return q[..., ::2] + q[..., 1::2]


# ---------------------------------------------------------------------------------------------- block trace
def test_pt_model_is_kramers_degenerate_and_torque_vanishes_inside_blocks():
    model = pt_model()
    g = geo.band_geometry(model, random_k(), TOL)
    e = g.energies
    assert np.abs(e[:, 1::2] - e[:, ::2]).max() < 1e-12 < 0.1 < np.min(e[:, 2::2] - e[:, 1:-1:2])
    same = geo.same_block(g)
    assert same.sum() == len(e) * 2 * e.shape[1]
    # t = i[H, s] has no matrix elements inside a block (H ∝ 1 there), nor does the block's spin trace vanish
    assert np.abs(g.torque[:, same]).max() < 1e-12
    assert np.abs(np.einsum("lkmm->lkm", g.spin)[:, :, ::2] + np.einsum("lkmm->lkm", g.spin)[:, :, 1::2]).max() < 1e-12


@pytest.mark.parametrize("position", [False, True])
def test_block_trace_is_invariant_under_rotations_inside_blocks(position):
    model = pt_model(position=position)
    k = random_k()
    h = model.h(k)
    e, u = np.linalg.eigh(h)
    g = geo.geometry_from_eigenvectors(model, k, h, e, u, TOL)
    g2 = geo.geometry_from_eigenvectors(model, k, h, e, u @ block_rotation(len(k), model.nbands), TOL)
    bt, bt2 = geo.block_trace_curvature(g), geo.block_trace_curvature(g2)
    assert np.abs(bt).max() > 0.1
    np.testing.assert_allclose(bt2, bt, rtol=0, atol=1e-12 * np.abs(bt).max())
    np.testing.assert_allclose(geo.proper_spin_curvature(g2), bt, rtol=0, atol=1e-12 * np.abs(bt).max())
    # the band-diagonal s_nn of Eq. (2) is not: "exclude" changes with the basis inside the blocks
    assert np.abs(geo.proper_spin_curvature(g2, "exclude") - geo.proper_spin_curvature(g, "exclude")).max() > 1e-3


def test_block_trace_reduces_to_eq2_without_degeneracy():
    model = pt_model().with_zeeman((0.05, -0.03, 0.04))  # splits every doublet
    g = geo.band_geometry(model, random_k(), TOL)
    assert not geo.degenerate_kpoints(g).any()
    eq2 = geo.proper_spin_curvature(g, "exclude")
    np.testing.assert_allclose(geo.block_trace_curvature(g), eq2, rtol=0, atol=1e-12 * np.abs(eq2).max())
    np.testing.assert_allclose(geo.spin_pair_terms(g).sum(-1), eq2, rtol=0, atol=1e-12 * np.abs(eq2).max())


def test_block_labels_chain_and_share():
    e = np.array([[0.0, 0.5e-6, 0.9e-6, 1.0, 2.0, 2.0]])
    lab = geo.block_labels(e, 1e-6)
    assert lab.tolist() == [[0, 0, 0, 1, 2, 2]]  # consecutive gaps below the tolerance chain into one block
    g = geo.BandGeometry(e, np.zeros((2, 1, 6, 6)), None, None, 1e-6)
    share = geo.block_share(np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 7.0]]), geo.same_block(g))
    assert share.tolist() == [[2.0, 2.0, 2.0, 4.0, 6.0, 6.0]]


# ---------------------------------------------------------------------------------------------- Appendix C
def test_appendix_c_with_projectors():
    """(C7)+(C11) = 0 with the block-off-diagonal spin; (C6) = ½ε(Tr s_β F_β + Σ) and (C6)+(C24) = ε Σ per block."""
    model = pt_model()
    g = geo.band_geometry(model, random_k(), TOL)
    t = geo.appendix_c_terms(g)
    bt = geo.levi_civita_contract(geo.block_trace_curvature(g), 3)
    scale = np.abs(bt).max()
    np.testing.assert_allclose(t["C7"] + t["C11"], 0, atol=1e-12 * scale)
    np.testing.assert_allclose(doublet_sums(t["C6"] + t["C24"]), doublet_sums(bt), rtol=0, atol=1e-12 * scale)
    conv = geo.conventional_spin_curvature(g)
    np.testing.assert_allclose(t["C6"] + t["C7"], conv, rtol=0, atol=1e-12 * np.abs(conv).max())
    np.testing.assert_allclose(doublet_sums(conv + t["C11"] + t["C24"]), doublet_sums(bt), rtol=0, atol=1e-12 * scale)


def test_covariant_derivative_of_block_spin():
    """The step (C22)→(C24) with blocks: (U† ∂_a Ŝ_bod U)_bod = i[R^a, s_bd]_bod, Ŝ_bod = s − Σ_α P_α s P_α
    built from gauge-invariant projectors and differentiated by finite differences."""
    model = pt_model()
    k = random_k(8)
    n = model.nbands

    def s_bod(kp):
        e, u = np.linalg.eigh(model.h(kp))
        out = np.broadcast_to(model.spin[:, None], (3, len(kp), n, n)).copy()
        for j in range(0, n, 2):
            p = u[:, :, j : j + 2] @ u[:, :, j : j + 2].conj().transpose(0, 2, 1)
            out -= p[None] @ model.spin[:, None] @ p[None]
        return out

    e, u = np.linalg.eigh(model.h(k))
    g = geo.geometry_from_eigenvectors(model, k, model.h(k), e, u, TOL, True, True, True)  # the gauge of u
    same = geo.same_block(g)
    r = geo._interblock_connection(g, same)
    s_bd = np.where(same, g.spin, 0)
    for a in range(3):
        dk = np.zeros(3)
        dk[a] = 1e-5
        ds = (s_bod(k + dk) - s_bod(k - dk)) / 2e-5
        lhs = u.conj().transpose(0, 2, 1)[None] @ ds @ u[None]
        rhs = 1j * (r[a][None] @ s_bd - s_bd @ r[a][None])
        np.testing.assert_allclose(np.where(same, 0, lhs), np.where(same, 0, rhs), atol=1e-7)


# ---------------------------------------------------------------------------------------------- regulated limit
@pytest.mark.parametrize("position", [False, True])
@pytest.mark.parametrize("direction", [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0.3, -0.5, 0.81)])
def test_regulated_limit_is_block_trace_plus_projection_plus_intra_pair(direction, position):
    """Eq. (2) for H + λ m̂·σ tends to block trace + Π(m̂) + X(m̂) as λ → 0, per doublet, with error O(λ²)
    (O(λ) if a position term breaks PT)."""
    model = pt_model(position=position)
    k = random_k(20)
    m_hat = np.asarray(direction) / np.linalg.norm(direction)
    parts = geo.regulated_limit_parts(geo.band_geometry(model, k, TOL), m_hat)
    limit = doublet_sums(parts.sum(0))
    scale = np.abs(limit).max()
    assert np.abs(doublet_sums(parts[1])).max() > 1e-2 * scale and np.abs(doublet_sums(parts[2])).max() > 1e-2 * scale
    errors = []
    for lam in (1e-2, 1e-3):
        g = geo.band_geometry(model.with_zeeman(tuple(lam * m_hat)), k, 1e-13)
        errors.append(np.abs(doublet_sums(geo.proper_spin_curvature(g, "exclude")) - limit).max() / scale)
    assert errors[1] < 1e-5 and errors[1] < 0.03 * errors[0]
    # Π vanishes identically for the spin component along the regulator
    for l, axis in enumerate(np.eye(3)):
        if np.allclose(m_hat, axis):
            assert np.abs(parts[1][:, l]).max() < 1e-12 * scale


def test_regulated_limit_refuses_what_has_no_limit():
    model = pt_model()
    g = geo.band_geometry(model, random_k(5), TOL)
    unsplit = geo.BandGeometry(g.energies, g.velocity, np.zeros_like(g.spin), g.torque, TOL)
    with pytest.raises(ValueError, match="does not split"):
        geo.regulated_limit_parts(unsplit, (0, 0, 1))
    # an accidental (non-Kramers) degeneracy: the velocity mixes the block, the regulated Eq. (2) diverges
    e = np.array([[0.0, 0.0, 1.0]])
    v = np.zeros((2, 1, 3, 3), complex)
    v[0, 0, 0, 1] = v[0, 0, 1, 0] = 0.3
    v[1, 0, 0, 2] = v[1, 0, 2, 0] = 1.0
    s = np.zeros((3, 1, 3, 3), complex)
    s[2, 0] = np.diag([0.5, -0.5, 0.5])
    with pytest.raises(ValueError, match="no limit"):
        geo.regulated_limit_parts(geo.BandGeometry(e, v, s, None, TOL), (0, 0, 1))


# ---------------------------------------------------------------------------------------------- responses
def yzx(res):
    return res.sel(spin="z", current="y", field="x").values


def test_spin_conserving_qsh_without_regulator():
    """BHZ is Kramers-degenerate everywhere: block trace gives 4 e/8π, no warning, no regulator."""
    model = models.bhz(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proper = ps.conductivity(model, "proper_spin", fermi=0.0, mesh=mesh.grid(32))
        dipole = ps.conductivity(model, "torque_dipole", fermi=0.0, mesh=mesh.grid(32))
    assert yzx(proper) == pytest.approx(4.0, abs=1e-7)
    assert yzx(dipole) == pytest.approx(0.0, abs=1e-7)
    assert proper.attrs["degenerate_kpoints"] == 32 * 32
    assert proper.attrs["degenerate_treatment"].startswith("block_trace")
    assert ps.results.parameters(proper, "response_parameters")["degenerate"] == "block_trace"
    trivial = ps.conductivity(models.bhz(3.0), "proper_spin", fermi=0.0, mesh=mesh.grid(32))
    assert yzx(trivial) == pytest.approx(0.0, abs=1e-6)
    # the old treatment is still there, and warns
    with pytest.warns(ps.DegeneracyWarning, match="near-degenerate"):
        old = ps.conductivity(model.transformed(_unitary(4)), responses.get("proper_spin", degenerate="exclude"),
                              fermi=0.0, mesh=mesh.grid(12))
    assert old.attrs["degenerate_treatment"].startswith("exclude")


def _unitary(n, seed=2):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
    return q


@pytest.mark.parametrize("direction, parts", [((0, 0, 1), (4.0, 0.0, 0.0)), ((1, 0, 0), (4.0, -4.0, 0.0))])
def test_qsh_regulated_limit_parts(direction, parts):
    """An in-plane regulator gives 0 = 4 − 4: its projection term removes the whole quantised value."""
    model = models.bhz(1.0)
    grid = mesh.grid(24, shift=0.5)  # off the two points where an in-plane field does not split the doublet
    res = ps.conductivity(model, responses.get("proper_spin", degenerate="regulated_limit", regulator=direction),
                          fermi=0.0, mesh=grid)
    assert list(res.part.values) == list(geo.REGULATED_PARTS)
    np.testing.assert_allclose(yzx(res)[0], parts, atol=1e-5)  # quantisation on a 24² grid
    finite = ps.conductivity(model.with_zeeman(tuple(1e-5 * np.asarray(direction))), "proper_spin", fermi=0.0,
                             mesh=grid)
    assert yzx(finite)[0] == pytest.approx(sum(parts), abs=1e-6)
    assert "arbitrary direction" in res.attrs["degenerate_treatment"]


def test_bi2se3_block_trace_equals_regulator_along_y():
    """σ^y_zx in the gap: block trace = m ∥ y regulated (Π vanishes for m̂ ∥ l and X vanishes in Eq. (10));
    m ∥ x, z add their projection terms."""
    ti0 = models.topological_insulator(magnetization=(0, 0, 0))
    grid = mesh.sphere(0.3, 24, 8, 8)

    def yzx_(res):
        return res.sel(spin="y", current="z", field="x").values

    bt = yzx_(ps.conductivity(ti0, "proper_spin", fermi=[0.1], mesh=grid))[0]
    for d in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
        lim = yzx_(ps.conductivity(ti0, responses.get("proper_spin", degenerate="regulated_limit", regulator=d),
                                   fermi=[0.1], mesh=grid))[0]
        reg = yzx_(ps.conductivity(models.topological_insulator(magnetization=tuple(1e-4 * np.asarray(d))),
                                   "proper_spin", fermi=[0.1], mesh=grid))[0]
        assert lim[0] == pytest.approx(bt, rel=1e-12)
        assert abs(lim[2]) < 1e-9 * abs(bt)
        assert lim.sum() == pytest.approx(reg, rel=1e-5)
        if d == (0, 1, 0):
            assert abs(lim[1]) < 1e-9 * abs(bt) and reg == pytest.approx(bt, rel=1e-5)
        else:
            assert abs(lim[1]) > 0.01 * abs(bt)


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="degenerate must be one of"):
        responses.get("proper_spin", degenerate="average")
    with pytest.raises(ValueError, match="needs regulator"):
        responses.get("proper_spin", degenerate="regulated_limit")
    with pytest.raises(ValueError, match="not all 0"):
        responses.get("proper_spin", degenerate="regulated_limit", regulator=(0, 0, 0))
    with pytest.raises(ValueError, match="only with degenerate='regulated_limit'"):
        responses.get("proper_spin", regulator=(0, 0, 1))
    with pytest.raises(ValueError, match="dephasing must be"):
        responses.get("proper_spin", dephasing=-1e-3)
    with pytest.raises(ValueError, match="cannot be combined"):
        responses.get("proper_spin", degenerate="regulated_limit", regulator=(0, 0, 1), occupation_split=True)
    with pytest.raises(ValueError, match="degenerate must be one of"):
        responses.get("torque_dipole", degenerate="regulated_limit")
    r = responses.get("proper_spin", degenerate="regulated_limit", regulator=(0, 0, 2))
    assert r.params["regulator"] == (0.0, 0.0, 1.0)
    assert r.fused_mode is None and responses.get("proper_spin").fused_mode == 1  # the parts: numpy path
    assert responses.get("proper_spin", degenerate="exclude").fused_mode == 1
    assert responses.get("proper_spin", dephasing=1e-3, occupation_split=True).fused_mode == 1


def test_engine_block_trace_on_a_kramers_model():
    """Default block trace on a Kramers model: the engine result (compiled kernel) is the block trace written out
    with numpy, not Eq. (2) with exclusion; without degeneracy both modes give the same result."""
    pytest.importorskip("numba")
    model = pt_model(2)
    grid = mesh.grid(5)
    fast = ps.conductivity(model, "proper_spin", fermi=[-1.0, 0.5], mesh=grid)
    k, w = mesh.resolve(grid, model).all_points(model)
    g = geo.band_geometry(model, k, 1e-6)
    q = geo.levi_civita_contract(geo.block_trace_curvature(g), 3)
    occ = g.energies[None] <= np.array([-1.0, 0.5])[:, None, None]
    ref = np.einsum("fkm,lijkm,k->flij", occ, q, w) * ps.units.spin_factor(3)
    np.testing.assert_allclose(fast.values, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    split = pt_model(2).with_zeeman((0.05, 0.0, 0.02))
    a = ps.conductivity(split, "proper_spin", fermi=[-1.0, 0.5], mesh=grid)
    b = ps.conductivity(split, responses.get("proper_spin", degenerate="exclude"), fermi=[-1.0, 0.5], mesh=grid)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-12 * np.abs(a.values).max())


def test_appendix_c_response_adds_up_with_blocks():
    model = models.bhz(1.0)
    res = ps.conductivity(model, "appendix_c", fermi=0.0, mesh=mesh.grid(16))
    proper = ps.conductivity(model, "proper_spin", fermi=0.0, mesh=mesh.grid(16))
    terms = {t: res.sel(term=t).values for t in responses.APPENDIX_C_TERMS}
    np.testing.assert_allclose(terms["C6"] + terms["C24"], proper.values, atol=1e-10)
    np.testing.assert_allclose(terms["C7"] + terms["C11"], 0, atol=1e-10)
    assert CYCLIC_PAIRS[2] == ((0, 1),)


# ---------------------------------------------------------------------------------------------- unseen degeneracies
def test_rashba_crossing_off_the_mesh_is_reported():
    """The Rashba touching at k = 0 is on no disk mesh point: the unregulated answer (0) says so."""
    rashba = models.rashba(1.0, 1.0)
    disk = mesh.disk(1.0, 120, 16)
    with pytest.warns(ps.UnresolvedDegeneracyWarning, match="isolated band touching"):
        res = ps.conductivity(rashba, "proper_spin", fermi=[-0.1, 0.05], mesh=disk)
    found = ps.results.parameters(res, "isolated_degeneracies")
    assert found == [{"k": [0.0, 0.0], "bands": [0, 1], "energy_eV": 0.0, "on_mesh": False}]
    assert np.abs(yzx(res)).max() < 1e-12  # what the mesh sees without the point
    regulated = ps.conductivity(rashba.with_zeeman((0, 0, 1e-3)), "proper_spin", fermi=[0.05], mesh=disk)
    assert yzx(regulated)[0] == pytest.approx(-1.0, abs=0.01)  # m_z → 0⁺ puts the point's −e/8π back
    assert ps.results.parameters(regulated, "isolated_degeneracies") == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ps.conductivity(rashba, "proper_spin", fermi=[-0.1], mesh=disk)  # the touching is empty: no warning
        ps.conductivity(rashba, "conventional_spin", fermi=[0.05], mesh=disk)  # a trace formula: not affected
        ps.conductivity(models.bhz(1.0), "proper_spin", fermi=0.0, mesh=mesh.grid(8))  # Kramers everywhere


def test_grid_knows_its_points_and_gap_closing_is_reported():
    model = models.bhz(2.0)  # the gap closes at (π, π): a Dirac point at E = 0
    grid = mesh.resolve(mesh.grid(16), model)
    assert grid.contains(model, np.array([np.pi, np.pi])) and grid.contains(model, np.array([-np.pi, 3 * np.pi]))
    assert not mesh.resolve(mesh.grid(15), model).contains(model, np.array([np.pi, np.pi]))
    assert not mesh.resolve(mesh.grid(16, shift=0.5), model).contains(model, np.array([0.0, 0.0]))
    with pytest.warns(ps.UnresolvedDegeneracyWarning, match=r"bands 1,2 .* on the mesh"):
        ps.conductivity(model, "proper_spin", fermi=0.0, mesh=grid)


def test_fermi_energy_above_every_band_at_the_cutoff():
    with pytest.raises(ValueError, match="above every band on the cutoff surface"):
        ps.conductivity(models.rashba(1.0, 1.0, zeeman=(0, 0, 1e-3)), "charge", fermi=[0.0, 50.0],
                        mesh=mesh.disk(1.0, 20, 8))
