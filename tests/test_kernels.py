"""The compiled chunk kernel (properspin.kernels) against the numpy reference path.

The reference is the numpy chunk path, properspin.chunk.numpy_chunk (geometry.band_geometry, the response
formula, Sweep.accumulate and geometry.degenerate_contributions), called directly so that the comparison does
not depend on how the engine dispatches chunks.  Partial sums must agree to 1e-12 of their largest entry.
"""

from __future__ import annotations

import numpy as np
import pytest

import properspin as ps
from properspin import chunk, mesh, models, responses
from properspin.models.wannier import wannier90
from properspin.sweep import Sweep, sweep_spec

from .conftest import FE, needs_fe, random_hermitian

pytest.importorskip("numba")
from properspin import kernel_stages, kernels  # noqa: E402

RTOL = 1e-12
SUPPORTED = ("proper_spin", "conventional_spin", "torque_dipole", "charge", "torque")
FERMI = np.linspace(-3.0, 3.0, 61)




@pytest.fixture(autouse=True, scope="module")
def _compiled(compiled_kernels):
    """Both kernel copies compiled (or loaded from numba's cache) before the first test."""


# ---------------------------------------------------------------------------------------------- models
def random_model(n, dim, periodic, seed, position=False, real=False):
    """Random smooth Hermitian model with random (dense, Hermitian) spin matrices.

    Periodic: ``H0 + Σ_a sin(k_a) Ha + (1 − cos k_a) Ga``; continuum: ``H0 + Σ_a k_a Ha + k_a² Ga``.
    ``position`` adds a Hermitian Wannier position term A^W_a(k) = P_a + cos(k_a) Q_a (periodic only).
    ``real`` makes H and ∂H real symmetric (eigh then returns real eigenvectors).
    """
    rng = np.random.default_rng(seed)
    herm = (lambda s=1.0: rng.normal(size=(n, n)) * s) if real else (lambda s=1.0: random_hermitian(rng, n, s))
    sym = (lambda m: (m + m.T) / 2) if real else (lambda m: m)
    h0 = sym(herm(1.5))
    ha = [sym(herm()) for _ in range(dim)]
    ga = [sym(herm(0.5)) for _ in range(dim)]
    spin = np.stack([random_hermitian(rng, n, 0.5) for _ in range(3)])

    if periodic:
        def f(x):
            return np.sin(x), 1 - np.cos(x)

        def df(x):
            return np.cos(x), np.sin(x)
    else:
        def f(x):
            return x, x * x

        def df(x):
            return np.ones_like(x), 2 * x

    def h(k):
        out = np.broadcast_to(h0, (len(k), n, n)).copy()
        for a in range(dim):
            s, c = f(k[:, a])
            out += s[:, None, None] * ha[a] + c[:, None, None] * ga[a]
        return out

    def dh(k):
        out = []
        for a in range(dim):
            s, c = df(k[:, a])
            out.append(s[:, None, None] * ha[a] + c[:, None, None] * ga[a])
        return np.stack(out)

    pos = None
    if position:
        pa = [random_hermitian(rng, n, 0.3) for _ in range(dim)]
        qa = [random_hermitian(rng, n, 0.2) for _ in range(dim)]

        def pos(k):
            return np.stack([pa[a] + np.cos(k[:, a])[:, None, None] * qa[a] for a in range(dim)])

    rec = 2 * np.pi * np.eye(dim) if periodic else None
    return ps.Model(h, dh, spin, dim, reciprocal=rec, position=pos, name="random")


def _mesh(model, periodic):
    if periodic:
        return mesh.resolve(mesh.grid(11 if model.dim == 2 else 4), model)
    if model.dim == 2:
        return mesh.resolve(mesh.disk(1.2, 8, 12), model)
    return mesh.resolve(mesh.sphere(1.0, 4, 4, 6), model)


def _sweeps(temperatures=(0.0, 300.0), fermi=FERMI):
    return tuple(Sweep(fermi, t) for t in temperatures)


