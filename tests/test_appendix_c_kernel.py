"""The App. C terms (C6), (C7), (C11), (C24) in the compiled kernel (KernelMode.APPENDIX_C) against the numpy path
(``geometry.appendix_c_terms``): partial sums to 1e-12 of their largest entry, and the identities of App. C from
the kernel alone."""

from __future__ import annotations

import numpy as np
import pytest

from properspin import chunk, mesh, models, responses
from properspin.sweep import Sweep

from .conftest import FE, needs_fe

pytest.importorskip("numba")
from properspin import kernels  # noqa: E402
from properspin.kernel_modes import KERNEL_NEEDS, KernelMode  # noqa: E402

from .test_kernels import _pt, _sweeps, compare_response, random_model, spin_k_model  # noqa: E402

MODES = ("block_trace", "exclude")


@pytest.fixture(autouse=True, scope="module")
def _compiled(compiled_kernels):
    """Both kernel copies compiled (or loaded from numba's cache) before the first test."""


def _terms(partial, dim):
    """A partial-sum array (rows, 4·3·dim²) → {term: (rows, 3, dim, dim)}."""
    p = partial.reshape(len(partial), 4, 3, dim, dim)
    return {t: p[:, i] for i, t in enumerate(responses.APPENDIX_C_TERMS)}


def test_appendix_c_runs_in_the_kernel():
    """The response names the APPENDIX_C mode for both degenerate modes, and the engine's kernel takes it (no
    silent numpy fall-back: kernel_chunk returns a result, not None)."""
    model = random_model(4, 2, True, seed=3)
    m = mesh.resolve(mesh.grid(5), model)
    k, w = m.points(model, 0, m.size)
    for mode in MODES:
        resp = responses.get("appendix_c", degenerate=mode)
        assert resp.fused_mode == KernelMode.APPENDIX_C
        assert kernels.supports(resp, model)
        assert isinstance(kernels.kernel_chunk(resp, model, k, w, _sweeps(), 1e-6), chunk.ChunkResult)
    row = KERNEL_NEEDS[KernelMode.APPENDIX_C]
    assert row.appendix_c and row.sigma and row.conventional and row.widths(3)["expanded"] == 4 * 27


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n, dim, periodic, position", [(2, 2, True, False), (4, 2, False, False), (4, 3, True, True),
                                                        (7, 3, True, False), (12, 3, True, True), (5, 2, True, True)])
def test_random_models_match_numpy(mode, n, dim, periodic, position):
    """Random models, 2–12 bands (4: the constant-bound copy; 12: BLAS), 2D/3D, with a Wannier position term."""
    model = random_model(n, dim, periodic, seed=10 + n + dim, position=position)
    m = mesh.resolve(mesh.grid(5 if dim == 2 else 3), model) if periodic else mesh.resolve(mesh.disk(1.2, 6, 8), model)
    compare_response(responses.get("appendix_c", degenerate=mode), model, m)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n_orb, position", [(2, False), (3, True), (6, True)])
def test_exact_kramers_degeneracies_match_numpy(mode, n_orb, position):
    """PT-symmetric models with exact Kramers doublets at every k (block trace and excluded pairs differ there)."""
    model = _pt(n_orb, position)
    got, _ = compare_response(responses.get("appendix_c", degenerate=mode), model, mesh.resolve(mesh.grid(3), model))
    assert got.degenerate_kpoints == 27


@pytest.mark.parametrize("mode", MODES)
def test_chained_blocks_and_bhz(mode):
    """Blocks of three or more bands under a large tolerance; BHZ (2D, 4 bands, exact Kramers pairs)."""
    model = random_model(7, 3, True, seed=71)
    compare_response(responses.get("appendix_c", degenerate=mode), model, mesh.resolve(mesh.grid(3), model), tol=1.5)
    bhz = models.bhz(1.0)
    compare_response(responses.get("appendix_c", degenerate=mode), bhz, mesh.resolve(mesh.grid(10), bhz))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n, position", [(4, False), (12, True)])
def test_k_dependent_spin_matches_numpy(mode, n, position):
    """S(k) of Model.spin_k (a native Wannier90 run's .spn), loops and BLAS, also with blocks (tolerance 0.3)."""
    model = spin_k_model(n, seed=40 + n, position=position)
    for tol in (1e-6, 0.3):
        compare_response(responses.get("appendix_c", degenerate=mode), model, mesh.resolve(mesh.grid(3), model),
                         tol=tol)


