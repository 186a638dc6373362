"""The lattice BHZ model's H(k) and ∂H written entry by entry (issue 26: cheaper 4-band inputs) against its
definition diag(h_QWZ(k), h_QWZ(−k)*) + λ(sin k_y σ_x − sin k_x σ_y) ⊗ 1 built from the QWZ model."""

from __future__ import annotations

import numpy as np
import pytest

import properspin as ps
from properspin.model import PAULI


def _definition(u: float, lam: float, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    qwz = ps.models.qwz(u)
    eye = np.eye(2)
    rx, ry = lam * np.kron(PAULI[0], eye), lam * np.kron(PAULI[1], eye)
    h = np.zeros((len(k), 4, 4), complex)
    h[:, :2, :2], h[:, 2:, 2:] = qwz.hamiltonian(k), np.conj(qwz.hamiltonian(-k))
    h += np.sin(k[:, 1])[:, None, None] * rx - np.sin(k[:, 0])[:, None, None] * ry
    dh = np.zeros((2, len(k), 4, 4), complex)
    dh[:, :, :2, :2], dh[:, :, 2:, 2:] = qwz.gradient(k), -np.conj(qwz.gradient(-k))
    dh[0] -= np.cos(k[:, 0])[:, None, None] * ry
    dh[1] += np.cos(k[:, 1])[:, None, None] * rx
    return h, dh


@pytest.mark.parametrize("u, lam", [(1.0, 0.0), (-1.5, 0.0), (1.0, 0.3), (2.5, -0.7)])
def test_bhz_entries_equal_the_definition(u, lam):
    """Every entry of H and ∂H equal (==) to the block construction, at random k and at the TRIM."""
    k = np.concatenate([np.random.default_rng(3).uniform(-7, 7, size=(400, 2)),
                        [[0, 0], [np.pi, 0], [0, np.pi], [-np.pi, np.pi]]])
    model = ps.models.bhz(u, lam)
    h, dh = _definition(u, lam, k)
    np.testing.assert_array_equal(model.hamiltonian(k), h)
    np.testing.assert_array_equal(model.gradient(k), dh)


def test_bhz_gradient_is_the_derivative_of_h():
    """∂H of the written-out form against central differences of its H (step 1e-5: error ~1e-10)."""
    model = ps.models.bhz(0.8, 0.4)
    k = np.random.default_rng(4).uniform(-np.pi, np.pi, size=(50, 2))
    step = 1e-5
    for a in range(2):
        dk = np.zeros(2)
        dk[a] = step
        fd = (model.hamiltonian(k + dk) - model.hamiltonian(k - dk)) / (2 * step)
        np.testing.assert_allclose(model.gradient(k)[a], fd, rtol=0, atol=1e-9)
