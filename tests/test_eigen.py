"""The small-matrix Hermitian eigensolver (properspin.eigen) against numpy.linalg.eigh."""

from __future__ import annotations

import numpy as np
import pytest

from properspin import eigen

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


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12, 18, 32])
def test_random_hermitian_matrices(n):
    assert eigen.available()
    h = _hermitian(n, 50, seed=n)
    e, u = eigen.eigh(h)
    _check(h, e, u)
    if n <= 25:  # same tridiagonal, same QL iteration as zheevd with vectors: eigenvalues identical to numpy's
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
    h = _hermitian(6, 3, seed=4)
    e, u = eigen.eigh(h)
    np.testing.assert_array_equal(e, np.linalg.eigh(h)[0])
