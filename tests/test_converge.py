"""ps.converge (issue 22): each error rule on a case with a known limit, the TRIM-touching choice of grid, the
tolerance-free radial panels, and an unconverged case reported as such."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import properspin as ps
from properspin import mesh, models, quadrature
from properspin.converge import estimate, touchings
from tests.test_conserved import kane_mele, mid_gap

ZYX = {"spin": "z", "current": "y", "field": "x"}

#: Kane–Mele + Rashba (test_conserved parameters), Eq. (2) block trace mid-gap, from shifted grids up to 206²
#: (1.75538175 at 192² and 206², 1.75538171 at 96²): the limit the rules must find.
KM_LIMIT = 1.7553817


def test_richardson_recovers_limit_and_order_of_a_synthetic_sequence():
    h = 1 / np.array([10.0, 15.0, 22.0])
    v = (3.0 + 0.7 * h**2)[:, None]
    value, err, order = estimate(v, h, "richardson")
    assert order[0] == pytest.approx(2.0, rel=1e-6)
    assert value[0] == pytest.approx(3.0, abs=1e-10)
    # three meshes: the order is unchecked, so the bar is the last difference, not the (smaller) correction
    assert err[0] == pytest.approx(0.7 * (h[-2] ** 2 - h[-1] ** 2), rel=1e-6)
    assert err[0] > 0.7 * h[-1] ** 2


#: A geometric ladder of grids (ratio 1.5, even n) as converge builds it from 12.
LADDER = np.array([12, 18, 28, 40, 60, 92, 136, 204, 306.0])


@pytest.mark.parametrize("w, last, why", [(2.0, 136, "order unstable"), (2.0, 204, "order unstable"),
                                          (2.5, 60, "order unstable"), (3.0, 92, "sign change")])
def test_oscillating_sequence_gets_an_error_bar_that_contains_the_limit(w, last, why):
    """v_n = 1 + 3 sin(w ln n)/n oscillates in log n (as Pt σ^z_xy on the wedge, RESULTS §16a): runs of
    same-signed differences give Richardson an order and a tight bar that excludes the limit 1 (the old rule);
    the unstable order (or a sign change four meshes back) sends it to the larger of the last two differences."""
    k = int(np.flatnonzero(LADDER == last)[0]) + 1
    v = (1.0 + 3.0 * np.sin(w * np.log(LADDER[:k])) / LADDER[:k])[:, None]
    value, err, order, rule = estimate(v, 1 / LADDER[:k], "richardson", explain=True)
    assert np.isfinite(order[0]) and rule[0] == why  # an order is observed, but not trusted
    assert abs(value[0] - 1.0) <= err[0]
    assert err[0] == pytest.approx(max(abs(v[-1, 0] - v[-2, 0]), abs(v[-2, 0] - v[-3, 0])), rel=1e-12)
    assert value[0] == v[-1, 0]


def test_pt_wedge_sequence_is_not_certified_to_one_percent_at_136():
    """The measured Pt σ^z_xy sequence (RESULTS §16a, 12³…136³ wedges): the old rule claimed 2049.42 ± 1.16, and
    204³ gave 2051.85; now the bar at 136³ is the last-but-one difference (25, above 1 %) and at 204³ it contains
    the previous claim's miss."""
    seq = np.array([2816.4702759687, 1800.1208299251, 2022.8321694871, 2105.1587059834, 2079.9066199029,
                    2054.9612814812, 2050.5885501873, 2051.8514272110])[:, None]
    h = 1 / LADDER[:8]
    value, err, _, rule = estimate(seq[:7], h[:7], "richardson", explain=True)
    assert rule[0] == "order unstable" and err[0] > 0.01 * value[0]
    assert abs(value[0] - seq[7, 0]) <= err[0]
    value, err, _, rule = estimate(seq, h, "richardson", explain=True)
    assert rule[0] == "no order" and err[0] == pytest.approx(4.3727, abs=1e-3) and err[0] < 0.01 * value[0]


