"""Kernel needs as data (issue 23 item 2): one row per kernel mode, read by the kernel driver; a response that
disagrees with its mode's row, a mode without a row, or non-finite kernel values where the numpy path is finite
are errors naming the mode — never a silent fall-back to the numpy path or a read past a work array.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import properspin as ps
from properspin import chunk, kernel_modes, mesh, responses
from properspin.kernel_modes import KERNEL_NEEDS, KernelMode, KernelNeedsError
from properspin.sweep import Sweep

pytest.importorskip("numba")
from properspin import kernel_base, kernels  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _compiled(compiled_kernels):
    """Both kernel copies compiled (or loaded from numba's cache) before the first test."""


def _bhz():
    return ps.models.bhz(1.0).with_zeeman((0.05, 0.02, 0.03))  # 4 bands, spin-mixed eigenstates


def _points(model, n=6):
    return mesh.resolve(mesh.grid(n), model).all_points(model)


SWEEPS = (Sweep(np.linspace(-3.0, 3.0, 31), 0.0),)


def test_every_kernel_response_agrees_with_its_row():
    """Each response with a kernel mode has a row whose components and widths are the response's, in 2D and 3D:
    charge Ω^c (1 or 3 columns → dim²), proper Σ^{c,l} (3 per cyclic pair and part → 3·dim² per part),
    conventional and torque dipole the full (l, i, j), the torque density (l, j)."""
    compact = {KernelMode.CHARGE: (1, 3), KernelMode.PROPER_SPIN: (3, 9), KernelMode.CONVENTIONAL_SPIN: (12, 27),
               KernelMode.TORQUE_DIPOLE: (12, 27), KernelMode.TORQUE: (6, 9),
               KernelMode.APPENDIX_C: (48, 108)}
    modes = set()
    for response in responses.RESPONSES.values():
        if response.kernel_mode is None:
            continue
        modes.add(KernelMode(response.kernel_mode))
        row = KERNEL_NEEDS[KernelMode(response.kernel_mode)]
        for dim in (2, 3):
            ncomp = int(np.prod([len(v) for v in response.coords(dim).values()]))
            widths = row.widths(dim)
            assert widths["expanded"] == ncomp, (response.name, dim)
            assert widths["vals"] == compact[KernelMode(response.kernel_mode)][dim - 2]
            assert ("spin" in row.operators) == response.needs_spin
    assert modes == set(KernelMode) == set(KERNEL_NEEDS)
    split = responses.get("proper_spin", occupation_split=True)
    assert KERNEL_NEEDS[KernelMode.PROPER_SPIN].widths(3, 2)["expanded"] == 2 * 27
    assert int(np.prod([len(v) for v in split.coords(3).values()])) == 2 * 27


def test_every_stage_named_in_the_table_is_a_compiled_stage():
    """The rows name real stages (``_<stage>`` of a kernel module, a numba dispatcher), so that a reader of the
    table (e.g. "compile only what a run needs") can trust it; every stage of those modules is named by some row."""
    from properspin import kernel_conventional, kernel_curvature, kernel_stages, kernel_velocity

    modules = (kernel_velocity, kernel_curvature, kernel_conventional, kernel_stages)
    named = set()
    for mode, row in KERNEL_NEEDS.items():
        for stage in row.stages:
            found = {id(getattr(m, f"_{stage}")): getattr(m, f"_{stage}") for m in modules if hasattr(m, f"_{stage}")}
            assert len(found) == 1 and all(hasattr(f, "py_func") for f in found.values()), (mode.name, stage)
            named.add(stage)
    stage_defs = {name[1:] for m in modules[:3] for name, f in vars(m).items()
                  if hasattr(f, "py_func") and f.__module__ == m.__name__}
    helpers = {"rotate_full", "rotate_upper", "position_hermitian", "spin_element", "spin_velocity_pairs",
               "spin_velocity", "qiao_stack", "restricted_spin_velocity", "block_spin_omega", "c24",
               "excluded_pair", "block_mean"}  # called by the named stages
    assert stage_defs - helpers <= named


def test_component_mismatch_is_an_error_naming_the_mode():
    """A (spin, field) torque-like response naming the conventional mode (27 columns for its 9): an error naming
    CONVENTIONAL_SPIN.  Failed on the old code: the kernel returned 27-column partial sums for 9 components."""
    toy = responses.Response("toy_density", "torque", ("spin", "field"), responses.get("torque").formula,
                             kernel_mode=KernelMode.CONVENTIONAL_SPIN)
    model = _bhz()
    k, w = _points(model)
    with pytest.raises(KernelNeedsError, match="CONVENTIONAL_SPIN"):
        kernels.kernel_chunk(toy, model, k, w, SWEEPS, 1e-6)
    with pytest.raises(KernelNeedsError, match="toy_density"):
        chunk.evaluate(model, toy, k, w, SWEEPS, 1e-6)


def test_undeclared_spin_is_an_error():
    """A response of kind "charge" naming the proper-spin mode (which reads the spin): the numpy formula would
    run without the spin, the kernel with it; refused, naming PROPER_SPIN."""
    odd = dataclasses.replace(responses.get("proper_spin"), name="odd", kind="charge")
    model = _bhz()
    k, w = _points(model)
    with pytest.raises(KernelNeedsError, match="PROPER_SPIN.*spin"):
        kernels.kernel_chunk(odd, model, k, w, SWEEPS, 1e-6)


def test_mode_without_a_row_is_an_error(monkeypatch):
    """Leaving a mode's row out of the table: KernelNeedsError naming the mode, not a default width."""
    monkeypatch.delitem(KERNEL_NEEDS, KernelMode.CHARGE)
    model = ps.models.qwz(1.0)
    k, w = _points(model)
    with pytest.raises(KernelNeedsError, match="CHARGE"):
        kernels.kernel_chunk(responses.get("charge"), model, k, w, SWEEPS, 1e-6)
    with pytest.raises(KernelNeedsError, match="7"):
        kernel_modes.needs(7)


def test_wrong_compact_width_is_an_error(monkeypatch):
    """A row whose compact width disagrees with what its stages write (Σ columns for the conventional mode):
    refused before the kernel runs, so nothing is read past a work array."""
    row = KERNEL_NEEDS[KernelMode.CONVENTIONAL_SPIN]
    monkeypatch.setitem(KERNEL_NEEDS, KernelMode.CONVENTIONAL_SPIN, row._replace(compact="sigma"))
    model = _bhz()
    k, w = _points(model)
    with pytest.raises(KernelNeedsError, match="CONVENTIONAL_SPIN"):
        kernels.kernel_chunk(responses.get("conventional_spin"), model, k, w, SWEEPS, 1e-6)


def test_nonfinite_kernel_values_fall_back_only_when_numpy_agrees(monkeypatch):
    """Non-finite kernel values: the numpy path takes over only where it is non-finite too (a NaN weight: both
    paths NaN); where numpy is finite it is a kernel defect, an error naming the mode.  The second half failed on
    the old code (it returned None: a silent numpy fall-back)."""
    model = _bhz()
    k, w = _points(model)
    response = responses.get("proper_spin")
    bad_w = w.copy()
    bad_w[3] = np.nan
    assert kernels.kernel_chunk(response, model, k, bad_w, SWEEPS, 1e-6) is None
    assert np.isnan(chunk.evaluate(model, response, k, bad_w, SWEEPS, 1e-6).partials[0]).any()

    def broken(blk, spin, spec, setup, work, partial, degflags, out):  # a kernel that read past its work arrays
        out[0] = kernel_base._BAD_VALUES

    monkeypatch.setattr(kernels, "_kernel_n4", broken)
    with pytest.raises(KernelNeedsError, match="PROPER_SPIN.*numpy path is finite"):
        kernels.kernel_chunk(response, model, k, w, SWEEPS, 1e-6)


def test_table_driven_kernel_matches_numpy():
    """The four modes driven by their rows give the numpy path's partial sums (to 1e-12 of the largest entry) on
    the 4-band model, T = 0 and T > 0."""
    model = _bhz()
    k, w = _points(model, 7)
    sweeps = (Sweep(np.linspace(-3.0, 3.0, 31), 0.0), Sweep(np.linspace(-3.0, 3.0, 31), 50.0))
    for name in ("charge", "proper_spin", "conventional_spin", "torque_dipole"):
        response = responses.get(name)
        got = kernels.kernel_chunk(response, model, k, w, sweeps, 1e-6)
        ref = chunk.numpy_chunk(model, response, k, w, sweeps, 1e-6)
        for a, b in zip(got.partials, ref.partials, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())
