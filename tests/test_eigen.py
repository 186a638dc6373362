"""The small-matrix Hermitian eigensolver (properspin.eigen) against numpy.linalg.eigh."""

from __future__ import annotations

import numpy as np
import pytest

from properspin import eigen, eigen_ql

from .conftest import random_hermitian


def _hermitian(n: int, count: int, seed: int) -> np.ndarray:
    return random_hermitian(np.random.default_rng(seed), n, 2.0, count)  # A + A†


def _check(h: np.ndarray, e: np.ndarray, u: np.ndarray) -> None:
    scale = np.abs(h).max()
    e0 = np.linalg.eigvalsh(h)
    np.testing.assert_allclose(e, e0, rtol=0, atol=1e-12 * scale)
    assert np.all(np.diff(e, axis=1) >= 0)
    np.testing.assert_allclose(h @ u, u * e[:, None, :], rtol=0, atol=1e-12 * scale)
    eye = np.broadcast_to(np.eye(h.shape[1]), h.shape)
    np.testing.assert_allclose(u.conj().transpose(0, 2, 1) @ u, eye, rtol=0, atol=1e-13)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12, 14, 15, 18, 32])
def test_random_hermitian_matrices(n):
    assert eigen.available()
    h = _hermitian(n, 50, seed=n)
    e, u = eigen.eigh(h)
    _check(h, e, u)
    if eigen._QL_MAX < n <= 25:  # LAPACK path: same tridiagonal and QL iteration as zheevd, identical eigenvalues
        np.testing.assert_array_equal(e, np.linalg.eigh(h)[0])


def test_degenerate_spectra_give_orthonormal_vectors():
    """Kramers-like pairs and a 3-fold level: U stays unitary and H U = U E, as with zheevd."""
    rng = np.random.default_rng(7)
    levels = np.array([-1.0, -1.0, 0.3, 0.3, 0.3, 2.0, 2.0 + 1e-13, 5.0])
    q, _ = np.linalg.qr(rng.normal(size=(20, 8, 8)) + 1j * rng.normal(size=(20, 8, 8)))
    h = q @ (levels[None, :, None] * q.conj().transpose(0, 2, 1))
    h = (h + h.conj().transpose(0, 2, 1)) / 2
    e, u = eigen.eigh(h)
    _check(h, e, u)


