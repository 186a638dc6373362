"""Point-orbital approximation of a Wannier model (models.point_orbital_approximation) for the definition routes.

Checks: the approximation of a model that already has point orbitals and a local spin is the identity; the dropped
position matrix and spin are measured (largest element, Frobenius fraction against an exact count); the full model
is refused by the finite-q routes with a message naming the approximation; on the approximated synthetic native run
(tests/w90files.py) the two metal routes converge to each other.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import properspin as ps
from properspin import mesh, models, orbital
from properspin.models.wannier.hamiltonian import random_wannier_hamiltonian
from properspin.results import parameters

from .conftest import DATA, needs_data
from .w90files import write_run

LATTICE = np.diag([2.0, 2.3, 2.7])


def _point_orbital_wannier(position_scale: float = 0.0):
    """Random H(R) of 2 orbitals × spin (interleaved), positions: R = 0 diagonal centres (+ random rest)."""
    wh = random_wannier_hamiltonian(4, LATTICE, position_scale=position_scale, seed=3)
    centres = np.array([[0.1, 0.2, -0.3]] * 2 + [[0.9, -0.4, 0.5]] * 2)  # spin partners on one site
    pos = wh.pos.copy()
    o = int(np.flatnonzero(np.all(wh.rvec == 0, axis=1))[0])
    pos[o] += np.einsum("ia,ij->aij", centres, np.eye(4))
    return replace(wh, pos=pos).to_model(spinor_order="interleaved"), centres, pos


def test_point_orbital_model_is_unchanged():
    model, centres, _ = _point_orbital_wannier()
    approx = models.point_orbital_approximation(model)
    k = np.random.default_rng(0).random((7, 3)) @ model.reciprocal
    for f in ("h", "dh", "berry_connection_orbital"):
        assert np.abs(getattr(approx, f)(k) - getattr(model, f)(k)).max() <= 1e-12
    assert np.abs(approx.spin - model.spin).max() <= 1e-12
    assert np.abs(orbital.point_orbitals(approx) - centres).max() <= 1e-12
    record = approx.info["point_orbital_approximation"]
    assert record["sites"] == 2
    for key in ("position_offdiag_max_angstrom", "position_dropped_frobenius_fraction", "centre_shift_max_angstrom",
                "spin_offsite_max", "spin_dropped_frobenius_fraction"):
        assert record[key] <= 1e-12, key


def test_dropped_sizes_are_measured_and_recorded_in_results():
    model, _, _ = _point_orbital_wannier(position_scale=0.05)
    o = int(np.flatnonzero(np.all(np.abs(model.position.evaluator.rcart) < 1e-9, axis=1))[0])
    with pytest.raises(ValueError, match="point_orbital_approximation"):
        ps.conductivity(model, "conserved_spin_metal", fermi=[0.0], mesh=mesh.grid(3), temperature=300)
    # centre_tol = 0: the four random centres are four sites; s_x, s_y join spin partners on different sites
    approx = models.point_orbital_approximation(model, centre_tol=0.0)
    rec = approx.info["point_orbital_approximation"]
    assert rec["sites"] == 4
    tau = np.einsum("aii->ia", model.position.evaluator.sums["pos"].flat[:, o].reshape(3, 4, 4)).real
    assert np.abs(orbital.point_orbitals(approx) - tau).max() <= 1e-12
    full = model.position.evaluator.sums["pos"].flat  # (3, nR, n²), Hermitised, R ∪ −R
    dropped = full.copy().reshape(3, -1, 4, 4)
    dropped[:, o] -= np.einsum("ai,ij->aij", tau.T, np.eye(4))
    assert rec["position_offdiag_max_angstrom"] == pytest.approx(np.abs(dropped).max(), rel=1e-12)
    assert rec["position_dropped_frobenius_fraction"] == pytest.approx(
        np.linalg.norm(dropped) / np.linalg.norm(full), rel=1e-12)
    assert rec["spin_offsite_max"] == pytest.approx(0.5, rel=1e-12)
    assert rec["spin_dropped_frobenius_fraction"] == pytest.approx(np.sqrt(2 / 3), rel=1e-12)  # |s_x|² + |s_y|²
    assert np.abs(approx.spin[2] - model.spin[2]).max() == 0 and np.abs(approx.spin[:2]).max() == 0
    # one site for all: spin kept whole, the centres moved to their mean (shift recorded)
    one = models.point_orbital_approximation(model, centre_tol=1e3)
    rec1 = one.info["point_orbital_approximation"]
    assert rec1["sites"] == 1 and rec1["spin_dropped_frobenius_fraction"] == 0.0
    assert rec1["centre_shift_max_angstrom"] == pytest.approx(np.abs(tau - tau.mean(0)).max(), rel=1e-12)
    r = ps.conductivity(one, "conserved_spin_metal", fermi=[0.0], mesh=mesh.grid(3), temperature=3000)
    assert parameters(r, "model_info")["point_orbital_approximation"] == pytest.approx(rec1)
    with pytest.raises(ValueError, match="centre_tol"):
        models.point_orbital_approximation(model, centre_tol=-1.0)
    with pytest.raises(ValueError, match="continuum"):
        models.point_orbital_approximation(models.rashba(1.0, 0.5))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    data = write_run(tmp_path_factory.mktemp("syn"))
    return data, models.wannier90_run(data["seedname"])


def test_native_run_spin_becomes_local(synthetic):
    """The synthetic run's Wannier functions are its orbitals: S(k) = 1 ⊗ σ/2 at every k, so S(R = 0) is the
    whole spin and the approximation keeps it (to the file's 15 digits)."""
    data, run = synthetic
    approx = models.point_orbital_approximation(run)
    rec = approx.info["point_orbital_approximation"]
    assert np.abs(approx.spin - data["spin"]).max() < 1e-9
    assert rec["spin_R_nonzero_max"] < 1e-9 and rec["spin_dropped_frobenius_fraction"] < 1e-9
    k = np.random.default_rng(2).random((5, 3)) @ run.reciprocal
    assert np.abs(approx.h(k) - run.h(k)).max() <= 1e-12
    assert approx.spin_current is None and approx.spin_k is None


@pytest.mark.filterwarnings("ignore::properspin.calculation.MetallicFermiWarning")
def test_metal_routes_agree_on_the_approximated_native_run(synthetic):
    """Route 1 (finite q) and route 2 (spin Středa) Hall parts converge to each other with the mesh, E_F in bands."""
    data, run = synthetic
    approx = models.point_orbital_approximation(run)
    fermi = [float(np.median(data["eig"][:, 1])), float(np.median(data["eig"][:, 2]))]
    diffs = []
    for n in (6, 12):  # k_BT = 0.69 eV, bands over 18 eV: exponential convergence in the mesh
        kw = {"fermi": fermi, "mesh": mesh.grid(n), "temperature": 8000}
        r1 = ps.conductivity(approx, "conserved_spin_metal", **kw).values
        r2 = ps.conductivity(approx, "conserved_spin_streda_metal", **kw).values
        diffs.append(np.abs(0.5 * (r1 - r1.swapaxes(-1, -2)) - r2).max() / np.abs(r2).max())
    assert diffs[1] < 5e-3 and diffs[1] < diffs[0] / 20, diffs


@pytest.mark.slow
@needs_data("Fe_tb.dat")
def test_wannier_benchmark_quick(capsys):
    """--quick prints the Fe row: Eq. (2), conventional, route 1, route 2 and a non-zero Drude weight (Fe is a
    magnet); the Fe spin operator is local already (nothing of it dropped)."""
    from benchmarks.metal_definition_wannier import main

    main(["--quick"])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "4³" in line)
    values = [float(x) for x in row.split("eV):")[1].split("(")[0].split()]
    assert len(values) == 4 and all(np.isfinite(values))
    assert float(row.split("Drude weight max")[1]) > 0
    assert "'spin_dropped_frobenius_fraction': 0.0" in out and (DATA / "Fe_tb.dat").exists()