# ---------------------------------------------------------------------------------------------- reference
def _response(name, eta=0.0):
    resp = responses.get(name, **({"broadening": eta} if eta else {}))
    if "degenerate" in resp.defaults:  # the kernel's own semantics; chunk.evaluate falls back for block traces
        resp = resp.with_params(degenerate="exclude")
    return resp


def numpy_chunk(name, model, k, w, sweeps, tol, eta):
    """The numpy path: (partials, degenerate k-points, degenerate band pairs)."""
    ref = chunk.numpy_chunk(model, _response(name, eta), k, w, sweeps, tol)
    return ref.partials, ref.degenerate_kpoints, ref.degenerate_bands


def kernel_chunk(name, model, k, w, sweeps, tol, eta=0.0):
    return kernels.kernel_chunk(_response(name, eta), model, k, w, sweeps, tol)


def compare(name, model, m, sweeps, tol=1e-6, eta=0.0, scale_from=None):
    """Kernel vs numpy on the whole mesh; returns the kernel result."""
    k, w = m.points(model, 0, m.size)
    ref, nbad, pairs = numpy_chunk(name, model, k, w, sweeps, tol, eta)
    got = kernel_chunk(name, model, k, w, sweeps, tol, eta)
    assert isinstance(got, chunk.ChunkResult)
    assert len(got.partials) == len(ref)
    for p_ref, p_got, sweep in zip(ref, got.partials, sweeps, strict=True):
        assert p_got.shape == p_ref.shape == (sweep.nbins, p_ref.shape[1])
        scale = np.abs(p_ref).max() if scale_from is None else scale_from
        assert scale > 0
        np.testing.assert_allclose(p_got, p_ref, rtol=0, atol=RTOL * scale)
    assert got.degenerate_kpoints == nbad
    assert got.degenerate_bands == pairs
    return got, ref


# ---------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", SUPPORTED)
@pytest.mark.parametrize("n, dim, periodic", [(2, 2, True), (4, 2, True), (4, 3, True), (7, 3, True),
                                              (2, 2, False), (4, 2, False), (7, 2, False), (4, 3, False)])
def test_random_models_match_numpy(name, n, dim, periodic):
    model = random_model(n, dim, periodic, seed=100 * n + 10 * dim + periodic)
    eta = 0.05 if "broadening" in responses.get(name).defaults else 0.0
    compare(name, model, _mesh(model, periodic), _sweeps(), eta=eta)


@pytest.mark.parametrize("name", SUPPORTED)
def test_blas_path_twelve_bands(name):
    """n ≥ 10 multiplies with BLAS instead of the written-out loops."""
    model = random_model(12, 3, True, seed=12)
    eta = 0.02 if "broadening" in responses.get(name).defaults else 0.0
    compare(name, model, mesh.resolve(mesh.grid(3), model), _sweeps(), eta=eta)


@pytest.mark.parametrize("name", SUPPORTED)
@pytest.mark.parametrize("n", [4, 5, 12])
def test_position_term_matches_numpy(name, n):
    model = random_model(n, 3, True, seed=7 + n, position=True)
    compare(name, model, mesh.resolve(mesh.grid(3), model), _sweeps())


def test_non_hermitian_position_falls_back():
    base = random_model(4, 2, True, seed=3, position=True)
    skew = 1e-3j * np.eye(4)
    model = ps.Model(base.hamiltonian, base.gradient, base.spin, 2, reciprocal=base.reciprocal,
                     position=lambda k: base.position(k) + skew)
    k, w = mesh.resolve(mesh.grid(4), model).all_points(model)
    assert kernel_chunk("proper_spin", model, k, w, _sweeps(), 1e-6, 0.0) is None