def _hermitian_with(levels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Random unitary conjugates of diag(levels)."""
    n = len(levels)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(count, n, n)) + 1j * rng.normal(size=(count, n, n)))
    h = q @ (levels[None, :, None] * q.conj().transpose(0, 2, 1))
    return (h + h.conj().transpose(0, 2, 1)) / 2


@pytest.mark.parametrize("levels", [
    [-1.0, -1.0, 1.0, 1.0],  # Kramers pairs, 4 bands
    [-2.0, -2.0, 0.5, 0.5, 3.0, 3.0],
    [0.7, 0.7],  # 2 × 2 multiple of the identity (after rounding: nearly so)
    [0.3, 0.3 + 1e-13, 0.3 + 2e-13, 4.0],  # near degeneracy far below the tolerance of the kernel
    [-1e-8, 1e-8, 1.0, 1.0 + 1e-9, 2.0, 2.0, 2.0, 7.0],
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 5.0, 5.0],
])
def test_small_path_degenerate_levels(levels):
    """The Householder + QL path (n ≤ _QL_MAX) on exact and near degeneracies: eigenvalues to 1e-12 max|H|,
    H U = U E, U unitary to 1e-13 (a degenerate subspace is spanned by orthonormal vectors)."""
    assert len(levels) <= eigen._QL_MAX
    h = _hermitian_with(np.array(levels), 40, seed=len(levels))
    e, u = eigen.eigh(h)
    _check(h, e, u)
    np.testing.assert_allclose(e, np.broadcast_to(np.sort(levels), e.shape), rtol=0, atol=1e-13 * max(levels))


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_small_path_structured_inputs(n):
    """Diagonal input (unsorted, with a repeat) gives its diagonal sorted and unit vectors permuted, exactly; the
    zero matrix gives 0 and the identity; a 1 × 1 matrix its real part (numpy ignores the diagonal's imaginary part)."""
    diag = np.array([3.0, -1.0, 3.0, 0.5, -7.0, 2.0, 2.0, 0.0])[:n]
    h = np.zeros((2, n, n), complex)
    h[0] = np.diag(diag)
    e, u = eigen.eigh(h)
    order = np.argsort(diag, kind="stable")
    np.testing.assert_array_equal(e[0], diag[order])
    np.testing.assert_array_equal(np.abs(u[0]), np.eye(n)[:, order])
    np.testing.assert_array_equal(e[1], np.zeros(n))
    np.testing.assert_array_equal(u[1], np.eye(n))
    one = np.array([[[2.5 + 0.3j]]])
    e1, u1 = eigen.eigh(one)
    assert e1[0, 0] == 2.5 and u1[0, 0, 0] == 1.0


@pytest.mark.parametrize("scale", [1e-280, 1e-150, 1e150, 1e300])
@pytest.mark.parametrize("n", [2, 4, 7])
def test_small_path_huge_and_tiny_scales(n, scale):
    """No overflow or underflow: the scaled results are those of the unscaled matrix to 1e-12 relative."""
    h = _hermitian(n, 20, seed=5)
    e, u = eigen.eigh(h * scale)
    assert np.isfinite(e).all() and np.isfinite(u).all()
    _check(h * scale, e, u)
    np.testing.assert_allclose(e / scale, eigen.eigh(h)[0], rtol=0, atol=1e-12 * np.abs(h).max())


def test_small_path_non_finite_and_subnormal_go_to_numpy():
    """NaN/inf input, and max|H| below eigen_ql.QL_TINY, are given to numpy.linalg.eigh, which answers as it does."""
    h = _hermitian(4, 3, seed=6)
    bad = h.copy()
    bad[1, 2, 0] = np.nan
    try:
        e0 = np.linalg.eigh(bad)[0]
    except np.linalg.LinAlgError:  # numpy refuses it ("Eigenvalues did not converge"): so does eigen.eigh
        with pytest.raises(np.linalg.LinAlgError):
            eigen.eigh(bad)
    else:
        np.testing.assert_array_equal(eigen.eigh(bad)[0], e0)  # NaN where numpy has NaN
    tiny = h * 1e-300
    assert np.abs(tiny).max() < eigen_ql.QL_TINY
    np.testing.assert_array_equal(eigen.eigh(tiny)[0], np.linalg.eigh(tiny)[0])


def test_small_path_4band_model_matches_numpy():
    """The 4-band model's H(k): eigenvalues equal numpy's to 1e-14 max|H| and the projectors U_n U_n† too."""
    import properspin as ps

    model = ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))
    k = np.random.default_rng(8).uniform(-np.pi, np.pi, size=(500, 2))
    h = model.hamiltonian(k)
    e, u = eigen.eigh(h)
    e0, u0 = np.linalg.eigh(h)
    scale = np.abs(h).max()
    np.testing.assert_allclose(e, e0, rtol=0, atol=1e-14 * scale)
    proj = np.einsum("kin,kjn->knij", u, u.conj())
    proj0 = np.einsum("kin,kjn->knij", u0, u0.conj())
    np.testing.assert_allclose(proj, proj0, rtol=0, atol=1e-13)


def test_upper_triangle_is_ignored_like_numpy():
    h = _hermitian(6, 10, seed=3)
    junk = h.copy()
    iu = np.triu_indices(6, 1)
    junk[:, iu[0], iu[1]] = 99.0  # numpy's eigh (UPLO='L') and eigen.eigh read the lower triangle only
    e, u = eigen.eigh(junk)
    _check(h, e, u)


def test_other_inputs_take_numpy(monkeypatch):
    """Real matrices, more than 32 bands and a failed QL iteration use numpy.linalg.eigh itself."""
    real = _hermitian(5, 4, seed=1).real
    for h in (real, _hermitian(40, 2, seed=2)):
        e, u = eigen.eigh(h)
        e0, u0 = np.linalg.eigh(h)
        np.testing.assert_array_equal(e, e0)
        np.testing.assert_array_equal(u, u0)

    def fails(h, energies, vectors, status):
        status[0] = 1

    monkeypatch.setattr(eigen, "_small", fails)
    monkeypatch.setattr(eigen, "_ql", fails)
    for n in (6, 20):  # the QL path and the LAPACK path
        h = _hermitian(n, 3, seed=4)
        e, u = eigen.eigh(h)
        np.testing.assert_array_equal(e, np.linalg.eigh(h)[0])


@pytest.mark.parametrize("response", ["proper_spin", "conventional_spin", "charge"])
def test_small_path_conductivities_match_numpy_eigenvalues(response, monkeypatch):
    """Issue 26: the 4-band conductivities with the QL path equal those with numpy's eigenvalues (the LAPACK
    path, identical to zheevd's) to 1e-12 of their largest value, on a Rashba BHZ model with an exchange field."""
    import properspin as ps

    model = ps.models.bhz(1.0, 0.3).with_zeeman((0.05, 0.02, 0.03))
    fermi = np.linspace(-3.0, 3.0, 25)

    def run() -> np.ndarray:
        return np.asarray(ps.conductivity(model, response, fermi=fermi, mesh=ps.mesh.grid(24),
                                          engine=ps.Engine(workers=1)).values)

    new = run()
    monkeypatch.setattr(eigen, "_QL_MAX", 0)
    old = run()
    assert np.abs(old).max() > 0.01
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-12 * np.abs(old).max())
