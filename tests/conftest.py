"""Helpers shared by the test modules: random matrices, the real-data paths and their skip markers, and a
session-wide warm-up of the compiled kernels.

Test modules import the helpers with ``from .conftest import ...`` (``tests`` is a package).  Long checks carry
``@pytest.mark.slow`` (registered in pyproject.toml): CI runs everything; locally ``pytest -m "not slow"``
skips them.  numba caches the compiled kernels per user (``properspin._numba.cache_dir``), so only the first
run after an edit of ``properspin/kernel_*.py``, ``conventions.py``, ``eigen.py`` or the
Fourier ``_mirror`` pays the compile (about a minute on 2 cores); the ``compiled_kernels`` fixture does it
once, up front, on a few k-points.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"  # the real-data files (../shared/data, README there)
FE = DATA / "Fe_tb.dat"


def needs_data(*names: str) -> pytest.MarkDecorator:
    """Skip (with the reason) unless every named file exists under ../shared/data."""
    missing = [name for name in names if not (DATA / name).exists()]
    return pytest.mark.skipif(bool(missing), reason=f"real-data file(s) {', '.join(missing)} absent from {DATA} "
                              "(no ../shared/data)")


needs_fe = needs_data("Fe_tb.dat")


def random_hermitian(rng: np.random.Generator, n: int, scale: float = 1.0, count: int | None = None) -> np.ndarray:
    """``scale · (A + A†)/2`` with A complex Gaussian (real part drawn first), (n, n) or (count, n, n)."""
    shape = (n, n) if count is None else (count, n, n)
    a = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    return scale * (a + np.swapaxes(a.conj(), -1, -2)) / 2


def smooth_model(h0: np.ndarray, ha: list[np.ndarray], ga: list[np.ndarray], spin: np.ndarray | None,
                 reciprocal: np.ndarray | None = None, name: str = "random"):
    """The smooth model ``H0 + Σ_a sin(k_a) H_a + Σ_a (1 − cos k_a) G_a`` with its exact gradient."""
    import properspin as ps

    n, dim = h0.shape[0], len(ha)

    def h(k):
        out = np.broadcast_to(h0, (len(k), n, n)).copy()
        for a in range(dim):
            out += np.sin(k[:, a])[:, None, None] * ha[a] + (1 - np.cos(k[:, a]))[:, None, None] * ga[a]
        return out

    def dh(k):
        return np.stack([np.cos(k[:, a])[:, None, None] * ha[a] + np.sin(k[:, a])[:, None, None] * ga[a]
                         for a in range(dim)])

    return ps.Model(h, dh, spin, dim, reciprocal=reciprocal, name=name)


def random_unitary(rng: np.random.Generator, n: int) -> np.ndarray:
    """Haar-random unitary (QR of a complex Gaussian matrix, phases fixed by R's diagonal)."""
    q, r = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
    return q * (np.diag(r) / abs(np.diag(r)))


@pytest.fixture(scope="session")
def compiled_kernels() -> float:
    """Compile (or load from numba's cache) both kernel copies and the eigensolver on a few k-points, once per
    session; returns the seconds it took.  Modules that exercise the kernel use it so that the compile is paid
    once, before their first test, not inside one."""
    import properspin as ps
    from properspin import mesh

    t = time.perf_counter()
    for model in (ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03)), ps.models.qwz(1.0)):  # 4 bands, 2 bands
        response = "proper_spin" if model.spin is not None else "charge"
        ps.conductivity(model, response, fermi=[0.0], mesh=mesh.grid(2), engine=ps.Engine(workers=1))
    return time.perf_counter() - t