def test_position_not_hermitian_at_one_k_point_falls_back():
    """The Hermiticity of A^W(k) is checked at every k: one bad k-point of 16 sends the chunk to numpy."""
    base = random_model(4, 2, True, seed=3, position=True)
    k, w = mesh.resolve(mesh.grid(4), base).all_points(base)
    bad = k[5]

    def position(q):
        a = base.position(q).copy()
        hit = np.all(np.isclose(q, bad), axis=1)
        a[0][hit] += 1e-3j * np.eye(4)
        return a

    model = ps.Model(base.hamiltonian, base.gradient, base.spin, 2, reciprocal=base.reciprocal, position=position)
    assert kernel_chunk("charge", model, k, w, _sweeps(), 1e-6, 0.0) is None
    assert kernel_chunk("charge", model, np.delete(k, 5, 0), np.delete(w, 5), _sweeps(), 1e-6, 0.0) is not None


@pytest.mark.parametrize("name", SUPPORTED)
def test_exact_degeneracies_excluded_like_numpy(name):
    """BHZ without exchange: Kramers pairs are exactly degenerate and flagged as for the numpy path.

    Here proper = conventional and the Kramers partners' Berry curvatures cancel, so torque dipole and
    charge are compared on the scale of the proper spin sums.
    """
    model = models.bhz(1.0)
    m = mesh.resolve(mesh.grid(12), model)
    k, w = m.points(model, 0, m.size)
    scale = max(np.abs(p).max() for p in numpy_chunk("proper_spin", model, k, w, _sweeps(), 1e-6, 0.0)[0])
    got, _ = compare(name, model, m, _sweeps(), scale_from=scale)
    if name in ("proper_spin", "torque_dipole"):
        assert got.degenerate_kpoints == m.size
        assert got.degenerate_bands == {(0, 1), (2, 3)}


def test_degeneracy_tolerance_and_zeeman_model():
    """Near-degenerate pairs only inside a finite tolerance; the benchmark's 4-band model."""
    model = models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))
    m = mesh.resolve(mesh.grid(10), model)
    compare("proper_spin", model, m, _sweeps(), tol=0.2)
    got, _ = compare("proper_spin", model, m, _sweeps(), tol=1e-6)
    assert got.degenerate_kpoints == 0


def test_charge_without_spin_operator():
    model = models.qwz(1.0)
    compare("charge", model, mesh.resolve(mesh.grid(16), model), _sweeps())


@pytest.mark.parametrize("name", ["conventional_spin", "torque_dipole"])
def test_real_hamiltonian(name):
    model = random_model(3, 2, True, seed=5, real=True)
    eta = 0.01 if "broadening" in responses.get(name).defaults else 0.0
    compare(name, model, mesh.resolve(mesh.grid(9), model), _sweeps(), eta=eta)


@pytest.mark.parametrize("fermi", [np.array([0.3]), np.array([-2.0, -1.9999, -1.9998, 0.0, 0.5, 4.0]),
                                   np.sort(np.random.default_rng(1).uniform(-3, 3, 40))])
def test_fermi_grids(fermi):
    """One Fermi energy, clustered and random Fermi energies (the bucket table falls back to bisection)."""
    model = random_model(4, 2, True, seed=11)
    compare("proper_spin", model, mesh.resolve(mesh.grid(10), model), _sweeps((0.0, 30.0, 1000.0), fermi))


def test_bins_are_searchsorted_left():
    """The bucket table of Sweep.binning and the kernel's search: searchsorted(fermi, ε, 'left'), also for the
    second of two stacked sweeps (offsets into the flat arrays of sweep_spec)."""
    fermi = np.array([-1.0, -0.5, 0.0, 0.25, 2.0])
    energies = np.array([-0.7, -0.5, -0.4999999999, 0.0, 0.1, 0.25, 0.2500000001, 1.9, 2.0])
    expected = np.searchsorted(fermi, energies, side="left")
    for sweeps, s in (((Sweep(fermi, 0.0),), 0), ((Sweep(FERMI, 0.0), Sweep(FERMI, 30.0), Sweep(fermi, 0.0)), 2)):
        spec = sweep_spec(sweeps)
        got = [kernel_stages._bin_t0(spec.fermi, spec.foff[s], spec.nodes[s], spec.table, spec.toff[s],
                                     spec.nbuckets[s], spec.scale[s], e) for e in energies]
        assert got == expected.tolist()
    assert spec.row.tolist() == [0, 62, 62 + sweeps[1].nbins] and spec.kind.tolist() == [0, 1, 0]