def test_monotone_richardson_keeps_its_tight_bar_with_a_stable_order():
    """v = 3 + 0.7 h² + 5 h³ (a stable order drifting 2.3 → 2.1): four meshes and more keep Richardson's bar,
    |v_R − v_N| (smaller than the last difference), which contains the limit; v_R is ≥ 5× closer than v_N."""
    h = 1 / LADDER[:7]
    v = (3.0 + 0.7 * h**2 + 5 * h**3)[:, None]
    for k in range(4, 8):
        value, err, order, rule = estimate(v[:k], h[:k], "richardson", explain=True)
        assert rule[0] == "richardson" and 2.0 < order[0] < 2.4
        assert abs(value[0] - 3.0) <= err[0] < abs(v[k - 1, 0] - v[k - 2, 0])
        assert err[0] == pytest.approx(abs(value[0] - v[k - 1, 0]), rel=1e-12)
        assert abs(value[0] - 3.0) < 0.2 * abs(v[k - 1, 0] - 3.0)


def test_three_meshes_give_a_bar_at_least_the_last_difference():
    """With three meshes the order cannot be checked: the bar is at least |v_N − v_(N−1)|.  The sequence is
    the occupied–occupied part of the two-Dirac-point model with all bands filled (limit 0) on the singular-point
    family 18³, 28³, 40³ (tests/test_singular_quadrature.py): Richardson alone gave −9.70 ± 6.13, which misses
    the limit; the checked bar contains it."""
    seq = np.array([[954.42375337], [49.00694215], [-3.57237292]])
    value, err, _, rule = estimate(seq, 1 / np.array([18.0, 28.0, 40.0]), "richardson", explain=True)
    assert rule[0] == "richardson (order unchecked)"
    assert abs(value[0] - seq[2, 0]) < abs(value[0])  # Richardson's own bar would exclude the limit 0
    assert err[0] >= abs(seq[2, 0] - seq[1, 0]) and abs(value[0]) <= err[0]


def test_richardson_on_gamma_centred_kane_mele_removes_the_trim_artefact():
    """Γ-centred grids sample the four Kramers-degenerate TRIM: a 1/N² artefact that Richardson extrapolates away."""
    model = kane_mele()
    ef = mid_gap(model)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ps.converge(model, "proper_spin", fermi=ef, mesh=mesh.grid(24), rtol=5e-3, rule="richardson",
                          avoid_touchings=False, max_steps=4)
    seq = res.sequence.sel(**ZYX).values.ravel()
    assert abs(seq[-1] - KM_LIMIT) > 1e-3  # the finest Γ-centred value is off in the third digit
    assert float(res.order.sel(**ZYX)[0]) == pytest.approx(2.0, abs=0.3)
    v, e = float(res.value.sel(**ZYX)[0]), float(res.error.sel(**ZYX)[0])
    assert abs(v - KM_LIMIT) < 1e-4 < e  # the error bar is the size of the correction (conservative)
    assert str(res.error_rule.sel(**ZYX).values[0]) == "richardson (order unchecked)"  # converged on 3 meshes
    assert "richardson (order unchecked)" in json.loads(res.attrs["converge_error_rules"])


def test_touching_at_trim_selects_shifted_grids_and_converges_to_the_limit():
    model = kane_mele()
    ef = mid_gap(model)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.UnresolvedDegeneracyWarning)
        res = ps.converge(model, "proper_spin", fermi=ef, mesh=mesh.grid(12), rtol=1e-5, max_steps=6,
                          progress=False)
    assert "shifted" in res.attrs["converge_choices"] and "[0.5, 0.5]" in res.attrs["converge_meshes"]
    assert bool(res.converged.sel(**ZYX)[0])
    v, e = float(res.value.sel(**ZYX)[0]), float(res.error.sel(**ZYX)[0])
    assert abs(v - KM_LIMIT) <= e + 1e-6 and e < 2e-5
    assert touchings(model, ef, 1e-6)  # Kramers pairs at Γ and the three M points


