"""One preparation step (issue 23 item 3) and one evaluator per Wannier90 run with typed run defaults (item 4).

* :func:`properspin.prepare.prepare` validates once: the same bad input through the API and through a run file
  gives the same message, the run file naming its key;
* the prepared job is immutable, keeps the caller's Fermi order and carries the symmetry (wedge + projector);
* a native run's H, ∂H, A, S(k) and the Qiao SH/SR/SHR are sums of one evaluator, equal to 1e-12 to the two
  evaluators they were before; its ``.win`` defaults are typed :class:`~properspin.model.RunDefaults`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import properspin as ps
from properspin import mesh
from properspin.calculation import evaluate
from properspin.config import ConfigError, run_config
from properspin.models.wannier.fourier import WannierSums
from properspin.models.wannier.hamiltonian import fold_ws_shifts
from properspin.models.wannier.run import read_wannier90_run
from properspin.prepare import InputError, PreparedJob, prepare
from properspin.symmetry import Structure, SymmetryWarning

from .test_symmetry import PT_STRUCTURE, pt_like
from .w90files import write_run

RASHBA = '[model]\nname = "rashba"\nparameters = { alpha = 0.3, mass = 1.0, zeeman = [0.0, 0.0, 1e-3] }\n'
QWZ = '[model]\nname = "qwz"\nparameters = { u = 1.0 }\n'

#: (id, run-file text, the same call through the API, the run-file key the error must name)
SAME = [
    ("spin_response_without_spin", QWZ + '[mesh]\nkind = "grid"\nn = 6\n[fermi]\nvalues = [0.0]\n'
     '[calculation]\nresponses = ["proper_spin"]\n',
     lambda: ps.conductivity(ps.models.qwz(u=1.0), "proper_spin", fermi=[0.0], mesh=mesh.grid(6)),
     "calculation.responses"),
    ("tolerance_above_spectrum", QWZ + '[mesh]\nkind = "grid"\nn = 6\n[fermi]\nvalues = [0.0]\n'
     '[calculation]\nresponses = ["charge"]\ndegeneracy_tol = 1000.0\n',
     lambda: ps.conductivity(ps.models.qwz(u=1.0), "charge", fermi=[0.0], mesh=mesh.grid(6),
                             degeneracy_tol=1000.0),
     "calculation.degeneracy_tol"),
    ("cutoff_below_fermi_surface", RASHBA + '[mesh]\nkind = "disk"\nradius = 0.01\nnk = 20\nnphi = 8\n'
     '[fermi]\nvalues = [0.5]\n[calculation]\nresponses = ["proper_spin"]\n',
     lambda: ps.conductivity(ps.models.rashba(alpha=0.3, mass=1.0, zeeman=(0.0, 0.0, 1e-3)), "proper_spin",
                             fermi=[0.5], mesh=mesh.disk(0.01, nk=20, nphi=8)),
     "mesh.radius"),
    ("zero_temperature_in_a_band", RASHBA + '[mesh]\nkind = "disk"\nradius = 0.6\nnk = 20\nnphi = 8\n'
     '[fermi]\nvalues = [0.1]\n[calculation]\nresponses = ["spin_drude_weight"]\n',
     lambda: ps.conductivity(ps.models.rashba(alpha=0.3, mass=1.0, zeeman=(0.0, 0.0, 1e-3)), "spin_drude_weight",
                             fermi=[0.1], mesh=mesh.disk(0.6, nk=20, nphi=8)),
     "calculation.temperature"),
]


@pytest.mark.parametrize("name, text, api, key", SAME, ids=[s[0] for s in SAME])
def test_same_bad_input_same_message_through_api_and_run_file(name, text, api, key, tmp_path):
    with pytest.raises(ValueError) as direct:
        api()
    assert isinstance(direct.value, InputError)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as run:
        run_config(path, output=tmp_path / "out")
    assert run.value.problems == [(key, str(direct.value))]  # the key named, the message the API's
    assert not (tmp_path / "out").exists()


def test_prepared_job_is_validated_immutable_and_resolved():
    model = ps.models.qwz(u=1.0)
    job = prepare(model, "conventional_spin" if model.has_spin else "charge", fermi=[0.3, -0.2, 0.1],
                  mesh=mesh.grid(6), temperature=[0.0, 300.0])
    assert isinstance(job, PreparedJob) and job.mesh.size == 36  # grid(6) fixed to the model's 2 dimensions
    np.testing.assert_array_equal(job.fermi, [0.3, -0.2, 0.1])  # the caller's order; the sweeps get it sorted
    sweeps = job.engine_job().sweeps
    np.testing.assert_array_equal(sweeps[1].fermi, [-0.2, 0.1, 0.3])
    assert [s.temperature for s in sweeps] == [0.0, 300.0]
    assert job.symmetry is None and not job.scalar_temperature and job.choices["temperature_K"] == [0.0, 300.0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.fermi = np.zeros(3)  # type: ignore[misc]
    with pytest.raises(InputError) as info:
        prepare(model, "charge", fermi=[0.1, 0.1], mesh=mesh.grid(6))
    assert info.value.parameter == "fermi" and "distinct" in str(info.value)
    with pytest.raises(InputError) as info:
        prepare(model, "charge", fermi=0.0, mesh=mesh.grid(6), temperature=-1.0)
    assert info.value.parameter == "temperature"


def test_symmetry_is_one_object_wedge_and_projector():
    """grid(n, symmetry=...) → the irreducible wedge carrying its projector: evaluated, the full-grid value; a
    structure that does not fit the model is a warning (API) or an InputError for 'symmetry' (run files)."""
    model = pt_like()
    charge = prepare(model, "charge", fermi=[0.3, 1.5], mesh=mesh.grid(4, symmetry=PT_STRUCTURE))
    assert charge.symmetry is charge.mesh and charge.mesh.size < 64 / 4  # Oh × T: 64 points → their stars
    assert np.abs(charge.project(np.random.default_rng(0).normal(size=(2, 3, 3)))).max() < 1e-12  # T: no Hall
    job = prepare(model, "conventional_spin", fermi=[0.3, 1.5], mesh=mesh.grid(4, symmetry=PT_STRUCTURE))
    projected = job.project(np.random.default_rng(1).normal(size=(2, 3, 3, 3)))
    np.testing.assert_allclose(job.project(projected), projected, atol=1e-14)  # a projector: P² = P
    assert np.abs(projected).max() > 0.1  # the cubic spin Hall form σ^z_xy = −σ^z_yx = ... survives
    full = ps.conductivity(model, "conventional_spin", fermi=[0.3, 1.5], mesh=mesh.grid(4)).values
    assert np.abs(full).max() > 1.0
    np.testing.assert_allclose(evaluate(job).values, full, atol=1e-10 * np.abs(full).max())
    other = Structure(np.eye(3) * 4, [[0, 0, 0]], ["Pt"])
    with pytest.warns(SymmetryWarning, match="lattice differs"):
        assert prepare(model, "charge", fermi=0.3, mesh=mesh.grid(4, symmetry=other)).symmetry is None
    with pytest.raises(InputError, match="lattice differs") as info:
        prepare(model, "charge", fermi=0.3, mesh=mesh.grid(4, symmetry=other), strict_symmetry=True)
    assert info.value.parameter == "symmetry"


# --------------------------------------------------------------------------------------- one evaluator
@pytest.fixture(scope="module", params=[False, True], ids=["plain", "ws_distance"])
def run(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("one_evaluator")
    write_run(folder)  # fermi_energy = 0.1, berry_kmesh = 6 in its .win
    return read_wannier90_run(folder / "syn", use_ws_distance=request.param)


def _two_evaluators(run) -> WannierSums:
    """The spin sums as they were built before: a second evaluator over the run's own R set."""
    blocks = [run.spin_R, run.shc_R["SH"], run.shc_R["SR"], run.shc_R["SHR"]]
    if run.ws_table is None:
        rvec, folded = run.irvec, [b / run.ndegen.reshape((-1,) + (1,) * (b.ndim - 1)) for b in blocks]
    else:
        rvec, folded = fold_ws_shifts(run.irvec, run.ndegen, blocks, run.ws_table, "use_ws_distance", run.seedname)
    nr, n = len(rvec), run.num_wann
    lat = run.chk.real_lattice
    return WannierSums(rvec @ lat, {"s": folded[0], "sh": folded[1], "sr": folded[2].reshape(nr, 9, n, n),
                                    "shr": folded[3].reshape(nr, 9, n, n)}, lattice=lat)


