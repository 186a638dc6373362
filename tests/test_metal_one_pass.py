"""The metal routes' Drude weight W = Σ δ(ε − E_F) s_nn v_i v_j comes from their own pass over the mesh
(``Response.companions``), not from a second one: the same numbers as the separate ``spin_drude_weight`` response,
with every executor, checkpoints, temperature sweeps and the irreducible wedge (W is T-odd: its own law)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import properspin as ps
from properspin import engine as engines
from properspin import mesh
from properspin.chunk import Job, run_chunk
from properspin.prepare import prepare

from .test_conserved import kane_mele, random_lattice

SERIAL = ps.Engine(workers=1)
METAL = ("conserved_spin_metal", "torque_dipole_metal")


def _in_band(model, band=1, quantiles=(0.5,)):
    e = model.energies(np.random.default_rng(0).random((500, model.dim)) @ model.reciprocal)
    return [float(np.quantile(e[:, band], q)) for q in quantiles]


def _quiet(model, name, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.MetallicFermiWarning)
        return ps.conductivity(model, name, **kw)


@pytest.mark.parametrize("name", METAL)
def test_mesh_is_visited_once(name):
    """∂H/∂k is evaluated once per k-point (before: twice, the Drude weight's second pass); H twice (the band-range
    scan of prepare() and the pass) plus the few probe points of the precision check."""
    model = random_lattice(4, 2)
    seen = {"h": 0, "dh": 0}

    def counted(func, key):
        def wrapped(k):
            seen[key] += len(k)
            return func(k)
        return wrapped

    model = dataclasses.replace(model, hamiltonian=counted(model.hamiltonian, "h"),
                                gradient=counted(model.gradient, "dh"))
    fermi = _in_band(model)
    seen.update(h=0, dh=0)
    r = _quiet(model, name, fermi=fermi, mesh=mesh.grid(10), temperature=600, engine=SERIAL)
    assert seen["dh"] == 100 and seen["h"] <= 2 * 100 + 10
    assert r.attrs["drude_weight_max"] > 1e-3  # a magnet: W ≠ 0, from that one pass


@pytest.mark.parametrize("case", ["magnet", "time_reversal"])
def test_one_pass_drude_weight_equals_the_separate_response(case):
    """Partial sums: the companion columns are the ``spin_drude_weight`` sums and the response's own columns are
    unchanged (to 1e-12); the attribute is max |W| at the highest temperature of a T sweep; the warning is given
    exactly when W ≠ 0 (random 4-band model: no symmetry; Kane–Mele: time reversal, W = 0 to round-off)."""
    model = random_lattice(4, 2) if case == "magnet" else kane_mele()
    fermi = _in_band(model, quantiles=(0.3, 0.6))
    kw = {"fermi": fermi, "mesh": mesh.grid(12), "temperature": [300.0, 600.0]}
    job = prepare(model, "conserved_spin_metal", **kw).engine_job()
    size = job.mesh.size
    part = run_chunk(job, 0, size)
    drude = run_chunk(prepare(model, "spin_drude_weight", **kw).engine_job(), 0, size)
    alone = dataclasses.replace(job.response, companions=())
    own = run_chunk(Job(job.model, job.mesh, alone, job.sweeps, job.degeneracy_tol), 0, size)
    width = job.response.width(2)
    assert part.partials[0].shape[1] == width + 2 * 12  # (sea, surface) × 3 × 2 × 2 for each
    for p, d, o in zip(part.partials, drude.partials, own.partials, strict=True):
        np.testing.assert_allclose(p[:, width:], d, rtol=0, atol=1e-12 * np.abs(d).max())
        np.testing.assert_allclose(p[:, :width], o, rtol=0, atol=1e-12 * np.abs(o).max())
    w = ps.conductivity(model, "spin_drude_weight", fermi=fermi, mesh=mesh.grid(12), temperature=600.0,
                        engine=SERIAL).values
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = ps.conductivity(model, "conserved_spin_metal", engine=SERIAL, **kw)
    notes = [c for c in caught if issubclass(c.category, ps.MetallicFermiWarning)]
    scale = float(np.abs(r.values).max())
    assert abs(r.attrs["drude_weight_max"] - np.abs(w).max()) <= 1e-12 * max(np.abs(w).max(), scale)
    if case == "magnet":
        assert np.abs(w).max() > 1e-3 and r.attrs["drude_note"].startswith("symmetric Drude term")
        assert len(notes) == 1 and "relaxation rate" in str(notes[0].message)
    else:
        assert r.attrs["drude_weight_max"] <= 1e-10 * scale and not notes


def test_processes_and_checkpoint_resume_give_the_serial_result(tmp_path):
    """Forked workers and a resumed checkpoint give the serial values and W (to 1e-12).  Before, a checkpoint of a
    Fermi-surface response was refused as corrupt on resume (its (sea, surface) columns were not counted); a
    checkpoint of the old layout (no companion columns) is refused as another calculation, not mis-read."""
    model = random_lattice(4, 2)
    kw = {"fermi": _in_band(model), "mesh": mesh.grid(12), "temperature": 600.0}
    ref = _quiet(model, "conserved_spin_metal", engine=SERIAL, **kw)
    forked = _quiet(model, "conserved_spin_metal", engine=ps.Engine(workers=2, chunk_size=40), **kw)
    np.testing.assert_allclose(forked.values, ref.values, rtol=0, atol=1e-12 * np.abs(ref.values).max())
    assert forked.attrs["drude_weight_max"] == pytest.approx(ref.attrs["drude_weight_max"], rel=1e-12)
    path = tmp_path / "ck.npz"
    eng = ps.Engine(workers=1, chunk_size=40, checkpoint=path)
    job = prepare(model, "conserved_spin_metal", **kw).engine_job()
    ranges = eng.ranges(job.mesh.size)
    engines._Checkpoint(path, job, ranges).save(1, run_chunk(job, *ranges[0]))  # as if stopped after chunk 1
    resumed = _quiet(model, "conserved_spin_metal", engine=eng, **kw)
    assert not path.exists()
    np.testing.assert_allclose(resumed.values, ref.values, rtol=0, atol=1e-12 * np.abs(ref.values).max())
    assert resumed.attrs["drude_weight_max"] == pytest.approx(ref.attrs["drude_weight_max"], rel=1e-12)
    old = Job(job.model, job.mesh, dataclasses.replace(job.response, companions=()), job.sweeps, job.degeneracy_tol)
    engines._Checkpoint(path, old, ranges).save(1, run_chunk(old, *ranges[0]))
    with pytest.raises(ValueError, match="different calculation .*response"):
        _quiet(model, "conserved_spin_metal", engine=eng, **kw)


def test_irreducible_wedge_drude_weight_equals_the_full_grid():
    """A ferromagnet (lattice Bi2Se3, m_z = 0.05 eV, group 6/m'm'm): W from the wedge's pass, projected with W's
    own (T-odd) law, equals the full grid's and the separate response's on the wedge."""
    from properspin.models.topological_insulator import topological_insulator_lattice
    from properspin.symmetry import Structure

    model = topological_insulator_lattice(magnetization=(0, 0, 0.05))
    structure = Structure(2 * np.pi * np.linalg.inv(model.reciprocal).T, np.zeros((1, 3)), ["site"],
                          magnetization=(0, 0, 1))
    kw = {"fermi": _in_band(model, band=2, quantiles=(0.3,)), "temperature": 1000.0, "engine": SERIAL}
    full = _quiet(model, "conserved_spin_metal", mesh=mesh.grid(8), **kw)
    wedge = _quiet(model, "conserved_spin_metal", mesh=mesh.grid(8, symmetry=structure), **kw)
    alone = ps.conductivity(model, "spin_drude_weight", mesh=mesh.grid(8, symmetry=structure), **kw)
    assert wedge.attrs["mesh_symmetry_reduction"] > 8
    w = full.attrs["drude_weight_max"]
    assert w > 1e3 and wedge.attrs["drude_weight_max"] == pytest.approx(w, rel=1e-10)
    assert wedge.attrs["drude_weight_max"] == pytest.approx(float(np.abs(alone).max()), rel=1e-12)
    np.testing.assert_allclose(wedge.values, full.values, rtol=0, atol=1e-10 * np.abs(full.values).max())


def test_drude_weight_uses_the_callers_degeneracy_tolerance():
    """W is block-averaged with the calculation's degeneracy_tol, as the response itself (before, the second pass
    used the default 1e-6 eV: on Pt's point-orbital model, tol 0.05 eV, 2257 instead of 310 on 8³).  A PT-symmetric
    model split by a Zeeman field of 1e-4 eV: W with tol 1e-2 eV (pairs averaged) is 10× below W with 1e-6."""
    model = random_lattice(4, 1, pt=True).with_zeeman((0, 0, 1e-4))
    kw = {"fermi": _in_band(model), "mesh": mesh.grid(10), "temperature": 600.0, "engine": SERIAL}
    r = _quiet(model, "conserved_spin_metal", degeneracy_tol=1e-2, **kw)
    averaged = float(np.abs(ps.conductivity(model, "spin_drude_weight", degeneracy_tol=1e-2, **kw)).max())
    split = float(np.abs(ps.conductivity(model, "spin_drude_weight", **kw)).max())
    assert split > 5 * averaged > 0
    assert r.attrs["drude_weight_max"] == pytest.approx(averaged, rel=1e-12)