def test_unsupported_responses_return_none():
    model = random_model(3, 2, True, seed=1)
    k, w = mesh.resolve(mesh.grid(3), model).all_points(model)
    nospin = models.qwz(1.0)
    assert kernel_chunk("proper_spin", nospin, k, w, _sweeps(), 1e-6, 0.0) is None
    assert not kernels.supports(responses.get("conventional_spin_ac"), model)  # no kernel mode: numpy path
    assert kernels.kernel_chunk(responses.get("conventional_spin_ac"), model, k, w, _sweeps(), 1e-6) is None
    assert not kernels.supports(responses.get("torque"), nospin)  # the torque kernel reads the spin
    assert kernels.supports(responses.get("charge"), nospin)


def test_invalid_model_output_raises_like_model():
    base = random_model(3, 2, True, seed=2)
    k, w = mesh.resolve(mesh.grid(3), base).all_points(base)

    def bad_h(kk):
        out = base.hamiltonian(kk)
        out[:, 0, 1] += 1.0  # not Hermitian
        return out

    def bad_dh(kk):
        out = base.gradient(kk)
        out[1, -1, 2, 2] = np.nan
        return out

    m1 = ps.Model(bad_h, base.gradient, base.spin, 2, reciprocal=base.reciprocal)
    with pytest.raises(ValueError, match="not Hermitian"):
        kernel_chunk("proper_spin", m1, k, w, _sweeps(), 1e-6, 0.0)
    m2 = ps.Model(base.hamiltonian, bad_dh, base.spin, 2, reciprocal=base.reciprocal)
    with pytest.raises(ValueError, match="NaN or inf"):
        kernel_chunk("proper_spin", m2, k, w, _sweeps(), 1e-6, 0.0)


def test_finite_difference_gradient():
    base = random_model(4, 2, True, seed=4)
    model = ps.Model(base.hamiltonian, None, base.spin, 2, reciprocal=base.reciprocal)
    compare("proper_spin", model, mesh.resolve(mesh.grid(6), model), _sweeps())


@pytest.mark.parametrize("name", ["proper_spin", "torque_dipole"])
def test_blocks_add_up(monkeypatch, name):
    """A chunk is processed in cache-sized blocks of k: sums and degeneracy counts add across blocks."""
    monkeypatch.setattr(kernels, "_BLOCK_BYTES", 1)
    monkeypatch.setattr(kernels, "_BLOCK_MIN", 7)
    model = models.bhz(1.0)
    m = mesh.resolve(mesh.grid(9), model)
    k, w = m.points(model, 0, m.size)
    scale = max(np.abs(p).max() for p in numpy_chunk("proper_spin", model, k, w, _sweeps(), 1e-6, 0.0)[0])
    got, _ = compare(name, model, m, _sweeps(), scale_from=scale)
    assert got.degenerate_kpoints == m.size == 81


@needs_fe
@pytest.mark.parametrize("name", SUPPORTED)
def test_fe_wannier_model(name):
    """bcc Fe, 18 Wannier functions with position matrix elements (BLAS path, Wannier curvature for charge)."""
    model = wannier90(FE, spinor_order="interleaved")
    eta = 0.01 if "broadening" in responses.get(name).defaults else 0.0
    fermi = 17.69 + np.linspace(-0.5, 0.5, 41)
    compare(name, model, mesh.resolve(mesh.grid(3, shift=0.25), model), _sweeps((0.0, 300.0), fermi), eta=eta)


def test_spinor_pairs_detection():
    """s^l = 1 ⊗ σ^l/2 in either row order is recognised; anything else (random spin) is not."""
    from properspin.models.wannier import spinor_spin

    inter = kernels._spinor_pairs(spinor_spin(6, "interleaved"))
    np.testing.assert_array_equal(inter, [[0, 2, 4], [1, 3, 5]])
    block = kernels._spinor_pairs(spinor_spin(6, "block"))
    np.testing.assert_array_equal(block, [[0, 1, 2], [3, 4, 5]])
    assert kernels._spinor_pairs(random_model(6, 3, True, seed=1).spin).shape == (2, 0)
    assert kernels._spinor_pairs(-spinor_spin(6, "interleaved")).shape == (2, 0)


