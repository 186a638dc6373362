"""The symmetric wedges that make ``properspin reproduce`` fast (issue 24) give the full meshes' numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import properspin as ps
from properspin import mesh, quadrature
from properspin.models import hole_quantum_well, topological_insulator
from properspin.models.topological_insulator import topological_insulator_lattice
from properspin.paper import holes, reproduce, sections, wedge

SERIAL = ps.Engine(workers=1, progress=False)


@pytest.mark.parametrize("m", [(1e-3, 0, 0), (0, 1e-3, 0), (0, 0, 1e-3), (0, 0, 0)])
def test_bi2se3_octant_with_axial_azimuths_equals_full_ball(m):
    """Octant × 8 projected by the D2h magnetic group (and 4 azimuths for m ∥ z, m = 0) = the full ball."""
    model = topological_insulator(magnetization=m)
    fermi = [0.1, 0.4]
    for response in ("proper_spin", "conventional_spin"):
        full = ps.conductivity(model, response, fermi=fermi, mesh=mesh.sphere(0.4, 12, 6, 8), engine=SERIAL)
        part = reproduce._ti(model, response, fermi, (0.4, 12, 6, 8))
        assert dict(part.attrs)["mesh_size"] == 12 * 3 * (1 if m[0] == m[1] == 0 else 2)
        np.testing.assert_allclose(part, full, atol=1e-9 * float(np.abs(full).max()))
    shell = reproduce._shell(0.4, 0.8, 8, 6, 8)  # the cutoff scan's shells beyond Fig. 1's radius
    full = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=shell, engine=SERIAL)
    np.testing.assert_allclose(reproduce._ti(model, "proper_spin", fermi, ball=shell), full,
                               atol=1e-9 * float(np.abs(full).max()))


def test_axial_azimuths_only_where_the_model_is_axial():
    """4 azimuths are exact for m ∥ z (rank ≤ 3 tensor of an axial model) but not for m ∥ x, which keeps nphi."""
    fermi = [0.1]
    sel = {"spin": "y", "current": "z", "field": "x"}
    for m, exact in (((0, 0, 1e-3), True), ((1e-3, 0, 0), False)):
        model = topological_insulator(magnetization=m)
        four, many = (ps.conductivity(model, "proper_spin", fermi=fermi, mesh=mesh.sphere(0.4, 12, 6, n),
                                      engine=SERIAL).sel(sel).item() for n in (4, 24))
        assert (abs(four - many) < 1e-9 * abs(many)) == exact, (m, four, many)
        assert wedge.axial_nphi(24, m) == (4 if exact else 24)


def test_wedge_check_refuses_a_model_without_the_symmetry():
    tilted = topological_insulator(magnetization=(1e-3, 1e-3, 0))  # breaks the sign flips of m ∥ x
    with pytest.raises(ValueError, match="lacks the symmetry"):
        wedge.check(tilted, wedge.sign_group((1e-3, 0, 0)), "proper_spin", 0.4)
    with pytest.raises(ValueError, match="along x, y or z"):
        wedge.sign_group((1e-3, 1e-3, 0))
    with pytest.raises(ValueError, match="multiple of 8"):
        wedge.disk_wedge(mesh.disk(0.1, 4, 12))


def test_hole_disk_and_panels_wedge_equal_full_rule():
    """C4v wedge (0 < φ < π/4, × 8) of the paper's hole model on a disk, and of the well solved in z on panels."""
    model = hole_quantum_well("GaAs", field=1e6, luttinger="paper")
    fermi = [0.005, 0.015, 0.03]
    full = ps.conductivity(model, "proper_spin", fermi=fermi, mesh=mesh.disk(0.2, 40, 16), engine=SERIAL)
    part = reproduce._hole(model, fermi, (0.2, 40, 16))
    np.testing.assert_allclose(part, full, atol=1e-10 * float(np.abs(full).max()))
    sub = holes.subband_model("GaAs", 0.25e6, 2, 16, 0.015)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.DegeneracyWarning)
        pm = quadrature.panels(sub, [0.015], 0.15, order=4, nphi=8, anticrossing_gap=2e-3)
        ref = ps.conductivity(sub, "proper_spin", fermi=[0.015], degeneracy_tol=1e-9, engine=SERIAL,
                              mesh=pm).sel(spin="z", current="y", field="x").item()
        got = holes._zyx_panels(sub, 0.015, holes.HoleSettings(2, 16, (0.15, 20, 8), 1, (2,), (0.15, 20, 8), 8,
                                                             panels=(4, 8)))
    assert abs(got - ref) < 1e-8 * abs(ref) and abs(ref) > 1


def test_lattice_irreducible_wedge_equals_full_grid():
    for m in ((0, 0, 0), (1e-3, 0, 0)):
        model = topological_insulator_lattice(magnetization=m)
        full = ps.conductivity(model, "proper_spin", fermi=[0.1], mesh=mesh.grid(8), engine=SERIAL)
        part = ps.conductivity(model, "proper_spin", fermi=[0.1], engine=SERIAL,
                               mesh=mesh.grid(8, symmetry=reproduce._lattice_structure(model)))
        assert part.attrs["mesh_symmetry_reduction"] > 4
        np.testing.assert_allclose(part, full, atol=1e-9 * float(np.abs(full).max()))


def test_sections_in_two_processes_give_the_serial_results():
    """Groups run in a forked process return the same results as in this one, with a time per section."""
    groups = [[("a", lambda r: np.arange(3.0), 1), ("b", lambda r: r["a"] * 2, 1)],
              [("c", lambda r: float(np.sum(np.arange(5))), 1)]]

    class Bar:
        n = 0

        def update(self, k=1):
            Bar.n += k

    one, t1 = sections.run(groups, Bar(), workers=1)
    two, t2 = sections.run(groups, Bar(), workers=2)
    assert Bar.n == 6 and set(t1) == set(t2) == {"a", "b", "c"}
    np.testing.assert_array_equal(two["b"], [0.0, 2.0, 4.0])
    assert two["c"] == one["c"] == 10.0 and all(w >= 0 and c >= 0 for w, c in t2.values())


def test_an_error_in_one_group_stops_the_other_at_once():
    """A failing section raises at once; the other group's process is killed, not waited for (60 s here)."""
    import time

    def fail(r):
        raise ValueError("broken section")

    groups = [[("bad", fail, 1)], [("slow", lambda r: time.sleep(60), 1)]]
    t = time.perf_counter()
    with pytest.raises(ValueError, match="broken section"):
        sections.run(groups, None, workers=2)
    assert time.perf_counter() - t < 30
