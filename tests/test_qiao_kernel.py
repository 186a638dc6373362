"""The Qiao et al. spin current in the compiled kernel (issue 26) against the numpy ``QiaoSpinCurrent``.

The kernel builds ``B = U† [S U (D E + diag ∂ε) − SH U D − i(SR U E − SHR U)]`` from one rotation of the
Wannier-gauge operators; numpy rotates each operator and forms K, L and B (PRB 98, 214402, Eqs. 23–39).  Both must
give the same conventional spin Hall partial sums (all 27 components, two Fermi-energy sweeps) to round-off.  The
synthetic native run of ``tests/w90files.py`` has SR = SHR = 0 (point-like orbitals), so the algebra is checked
with random Wannier-gauge operators S, SH, SR, SHR on its R vectors as well.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import properspin as ps
from properspin import chunk, kernels, responses
from properspin.models import wannier90_run
from properspin.models.wannier.fourier import WannierSums
from properspin.models.wannier.run import QiaoSpinCurrent
from properspin.sweep import Sweep

from .w90files import write_run

RTOL = 1e-12
SWEEPS = (Sweep(np.linspace(-3.0, 3.0, 9), 0.0), Sweep(np.linspace(-3.0, 3.0, 5), 300.0))


@pytest.fixture(autouse=True)
def _compiled(compiled_kernels):
    """The compile is paid once per session (tests/conftest.py), not inside a test."""


@pytest.fixture(scope="module", params=[2, 3], ids=["4 bands", "6 bands"])
def run_model(request, tmp_path_factory):
    """The synthetic native run with 2 or 3 spinful orbitals (the 4-band and the general compiled kernel)."""
    data = write_run(tmp_path_factory.mktemp(f"qiao{request.param}"), norb=request.param, model_seed=7)
    return wannier90_run(data["seedname"])


def _random_qiao(model: ps.Model, seed: int, r_terms: bool = True) -> ps.Model:
    """``model`` with S, SH, SR, SHR replaced by random operators (decaying with |R|) on its R vectors."""
    rng = np.random.default_rng(seed)
    src = model.spin_current
    rcart = src.sums.rcart
    n = model.nbands
    decay = np.exp(-0.5 * np.linalg.norm(rcart, axis=1))[:, None, None, None]

    def op(c: int, scale: float) -> np.ndarray:
        return scale * decay * (rng.normal(size=(len(rcart), c, n, n)) + 1j * rng.normal(size=(len(rcart), c, n, n)))

    blocks = {"s": op(3, 0.5), "sh": op(3, 1.0), "sr": op(9, 0.3 * r_terms), "shr": op(9, 0.6 * r_terms)}
    sums = WannierSums(rcart, blocks)
    return replace(model, spin_k=sums.function("s"), spin_current=QiaoSpinCurrent(sums, src.d_tol))


def _k(model: ps.Model, count: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    k = np.random.default_rng(seed).uniform(-0.5, 0.5, (count, 3)) @ model.reciprocal
    return k, np.full(count, 1.0 / count)


def _both(model: ps.Model, resp: responses.Response) -> tuple[list[np.ndarray], list[np.ndarray]]:
    k, w = _k(model)
    got = kernels.kernel_chunk(resp, model, k, w, SWEEPS, 1e-6)
    assert got is not None, "the kernel declined the Qiao spin current"
    ref = chunk.numpy_chunk(model, resp, k, w, SWEEPS, 1e-6)
    return got.partials, ref.partials


def _assert_equal(got: list[np.ndarray], ref: list[np.ndarray]) -> None:
    for p_got, p_ref in zip(got, ref, strict=True):
        assert p_got.shape == p_ref.shape and p_ref.shape[1] == 27
        scale = np.abs(p_ref).max()
        assert scale > 1e-3  # not a comparison of zeros
        np.testing.assert_allclose(p_got, p_ref, rtol=0, atol=RTOL * scale)


@pytest.mark.parametrize("eta", [0.0, 0.1])
def test_kernel_equals_numpy_on_synthetic_run(run_model, eta):
    """The run's own operators (S(k) from .spn, SH from H and .spn), η → 0 and postw90's η = 0.1 eV."""
    resp = responses.get("conventional_spin", method="qiao", broadening=eta)
    assert resp.fused_mode is not None and kernels.supports(resp, run_model)
    _assert_equal(*_both(run_model, resp))


@pytest.mark.parametrize("eta", [0.0, 0.1])
def test_kernel_equals_numpy_with_random_operators(run_model, eta):
    """Every term of B (∂ε S, ε K, L with their SR, SHR parts and the D products) with generic operators; the SR,
    SHR terms change the result by far more than the tolerance, so they are checked, not bypassed."""
    resp = responses.get("conventional_spin", method="qiao", broadening=eta)
    model = _random_qiao(run_model, seed=11)
    got, ref = _both(model, resp)
    _assert_equal(got, ref)
    without_r, _ = _both(_random_qiao(run_model, seed=11, r_terms=False), resp)
    change = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(got, without_r, strict=True))
    assert change > 1e-2


def test_eigval_max_in_the_kernel(run_model):
    """postw90's kubo_eigval_max: pairs with a band above it are dropped, in the kernel as in numpy, and the cut
    changes the result (it is applied, not ignored)."""
    k, _ = _k(run_model)
    emax = float(np.median(run_model.energies(k)))
    cut = responses.get("conventional_spin", method="qiao", eigval_max=emax)
    got, ref = _both(run_model, cut)
    _assert_equal(got, ref)
    full, _ = _both(run_model, responses.get("conventional_spin", method="qiao"))
    assert max(np.abs(a - b).max() for a, b in zip(got, full, strict=True)) > 1e-3 * np.abs(full[0]).max()
    simple_got, simple_ref = _both(run_model, responses.get("conventional_spin", eigval_max=emax))
    _assert_equal(simple_got, simple_ref)


def test_rotated_model_falls_back_to_numpy(run_model):
    """A model whose spin current is not a run's own QiaoSpinCurrent (here: the orbital basis rotated) goes the
    numpy path, and gives the same physics (a basis change is a gauge change)."""
    rng = np.random.default_rng(5)
    n = run_model.nbands
    q, _ = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
    rotated = run_model.transformed(q)
    resp = responses.get("conventional_spin", method="qiao")
    k, w = _k(run_model)
    assert kernels.kernel_chunk(resp, rotated, k, w, SWEEPS, 1e-6) is None
    ref = chunk.numpy_chunk(rotated, resp, k, w, SWEEPS, 1e-6).partials
    got = kernels.kernel_chunk(resp, run_model, k, w, SWEEPS, 1e-6).partials
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * np.abs(b).max())