@pytest.mark.parametrize("name", ["conventional_spin", "torque_dipole"])
@pytest.mark.parametrize("order", ["interleaved", "block"])
@pytest.mark.parametrize("position", [False, True])
@pytest.mark.parametrize("n", [4, 12])
def test_spinor_spin_half_size_products(name, order, position, n):
    """With a spinor spin operator (loops for 4 bands, BLAS for 12) the conventional term uses U_σ† Y_σ'."""
    from dataclasses import replace

    from properspin.models.wannier import spinor_spin

    model = replace(random_model(n, 3, True, seed=21, position=position), spin=spinor_spin(n, order))
    assert kernels._spinor_pairs(model.spin).shape == (2, n // 2)
    eta = 0.02 if "broadening" in responses.get(name).defaults else 0.0
    compare(name, model, mesh.resolve(mesh.grid(3), model), _sweeps(), eta=eta)


# ---------------------------------------------------------------------------------------------- degenerate blocks
#: proper-spin parameters the kernel covers (conventions §3): block trace (default), occupation parts, dephasing
BLOCK_PARAMS = {"block_trace": {}, "split": {"occupation_split": True}, "dephasing": {"dephasing": 0.05},
                "split_dephasing": {"occupation_split": True, "dephasing": 0.3},
                "exclude_split": {"degenerate": "exclude", "occupation_split": True}}


def compare_response(resp, model, m, sweeps=None, tol=1e-6):
    """Kernel vs numpy for a Response object (any parameters); 1e-12 of the largest partial sum."""
    sweeps = _sweeps() if sweeps is None else sweeps
    k, w = m.points(model, 0, m.size)
    ref = chunk.numpy_chunk(model, resp, k, w, sweeps, tol)
    assert resp.fused_mode is not None
    got = kernels.kernel_chunk(resp, model, k, w, sweeps, tol)
    assert isinstance(got, chunk.ChunkResult)
    scale = max(np.abs(p).max() for p in ref.partials)
    assert scale > 0
    for p_ref, p_got in zip(ref.partials, got.partials, strict=True):
        assert p_got.shape == p_ref.shape
        np.testing.assert_allclose(p_got, p_ref, rtol=0, atol=RTOL * scale)
    assert (got.degenerate_kpoints, got.degenerate_bands) == (ref.degenerate_kpoints, ref.degenerate_bands)
    return got, ref


def _pt(n_orb, position=False):
    from .test_degenerate import pt_model

    return pt_model(n_orb, seed=3 + n_orb, position=position)


@pytest.mark.parametrize("params", BLOCK_PARAMS.values(), ids=BLOCK_PARAMS)
@pytest.mark.parametrize("n_orb, position", [(2, False), (3, True), (6, False), (6, True)])
def test_kramers_blocks_match_numpy(params, n_orb, position):
    """Random PT-symmetric lattice models (exact Kramers doublets at every k; 4 bands: the constant-bound copy,
    12 bands: BLAS; with a Wannier position term): block trace, occupation parts and dephasing as numpy."""
    model = _pt(n_orb, position)
    m = mesh.resolve(mesh.grid(3), model)
    got, ref = compare_response(responses.get("proper_spin", **params), model, m)
    assert got.degenerate_kpoints == m.size  # every k-point has doublets whose spin is not ∝ 1
    if params.get("degenerate", "block_trace") == "block_trace" and not params:
        k, w = m.points(model, 0, m.size)  # the block trace is not the excluded Eq. (2) here: the test can fail
        excl = chunk.numpy_chunk(model, responses.get("proper_spin", degenerate="exclude"), k, w, _sweeps(), 1e-6)
        assert np.abs(excl.partials[0] - ref.partials[0]).max() > 1e-3 * np.abs(ref.partials[0]).max()


@pytest.mark.parametrize("n_orb", [2, 6])
def test_kramers_blocks_torque_dipole(n_orb):
    model = _pt(n_orb, position=True)
    compare_response(responses.get("torque_dipole", broadening=0.02), model, mesh.resolve(mesh.grid(3), model))


@pytest.mark.parametrize("params", BLOCK_PARAMS.values(), ids=BLOCK_PARAMS)
def test_bhz_without_regulator_blocks(params):
    """BHZ without exchange (Kramers pairs, 2D, 4 bands) in every proper-spin mode the kernel covers."""
    model = models.bhz(1.0)
    compare_response(responses.get("proper_spin", **params), model, mesh.resolve(mesh.grid(12), model))


def test_chained_blocks_under_a_large_tolerance():
    """A tolerance that chains three or more bands into one block (pairs inside it further apart than tol)."""
    model = random_model(7, 3, True, seed=71)
    m = mesh.resolve(mesh.grid(4), model)
    k, _ = m.points(model, 0, m.size)
    tol = 1.5
    from properspin import geometry as geo

    sizes = np.array([np.bincount(row).max() for row in geo.block_labels(model.energies(k), tol)])
    assert sizes.max() >= 3 and (sizes == 1).any()
    for params in ({}, {"occupation_split": True, "dephasing": 0.1}):
        compare_response(responses.get("proper_spin", **params), model, m, tol=tol)


def spin_k_model(n, seed, position=False):
    """``random_model`` with a k-dependent spin S(k) = s + cos(k_x) δs (Model.spin_k) instead of a constant one."""
    from dataclasses import replace

    base = random_model(n, 3, True, seed, position=position)
    rng = np.random.default_rng(seed + 1)
    ds = np.stack([random_hermitian(rng, n, 0.2) for _ in range(3)])
    s0 = base.spin

    def spin_k(k):
        return s0[:, None] + np.cos(k[:, 0])[None, :, None, None] * ds[:, None]

    return replace(base, spin=None, spin_k=spin_k)


@pytest.mark.parametrize("name", ["proper_spin", "conventional_spin", "torque_dipole", "torque"])
@pytest.mark.parametrize("n, position", [(4, False), (5, True), (12, True)])
def test_k_dependent_spin_matches_numpy(name, n, position):
    """S(k) of Model.spin_k (a Wannier90 run's .spn) in the kernel: loops (n < 10) and BLAS."""
    model = spin_k_model(n, seed=40 + n, position=position)
    assert kernels.supports(responses.get(name), model)
    eta = 0.02 if "broadening" in responses.get(name).defaults else 0.0
    resp = responses.get(name, **({"broadening": eta} if eta else {}))
    compare_response(resp, model, mesh.resolve(mesh.grid(3), model))
    if name == "proper_spin":
        compare_response(responses.get(name, occupation_split=True, dephasing=0.1), model,
                         mesh.resolve(mesh.grid(3), model), tol=0.3)


PT_RUN = FE.parent / "wannier90" / "Pt" / "Pt"


@pytest.mark.skipif(not PT_RUN.with_suffix(".win").is_file(), reason=f"real-data run {PT_RUN} absent")
def test_pt_wannier90_run_blocks_match_numpy():
    """fcc Pt from its native Wannier90 files: S(k), position term, 18 bands (BLAS), Kramers pairs split by the
    Wannier interpolation by meV: blocks at most k-points under a 10 meV tolerance, only at Γ (an ab-initio
    k-point, where they are exact) under 1e-6 eV."""
    from properspin.models import wannier90_run

    model = wannier90_run(PT_RUN)
    m = mesh.resolve(mesh.grid(3), model)
    sweeps = (Sweep(np.linspace(16.0, 20.0, 21), 0.0),)
    for tol, params in ((1e-2, {}), (1e-2, {"occupation_split": True, "dephasing": 0.05}), (1e-6, {})):
        got, _ = compare_response(responses.get("proper_spin", **params), model, m, sweeps, tol=tol)
        assert got.degenerate_kpoints > m.size // 2 if tol > 1e-3 else got.degenerate_kpoints == 1