def test_shift_rule_on_a_chern_insulator():
    """QWZ u = 1: σ_xy = ±1 e²/h exactly; Γ-centred and shifted grids agree to the error bar."""
    res = ps.converge(models.qwz(1.0), "charge", fermi=0.0, mesh=mesh.grid(16), rule="shift", rtol=1e-6,
                      progress=False)
    v, e = float(res.value.sel(current="x", field="y")[0]), float(res.error.sel(current="x", field="y")[0])
    assert abs(abs(v) - 1.0) <= e + 1e-9 and e < 1e-6
    assert res.attrs["converge_rule"] == "shift" and "shift check" in res.attrs["converge_meshes"]


def test_difference_rule_with_panels_gives_rashba_e_over_8pi():
    """Rashba 2DEG, both subbands occupied: conventional σ^z_yx = +e/8π (Sinova et al. 2004); the panels put the
    Fermi crossings on breakpoints, so the rule converges exponentially (a plain disk is 12 % off at nk = 200)."""
    model = models.rashba(alpha=0.5, mass=0.1)
    start = quadrature.panels(model, 0.5, 2.0, order=4, nphi=8)
    assert start.found["fermi_crossings"] == 2 * 8  # two circles, each ray
    res = ps.converge(model, "conventional_spin", fermi=0.5, mesh=start, rule="difference", rtol=1e-8,
                      progress=False)
    v, e = float(res.value.sel(**ZYX)[0]), float(res.error.sel(**ZYX)[0])
    assert abs(v - 1.0) <= e + 1e-10 and e < 1e-8


def test_panels_have_a_cutoff_that_is_checked():
    """Panels are explicit points with a known disk: a Fermi energy above every band on it is refused (as on a
    disk), not integrated into a cutoff-dependent number."""
    model = models.rashba(alpha=1.0, mass=1.0, zeeman=(0, 0, 1e-4))
    mesh = quadrature.panels(model, [0.5], 0.1, order=4, nphi=8)
    with pytest.raises(ValueError, match="cutoff too small"):
        ps.conductivity(model, "proper_spin", fermi=[0.5], mesh=mesh)


def test_panels_grade_towards_an_anticrossing():
    """Two parabolas crossing at k = 1 Å⁻¹, coupled by δ = 1e-6 eV: the located centre and gap are exact."""
    delta, c = 1e-6, 1.0

    def h(k):
        k2 = np.sum(k**2, axis=1)
        out = np.zeros((len(k), 2, 2), complex)
        out[:, 0, 0], out[:, 1, 1] = k2 - 1.0, 2 * (k2 - 1.0)
        out[:, 0, 1] = out[:, 1, 0] = delta / 2
        return out

    model = ps.Model(h, None, None, dim=2, name="anticrossing")
    found = quadrature.anticrossings(model, 0.3, 2.0, fermi_max=5.0, gap_max=1e-3, nscan=400)
    assert len(found) == 1
    r, gap, core = found[0]
    assert r == pytest.approx(c, abs=1e-9) and gap == pytest.approx(delta, rel=1e-6)
    pm = quadrature.panels(model, 5.0, 1.5, order=6, nphi=4)
    radii = np.unique(np.round(np.linalg.norm(pm.k, axis=1), 12))
    assert np.min(np.abs(radii - c)) < 10 * core  # nodes inside the core of width Δ/|slope| ~ 1e-6


def test_unconverged_components_are_nan_with_a_flag_and_a_warning():
    model = kane_mele()
    ef = mid_gap(model)[0]
    with pytest.warns(ps.NotConvergedWarning, match="did not reach"):
        res = ps.converge(model, "proper_spin", fermi=ef, mesh=mesh.grid(8), rtol=1e-12, budget=2000,
                          progress=False)
    assert not bool(res.converged.sel(**ZYX)[0]) and np.isnan(res.value.sel(**ZYX)[0])
    assert np.isfinite(res.error.sel(**ZYX)[0]) and "budget" in res.attrs["converge_meshes"]