@pytest.mark.parametrize("mode", MODES)
def test_identities_from_the_kernel(mode):
    """From the kernel's sums alone, at every Fermi energy and temperature, on a model with exact Kramers doublets:
    (C6) + (C24) = the proper spin current (kernel, same degenerate mode), (C6) + (C7) = the conventional one and,
    in block-trace form, (C7) + (C11) = 0; (C7) is not small, so the identities are not 0 = 0.  With the excluded
    pairs dropped ("exclude") (C7) + (C11) = Q[½{s_E, v}] ≠ 0 (s_E: the spin on the excluded pairs inside a
    doublet), as on the numpy path: only the block trace keeps that identity at a degeneracy."""
    model = _pt(3, position=True)
    m = mesh.resolve(mesh.grid(3), model)
    k, w = m.points(model, 0, m.size)
    sweeps = _sweeps()
    run = {name: kernels.kernel_chunk(responses.get(name, **p), model, k, w, sweeps, 1e-6).partials
           for name, p in (("appendix_c", {"degenerate": mode}), ("proper_spin", {"degenerate": mode}),
                           ("conventional_spin", {}))}
    for s in range(len(sweeps)):
        t = _terms(run["appendix_c"][s], 3)
        proper = run["proper_spin"][s].reshape(-1, 3, 3, 3)
        conv = run["conventional_spin"][s].reshape(-1, 3, 3, 3)
        scale = np.abs(proper).max()
        assert np.abs(t["C7"]).max() > 1e-2 * scale
        if mode == "block_trace":
            np.testing.assert_allclose(t["C7"] + t["C11"], 0, atol=1e-12 * scale)
        else:
            assert np.abs(t["C7"] + t["C11"]).max() > 1e-2 * scale
        np.testing.assert_allclose(t["C6"] + t["C24"], proper, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(t["C6"] + t["C7"], conv, rtol=0, atol=1e-12 * scale)


@needs_fe
def test_fe_tight_binding_matches_numpy():
    """bcc Fe (Fe_tb.dat, 18 Wannier functions with positions: BLAS path)."""
    from properspin.models.wannier import wannier90

    model = wannier90(FE, spinor_order="interleaved")
    sweeps = (Sweep(17.69 + np.linspace(-0.5, 0.5, 21), 0.0),)
    for mode in MODES:
        compare_response(responses.get("appendix_c", degenerate=mode), model,
                         mesh.resolve(mesh.grid(3, shift=0.25), model), sweeps)


PT_RUN = FE.parent / "wannier90" / "Pt" / "Pt"


@pytest.mark.skipif(not PT_RUN.with_suffix(".win").is_file(), reason=f"real-data run {PT_RUN} absent")
def test_pt_native_run_matches_numpy():
    """fcc Pt from its native Wannier90 files: S(k), positions, 18 bands (BLAS).  Under a 10 meV tolerance the
    Kramers pairs (split by meV by the interpolation) form blocks at most k-points: kernel = numpy to 1e-12.  Under
    1e-5 eV pairs split by 0.5 meV stay in, where both paths lose digits to 1/Δ² (the numpy (C11) from t_mn/Δ_mn
    with t formed in the orbital basis): there they agree to 1e-10 of the largest entry, and the kernel's
    (C7) + (C11) is 0 to round-off in block-trace form (numpy's: 3.5e-11 of the largest entry)."""
    from properspin.models import wannier90_run

    model = wannier90_run(PT_RUN)
    m = mesh.resolve(mesh.grid(3), model)
    k, w = m.points(model, 0, m.size)
    sweeps = (Sweep(np.linspace(16.0, 20.0, 21), 0.0),)
    for mode in MODES:
        resp = responses.get("appendix_c", degenerate=mode)
        got, _ = compare_response(resp, model, m, sweeps, tol=1e-2)
        assert got.degenerate_kpoints > m.size // 2
        got = kernels.kernel_chunk(resp, model, k, w, sweeps, 1e-5).partials[0]
        ref = chunk.numpy_chunk(model, resp, k, w, sweeps, 1e-5).partials[0]
        scale = np.abs(ref).max()
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * scale)
        t = _terms(got, 3)
        if mode == "block_trace":
            assert np.abs(t["C7"] + t["C11"]).max() < 1e-14 * scale
