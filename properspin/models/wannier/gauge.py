"""The on-site gauge of maximally localised Wannier functions relative to their projections.

Maximal localisation mixes the functions of an atom: Pt's 18 MLWFs from ``l=0;l=1;l=2`` are sp3d2-like hybrids
and t2g orbitals with their spins mixed, not the s, p, d ⊗ (↑, ↓) of the projections.  If W = V†φ with φ the
projection orbitals and V an on-site unitary, an operation g acts on the Wannier functions with V† D_φ(g) V.
V is found from the model itself:

1. for each unitary g, the matrix W(g) with W X(R) ≈ X(S R) W for H and S (least squares: the lowest eigenvector
   of a Gram matrix) and its phase, fixed by matching the traces of its powers to those of D_φ(g); operations whose
   phase is ambiguous (e.g. twofold rotations of spinors, whose spectrum is ±i) or whose W is not unique are
   skipped; for one anti-unitary g₀, W with W (p L X(R))* ≈ X(g₀R) W;
2. V from the real-linear equations V W(g) = D_φ(g) V (unitary) and V W(g₀) = D_φ(g₀) V* (its phase is absorbed
   in V's), a generic element of their near-null space made unitary.

The representation V† D_φ V is then exact (a similarity of the projections' one), whatever the quality of the
fit; the fit's residual is reported.  Supported for one atom carrying projections (Pt, Fe).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray


def _polar(m: Array) -> Array:
    u, _, vh = np.linalg.svd(m)
    return u @ vh


def _gram(z: Array, x: Array) -> Array:
    """Σ_K M_K† M_K for M_K vec(W) = vec(W Z_K − X_K W) (column-major vec): (n², n²)."""
    n = z.shape[-1]
    eye = np.eye(n)
    zz = np.einsum("kij,klj->il", z.conj(), z)  # Σ conj(Z) Z^T
    xx = np.einsum("kji,kjl->il", x.conj(), x)  # Σ X† X
    cross = np.tensordot(z.conj(), x, axes=(0, 0)).transpose(0, 2, 1, 3).reshape(n * n, n * n)  # Σ conj(Z) ⊗ X
    return np.kron(zz, eye) + np.kron(eye, xx) - cross - cross.conj().T


def estimate(pairs: list[tuple[Array, Array]]) -> tuple[Array, float]:
    """W minimising Σ ‖W Z − X W‖² (‖W‖ fixed), made unitary, and the ratio of the two lowest eigenvalues."""
    g = sum(_gram(z, x) for z, x in pairs)
    n = pairs[0][0].shape[-1]
    import scipy.linalg

    val, vec = scipy.linalg.eigh(g, subset_by_index=[0, 1])
    w = vec[:, 0].reshape(n, n, order="F") * np.sqrt(n)
    return _polar(w), float(val[0] / max(val[1], 1e-300))


def phase(w: Array, d: Array, grid: int = 7200) -> tuple[float, float]:
    """α with e^{−iα} W ≈ similar to D (traces of powers 1…n), and the margin: the cost of the best α separated by
    more than 0.2 rad, over the best cost (large: unique)."""
    n = len(d)
    wk, dk = np.eye(n, dtype=complex), np.eye(n, dtype=complex)
    tw, td = [], []
    for _ in range(n):
        wk, dk = wk @ w, dk @ d
        tw.append(np.trace(wk))
        td.append(np.trace(dk))
    k = np.arange(1, n + 1)[:, None]
    alpha = np.linspace(-np.pi, np.pi, grid, endpoint=False)
    cost = np.sum(np.abs(np.exp(-1j * k * alpha) * np.array(tw)[:, None] - np.array(td)[:, None]) ** 2, axis=0)
    best = int(np.argmin(cost))
    far = np.abs(np.angle(np.exp(1j * (alpha - alpha[best])))) > 0.2
    return float(alpha[best]), float(cost[far].min() / max(cost[best], 1e-300))


def _real(m: Array) -> Array:
    return np.block([[m.real, -m.imag], [m.imag, m.real]])


def _real_conj(m: Array) -> Array:
    return np.block([[m.real, m.imag], [m.imag, -m.real]])


def intertwiner(unitary: list[tuple[Array, Array]], antiunitary: tuple[Array, Array] | None,
                seed: int = 7) -> tuple[Array, dict[str, Any]]:
    """Unitary V with V W = D V for the (W, D) pairs and V W₀ = D₀ V* for the anti-unitary pair."""
    n = unitary[0][0].shape[0]
    eye = np.eye(n)
    g = np.zeros((2 * n * n, 2 * n * n))
    for w, d in unitary:
        m = _real(np.kron(w.T, eye) - np.kron(eye, d))
        g += m.T @ m
    if antiunitary is not None:
        w, d = antiunitary
        m = _real(np.kron(w.T, eye)) - _real_conj(np.kron(eye, d))
        g += m.T @ m
    val, vec = np.linalg.eigh(g / len(unitary))
    half = n * n
    ratios = np.log(np.maximum(val[1:half + 1], 1e-300) / np.maximum(val[:half], 1e-300))
    dim = int(np.argmax(ratios)) + 1
    coef = np.random.default_rng(seed).normal(size=dim)
    flat = vec[:, :dim] @ coef
    v = _polar((flat[:half] + 1j * flat[half:]).reshape(n, n, order="F"))
    info = {"null_dimension": dim, "null_eigenvalue_max": float(val[dim - 1]), "next_eigenvalue": float(val[dim])}
    return v, info