def test_one_evaluator_for_every_operator_of_a_run(run):
    model = run.model()
    sums = model.hamiltonian.evaluator
    assert model.gradient.evaluator is sums and model.position.evaluator is sums
    assert model.spin_k.evaluator is sums and model.spin_current.sums is sums
    calls = []
    evaluate = sums.evaluate
    sums.evaluate = lambda k, what: calls.append(tuple(what)) or evaluate(k, what)  # count phase computations
    try:
        k = np.random.default_rng(3).normal(size=(7, 3))
        out = ps.model.evaluate_together(k, {"h": model.hamiltonian, "dh": model.gradient, "spin": model.spin_k})
    finally:
        del sums.evaluate
    assert calls == [("h", "dh", "s")]  # one evaluate call (one set of phases) for H, ∂H and S(k)
    old = _two_evaluators(run).evaluate(k, ("s", "sh", "sr", "shr"))
    new = sums.evaluate(k, ("s", "sh", "sr", "shr"))
    for name in old:
        scale = float(np.abs(old[name]).max())
        assert scale > 0 and np.abs(new[name] - old[name]).max() <= 1e-12 * scale, name
    np.testing.assert_allclose(out["spin"], old["s"], rtol=0, atol=1e-12 * float(np.abs(old["s"]).max()))


def test_run_defaults_are_typed_and_used(run, tmp_path):
    model = run.model()
    assert model.run_defaults == ps.model.RunDefaults((0.1,), (6, 6, 6), model.run_defaults.source)
    assert model.run_defaults.source.endswith("syn.win")
    given = ps.conductivity(model, "charge", fermi=[0.1], mesh=mesh.grid(4))
    default = ps.conductivity(model, "charge", fermi=None, mesh=mesh.grid(4))
    np.testing.assert_array_equal(default.values, given.values)
    assert default.attrs["fermi_from"].startswith("the model's run defaults")
    with pytest.raises(InputError, match="fermi is missing"):  # no defaults: the old error
        ps.conductivity(dataclasses.replace(model, run_defaults=None), "charge", fermi=None, mesh=mesh.grid(4))
    with pytest.raises(ValueError, match="positive point counts"):
        ps.model.RunDefaults((0.1,), (4, 0, 4))
