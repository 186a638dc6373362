"""One place per response (issue 23): every entry of RESPONSES through the numpy path, the kernel, the symmetry
projector, CSV, PNG, netCDF and ``bands``; a user-defined response through ``properspin run``."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from properspin import responses
from properspin.config import run_config

RUN = """
[model]
name = "rashba"
parameters = {{ alpha = 0.3, mass = 1.0, zeeman = [0.0, 0.0, {mz}] }}

[mesh]
kind = "disk"
radius = 0.6
nk = 24
nphi = 8

[fermi]
values = [-0.05, 0.02, 0.1]

[calculation]
responses = ["spin_density"]

[output]
formats = ["netcdf", "csv", "png"]
"""


def _spin_density() -> responses.Response:
    """⟨s^l⟩ per area, Σ_k w_k Σ_m f_mk s^l_mm, written with the fields every properspin version has."""
    return responses.Response("spin_density", "spin", ("spin",), lambda g, p: g.spin_diagonal,
                              unit_of=(lambda dim: 1.0, lambda dim: f"hbar/Å^{dim}"),
                              description="spin density ⟨s^l⟩", diagonal_spin=False)


def _csv(path):
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return list(csv.reader(lines))


def test_user_response_runs_through_run_files(tmp_path, monkeypatch):
    """A response registered in one place runs through a run file to .nc, CSV and PNG (it crashed with
    KeyError 'field' after the .nc was written: the CSV labels were guessed from the dimension names); its
    numbers: ⟨s^z⟩ is odd in the exchange field m_z (T-odd) and s^x, s^y vanish (rotation about z)."""
    monkeypatch.setitem(responses.RESPONSES, "spin_density", _spin_density())
    out = {}
    for mz in (0.05, -0.05):
        path = tmp_path / f"m{mz}" / "run.toml"
        path.parent.mkdir()
        path.write_text(RUN.format(mz=mz), encoding="utf-8")
        out[mz] = run_config(path, progress=False)["spin_density"]
        outdir = path.parent / "results"
        files = sorted(p.name for p in outdir.iterdir())
        assert files == ["run_spin_density.csv", "run_spin_density.nc", "run_spin_density.png"]
        assert (outdir / "run_spin_density.png").stat().st_size > 10_000
        rows = _csv(outdir / "run_spin_density.csv")
        assert rows[0] == ["fermi_eV", "spin_x", "spin_y", "spin_z"]  # labelled, unique
        np.testing.assert_allclose(np.array(rows[1:], float)[:, 3], out[mz].sel(spin="z").values, rtol=1e-15)
    sz = out[0.05].sel(spin="z").values
    scale = np.abs(sz).max()
    assert scale > 1e-4 and out[0.05].attrs["units"] == "hbar/Å^2"
    np.testing.assert_allclose(out[-0.05].sel(spin="z").values, -sz, rtol=0, atol=1e-12 * scale)
    assert np.abs(out[0.05].sel(spin=["x", "y"]).values).max() < 1e-12 * scale


# ---------------------------------------------------------------------------------------------- every response
def _metal():
    """fcc p-orbital model with spin–orbit and an exchange field m ∥ z: magnetic group 4/mm'm' (order 16), point
    orbitals, a metal at the Fermi energies used (T = 300 K for the Fermi-surface responses)."""
    from tests.test_symmetry import PT_STRUCTURE, pt_like

    return pt_like().with_zeeman((0, 0, 0.2)), PT_STRUCTURE, [-1.0, 0.5], 300.0, 4


def _insulator():
    """Kane–Mele with Rashba and a staggered potential, an insulator at mid-gap (the insulator routes); its group
    3m1' (C3v × T): the honeycomb's operations that keep z (Rashba breaks the mirror z → −z)."""
    from properspin import symmetry as sy
    from tests.test_conserved import kane_mele, mid_gap

    model = kane_mele()
    lattice = 2 * np.pi * np.linalg.inv(model.reciprocal).T
    grey = sy.group_for(model, sy.Structure(lattice, [[1 / 3, 1 / 3], [2 / 3, 2 / 3]], ["B", "N"]))
    group = sy.MagneticGroup(tuple(op for op in grey.operations if op.rotation[2, 2] > 0), grey.lattice, "3m1'")
    assert group.order == 12
    return model, group, [mid_gap(model)[0]], 0.0, 6


_CASES: dict = {}


def _case(name):
    kind = "insulator" if responses.RESPONSES[name].insulator_only else "metal"
    if kind not in _CASES:
        _CASES[kind] = (_insulator if kind == "insulator" else _metal)()
    return _CASES[kind]


def _direct_sum(model, resp, mesh, fermi):
    """factor · Σ_k w_k Σ_m θ(E_F − ε_mk) Q_mk from the formula itself (T = 0, no Fermi-surface or grand parts)."""
    from properspin import chunk

    k, w = mesh.points(model, 0, mesh.size)
    g, q = chunk.states(model, resp, k, 1e-6)
    occ = (g.energies[None] < np.asarray(fermi)[:, None, None]).astype(float)
    return resp.factor(model.dim) * np.einsum("fkm,k,ckm->fc", occ, w, q)


@pytest.mark.parametrize("name", list(responses.RESPONSES))
def test_every_response_keeps_its_whole_contract(name, tmp_path):
    """Numpy path = direct sum of its formula; kernel = numpy path; irreducible wedge + projector = full grid with
    the symmetry-forbidden components zero (and the law's inversion parity as its indices say); CSV columns
    unique, labelled by the response and equal to the values; PNG and netCDF written and read back; bands: the
    per-band view reproduces the formula (or the response has none and bands refuses it by name)."""
    import pickle
    import warnings

    import properspin as ps
    from properspin import chunk, io
    from properspin import symmetry as sy
    from properspin.plotting import plot_result

    resp = responses.get(name)
    assert pickle.loads(pickle.dumps(resp)).law == resp.law  # jobs travel to executor workers by plain pickle
    model, structure, fermi, temperature, n = _case(name)
    assert resp.law is not None and resp.column and resp.symbol and resp.kind in responses.KINDS
    assert resp.law.inversion == (-1) ** resp.law.indices.count("polar")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ps.MetallicFermiWarning)  # the Drude note of the metal routes
        warnings.simplefilter("error", sy.SymmetryWarning)  # the symmetry must be used, not silently dropped
        full = ps.conductivity(model, name, fermi=fermi, mesh=ps.mesh.grid(n), temperature=temperature)
        red = ps.conductivity(model, name, fermi=fermi, mesh=ps.mesh.grid(n, symmetry=structure),
                              temperature=temperature)
    values = full.values
    assert np.all(np.isfinite(values)) and red.attrs["mesh_size"] < full.attrs["mesh_size"]
    group = sy.group_for(model, structure)
    form = sy.allowed_form(name, group, model.dim)
    scale = float(np.abs(values).max())
    if form["independent"] == 0:  # (the torque density under 4/mm'm'): every component forbidden
        assert scale < 1e-9 and not red.values.any()
        scale = 1.0
    assert scale > 0 and len(form["forbidden"]) > 0
    np.testing.assert_allclose(red.values, values, rtol=0, atol=1e-7 * scale)
    assert sy.check_result(full, group)["max_forbidden"] < 1e-7 * scale

    grid = ps.mesh.resolve(ps.mesh.grid(n), model)
    if not (resp.grand or resp.surface):  # at T = 0 (T > 0 folds a histogram of the states: 1e-6 relative)
        zero = values if temperature == 0 else ps.conductivity(model, name, fermi=fermi, mesh=grid).values
        direct = _direct_sum(model, resp, grid, fermi)
        # appendix_c: the kernel's (C11) is −(C7) by the band-basis identity, the formula divides the torque by the
        # gap (C9–C10), which loses digits on this metal's small gaps (5e-10 of the largest entry; RESULTS §17a)
        tol = 2e-9 if name == "appendix_c" else 1e-10
        np.testing.assert_allclose(zero.reshape(len(fermi), -1), direct, rtol=0, atol=tol * scale)
    k, w = grid.points(model, 0, grid.size)
    sweeps = (ps.sweep.Sweep(np.asarray(fermi, float), temperature),)
    if resp.fused_mode is not None:
        from properspin import kernels

        got = kernels.kernel_chunk(resp, model, k, w, sweeps, 1e-6)
        assert got is not None  # the kernel takes it: no silent fall-back
        ref = chunk.numpy_chunk(model, resp, k, w, sweeps, 1e-6)
        big = np.abs(ref.partials[0]).max()
        if form["independent"] == 0:  # every partial is round-off (kernel = numpy for it: tests/test_kernels.py)
            assert big < 1e-10 and np.abs(got.partials[0]).max() < 1e-10
        else:
            np.testing.assert_allclose(got.partials[0], ref.partials[0], rtol=0, atol=1e-10 * big)

    _files(full, resp, tmp_path, io, plot_result)
    _bands(model, resp, k[:5])


def _files(full, resp, tmp_path, io, plot_result):
    rows = _csv(io.to_csv(full, tmp_path / "r.csv"))
    header = rows[0][1:]
    comps = io.components(full)
    assert len(set(header)) == len(header) == len(comps)
    assert header == [resp.column_label(c) for c in comps]
    table = np.array(rows[1:], float)[:, 1:]
    for j, c in enumerate(comps):
        np.testing.assert_array_equal(table[:, j], full.sel(c).values)
    assert io.load(io.save(full, tmp_path / "r.nc")).identical(full)
    assert plot_result(full, tmp_path / "r.png").stat().st_size > 10_000


def _bands(model, resp, k):
    from properspin import bands
    from properspin import geometry as geo

    view = resp.band_view
    if view is None:
        assert resp.name not in bands.quantities()
        with pytest.raises(ValueError, match="unknown quantity"):
            bands.band_values(model, k, resp.name)
        return
    import itertools

    axes = ("x", "y", "z")
    labels = [axes if i == "l" or (i == "c" and model.dim == 3) else ("z",) if i == "c" else axes[: model.dim]
              for i in view.indices]
    shape = tuple(len(v) for v in labels)
    per_band = np.zeros(shape + (len(k), model.nbands))
    for combo in itertools.product(*[range(len(v)) for v in labels]):
        comp = ",".join(labels[d][i] for d, i in enumerate(combo))
        per_band[combo] = bands.band_values(model, k, view.quantity, comp)[1]
    g = resp.band_geometry(model, k, 1e-6)
    q = resp.formula(g, resp.params)
    if view.indices == ("c",):  # Ω^c: the anomalous Hall integrand is −ε_ijc Ω^c
        expect = -geo.levi_civita_contract(per_band[:, None], model.dim)[0]
    elif view.indices == ("c", "l"):  # Σ^{c,l}: Eq. (2) is ε_ijc Σ^{c,l}
        expect = geo.levi_civita_contract(per_band, model.dim)
    else:
        expect = per_band
    scale = np.abs(q).max()
    assert scale > 0
    np.testing.assert_allclose(expect, q, rtol=0, atol=1e-9 * scale)
    ds = bands.bands(model, view.quantity, npoints=4)  # the file says which component and unit it holds
    assert ds.attrs["component"] == view.default and ds["value"].attrs["units"] == view.unit


def test_docs_adding_a_response_example_runs(tmp_path, monkeypatch):
    """The worked example of docs/api.md "Adding a response", extracted and executed: ⟨s^z⟩ of Rashba + exchange
    m_z > 0 is negative (the lower band is spin-down) and bounded by ħ/2 per electron; CSV, plot and bands
    work from that one definition; its law forbids s^x, s^y under the rotations about z."""
    import re
    from pathlib import Path

    from properspin import bands, io
    from properspin.plotting import plot_result

    text = (Path(__file__).parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    section = text[text.index("## Adding a response"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)[1]
    monkeypatch.setattr(responses, "RESPONSES", dict(responses.RESPONSES))
    scope: dict = {}
    exec(compile(code, "docs/api.md", "exec"), scope)  # noqa: S102 - the documented example itself
    res = scope["res"]
    model = scope["model"]
    sz = res.sel(spin="z").values
    density = ps_density(model, res)
    assert np.all(sz < 0) and np.all(np.abs(sz) <= 0.5 * density + 1e-15)
    rows = _csv(io.to_csv(res, tmp_path / "s.csv"))
    assert rows[0] == ["fermi_eV", "s_x", "s_y", "s_z"]
    assert plot_result(res, tmp_path / "s.png").stat().st_size > 10_000
    k = np.array([[0.1, 0.05], [0.2, -0.3]])
    np.testing.assert_array_equal(bands.band_values(model, k, "spin_density", "x")[1],
                                  bands.band_values(model, k, "spin", "x")[1])
    from properspin import symmetry as sy

    rotations = sy.MagneticGroup(tuple(sy.Operation(np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
                                                    @ np.linalg.matrix_power(np.array([[0.0, -1, 0], [1, 0, 0],
                                                                                        [0, 0, 1]]), i), False)
                                       for i in range(4)), np.eye(3), "4")
    assert sy.allowed_form("spin_density", rotations, 2)["forbidden"] == ["x", "y"]


def ps_density(model, res):
    """Electron density Σ_k w_k Σ_m θ(E_F − ε) on the same disk (per Å²), for the bound |⟨s^z⟩| ≤ n/2."""
    import properspin as ps

    mesh = ps.mesh.resolve(ps.mesh.disk(0.6, 24, 8), model)
    k, w = mesh.points(model, 0, mesh.size)
    e = model.energies(k)
    return np.array([(w[:, None] * (e < f)).sum() for f in res.fermi.values])


def test_cli_bands_shows_a_response_view(tmp_path):
    """``properspin bands -Q torque_dipole`` (a view added through Response.band_view): per band, the torque dipole
    is proper − conventional, Σ^{z,z} − Ω^{s,z}_xy; it vanishes band by band where s_z is conserved (BHZ) and not
    with Rashba coupling."""
    import xarray as xr

    from properspin import bands
    from properspin.cli import main
    from properspin.config import build_model, load_config

    peak = {}
    for rashba in (0.0, 0.3):
        cfg = tmp_path / f"r{rashba}" / "bhz.toml"
        cfg.parent.mkdir()
        cfg.write_text(f'[model]\nname = "bhz"\nparameters = {{ u = 1.0, rashba = {rashba} }}\n'
                       'zeeman = [0.0, 0.0, 0.05]\n[mesh]\nkind = "grid"\nn = 8\n[fermi]\nvalues = [0.1]\n')
        assert main(["bands", str(cfg), "-Q", "torque_dipole", "-n", "10"]) == 0
        ds = xr.load_dataset(cfg.parent / "results" / "bhz_bands.nc")
        assert ds.attrs["quantity"] == "torque_dipole" and ds.attrs["component"] == "z,x,y"
        model = build_model(load_config(cfg), cfg)
        k = np.stack([ds["kx"].values, ds["ky"].values], axis=1)
        proper = bands.band_values(model, k, "proper_spin", "z,z")[1]
        conventional = bands.band_values(model, k, "conventional_spin", "z,x,y")[1]
        scale = np.abs(proper).max()
        np.testing.assert_allclose(ds["value"].values, proper - conventional, rtol=0, atol=1e-9 * scale)
        peak[rashba] = np.abs(ds["value"].values).max() / scale
    assert peak[0.0] < 1e-12 and peak[0.3] > 1e-2