@pytest.mark.parametrize("kw, match", [({"rule": "median"}, "rule must be"), ({"rtol": 0}, "rtol > 0 or atol"),
                                       ({"ratio": 1.0}, "ratio must be"), ({"budget": 10}, "budget")])
def test_bad_settings_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        ps.converge(models.qwz(1.0), "charge", fermi=0.0, mesh=mesh.grid(16), progress=False, **kw)


def test_cli_converge_prints_value_and_error(tmp_path, capsys):
    from properspin.cli import main

    run = tmp_path / "qwz.toml"
    run.write_text('[model]\nname = "qwz"\nparameters = { u = 1.0 }\n[mesh]\nkind = "grid"\nn = 12\n'
                   '[fermi]\nvalues = [0.0]\n[calculation]\nresponses = ["charge"]\n')
    assert main(["converge", str(run), "--rtol", "1e-6", "-q", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("x,y"))
    value, error = float(line.split()[5]), float(line.split()[7])
    assert abs(abs(value) - 1) <= error + 1e-9  # Chern number 1, e²/h
    assert (tmp_path / "out" / "charge_converged.nc").exists()
    assert main(["converge", str(run), "--budget", "100", "-q"]) == 2  # first mesh over the budget: an error


def _bench(name: str):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_audit_lattice_quick_prints_the_limits(capsys):
    """The audit's quick mode (CI): Kane–Mele + Rashba Eq. (2) limit, Eq. (2) ≡ 0 for BHZ + Rashba, torque dipole
    = −conventional there, and the s^z-mixing model's three equal routes."""
    _bench("audit_lattice").main(quick=True)
    out = capsys.readouterr().out
    km = next(x for x in out.splitlines() if "block trace:" in x and "Kane" in x)
    assert float(km.split(":")[1].split("±")[0]) == pytest.approx(KM_LIMIT, abs=1e-5)
    bhz = [x for x in out.splitlines() if x.startswith("BHZ u=1 Rashba")]
    for line in bhz:
        eq2, conv, td = (float(part.split("±")[0].split()[-1]) for part in line.split(";"))
        assert abs(eq2) < 1e-12 and td == pytest.approx(-conv, abs=1e-5)
    mix = next(x for x in out.splitlines() if "τx, λ=0.3" in x)
    vals = [float(p.split("±")[0].split()[-1]) for p in mix.split("):")[1].split(";")]
    assert max(vals) - min(vals) < 1e-4 and vals[0] > 3


@pytest.mark.slow
def test_audit_holes_quick_runs_with_an_error_bar(capsys):
    _bench("audit_holes").main(quick=True)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("GaAs"))
    value, error = (float(x) for x in line.split(": ")[1].split(" (")[0].split(" ± "))
    assert -25 < value < -14 and 0 < error < 1  # nsub 2 → 3 only: the basis error dominates


@pytest.mark.slow
def test_audit_bi2se3_quick_reports_the_lattice_gap_and_the_angular_sequence(capsys):
    _bench("audit_bi2se3").main(quick=True)
    out = capsys.readouterr().out
    gap = next(x for x in out.splitlines() if "benchmark completion" in x)
    assert float(gap.split("bulk gap ")[1].split()[0]) == pytest.approx(65.5, abs=0.1)  # not the sample's 77
    line = next(x for x in out.splitlines() if x.startswith("R = 0.5"))
    assert "block_trace" in line and "projection" in line and "ntheta = nphi: [24, 36" in line


def test_adaptive_family_refines_and_agrees_with_plain_grids():
    """A QWZ metal (E_F = 1.5 in the upper band): grids with adaptive refinement around the integrand's peaks give
    the value of plain grids within the two error bars, on more k-points per base grid."""
    import json

    model, sel = models.qwz(1.0), {"current": "x", "field": "y"}
    plain = ps.converge(model, "charge", fermi=1.5, mesh=mesh.grid(16), rtol=2e-2, progress=False).sel(**sel)
    adapt = ps.converge(model, "charge", fermi=1.5, mesh=mesh.grid(16), rtol=2e-2, progress=False,
                        adaptive={"refine": 3, "threshold": 0.5})
    steps = [m for m in json.loads(adapt.attrs["converge_meshes"]) if "kpoints" in m]
    assert any(m["kpoints"] > m["mesh_size"] for m in steps)  # points were refined
    a = adapt.sel(**sel)
    assert bool(a.converged[0]) and bool(plain.converged[0])
    assert abs(float(a.value[0]) - float(plain.value[0])) <= float(a.error[0]) + float(plain.error[0])


def test_bhz_rashba_eq2_vanishes_identically_by_an_antiunitary_symmetry():
    """C = (σ_x ⊗ τ_z) K commutes with H(k) of bhz(u, rashba=λ) at fixed k and flips s^z: Σ^z ≡ 0 at every λ ≠ 0,
    so Eq. (2) is 0 on any mesh avoiding the TRIM, while the conventional current is finite."""
    rng = np.random.default_rng(3)
    u = np.kron(ps.PAULI[0], ps.PAULI[2])
    for lam in (0.05, 0.3):
        model = models.bhz(1.0, rashba=lam)
        h = model.hamiltonian(rng.uniform(-np.pi, np.pi, (50, 2)))
        assert np.allclose(u @ np.conj(h) @ u.conj().T, h, atol=1e-13)
        assert np.allclose(u @ np.conj(model.spin[2]) @ u.conj().T, -model.spin[2], atol=1e-15)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ps.UnresolvedDegeneracyWarning)  # the TRIM touchings, off the mesh
            res = ps.conductivity(model, "proper_spin", fermi=0.0, mesh=mesh.grid(10, shift=0.5)).sel(**ZYX)
        conv = ps.conductivity(model, "conventional_spin", fermi=0.0, mesh=mesh.grid(10, shift=0.5)).sel(**ZYX)
        assert abs(float(res[0])) < 1e-12 < abs(float(conv[0])) and float(conv[0]) > 3.9


def test_symmetric_grid_family_sums_the_wedge_and_equals_the_full_grid_sequence():
    """``converge`` on ``grid(n, symmetry=...)`` (issue 26: certified numbers on the irreducible wedge): every mesh of
    the family is the wedge of the n-grid (fewer k-points), and value, error and sequence equal those of the full
    grids to round-off on a model with the full cubic symmetry (σ^z_xy = σ^x_yz of a p-orbital fcc model)."""
    import json

    from tests.test_symmetry import PT_STRUCTURE, pt_like

    model, sel = pt_like(), {"spin": "z", "current": "x", "field": "y"}
    kw = {"fermi": 0.3, "rtol": 1e-2, "rule": "difference", "max_steps": 3, "avoid_touchings": False,
          "progress": False, "select": sel}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.NotConvergedWarning)
        wedge = ps.converge(model, "conventional_spin", mesh=mesh.grid(6, symmetry=PT_STRUCTURE), **kw)
        full = ps.converge(model, "conventional_spin", mesh=mesh.grid(6), **kw)
    steps = [m for m in json.loads(wedge.attrs["converge_meshes"]) if "kpoints" in m]
    full_steps = [m for m in json.loads(full.attrs["converge_meshes"]) if "kpoints" in m]
    assert [m["mesh_n"][0] for m in steps] == [m["mesh_n"][0] for m in full_steps]
    assert all(m["symmetry_group"] == "m-3m1'" and m["kpoints"] < m["mesh_full_size"] / 10 for m in steps)
    scale = float(np.abs(full.sequence).max())
    assert abs(float(full.sequence.sel(**sel).values.ravel()[-1])) > 1e-3 * scale
    np.testing.assert_allclose(wedge.sequence.values, full.sequence.values, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(wedge.error.sel(**sel).values, full.error.sel(**sel).values, rtol=1e-8)
    assert wedge.attrs["converge_kpoints_spent"] < full.attrs["converge_kpoints_spent"] / 10
