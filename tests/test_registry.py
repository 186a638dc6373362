"""The model registry is the one catalogue of model sources (issue 23): every entry builds from its documented
example, the ``properspin models`` listing and the run-file sources are the registry's, and the docs' lists
name only registry models."""

from __future__ import annotations

import re

import numpy as np
import pytest

from properspin import cli, registry
from properspin.config import ConfigError, build_model, load_config

from .conftest import DATA, ROOT, needs_data
from .w90files import write_run

IN_MEMORY = [name for name, e in registry.MODELS.items() if e.kind in ("builtin", "kp")]


def _check_operators(model, rng: np.random.Generator) -> None:
    """H(k) Hermitian and finite, ∂H the k-derivative of H (central differences), at random k."""
    k = rng.uniform(-0.05, 0.05, size=(3, model.dim))
    h = model.h(k)
    assert h.shape == (3, model.nbands, model.nbands) and np.all(np.isfinite(h))
    np.testing.assert_allclose(h, h.conj().transpose(0, 2, 1), atol=1e-12 * max(1.0, np.abs(h).max()))
    step = 1e-6
    dh = model.dh(k)
    for a in range(model.dim):
        e = np.zeros(model.dim)
        e[a] = step
        fd = (model.h(k + e) - model.h(k - e)) / (2 * step)
        np.testing.assert_allclose(dh[a], fd, atol=1e-5 * max(1.0, np.abs(dh).max()))


@pytest.mark.parametrize("name", IN_MEMORY)
def test_every_model_builds_from_its_registry_example(name):
    entry = registry.get(name)
    params = {p.name: p for p in entry.parameters()}
    example = dict(entry.example)
    assert {n for n, p in params.items() if p.required} <= set(example), "the example omits a required parameter"
    assert all(entry.accepts(n) for n in example)
    model = entry.build(**example)
    assert model.nbands >= 2 and model.dim in (2, 3)
    _check_operators(model, np.random.default_rng(len(name)))


def test_file_entries_document_their_reader_options():
    """``wannier90_run`` takes ``**options``: its parameters and defaults are read_wannier90_run's."""
    from properspin.models.wannier.run import QIAO_D_TOL

    params = {p.name: p for p in registry.get("wannier90_run").parameters()}
    assert list(params) == ["seedname", "use_ws_distance", "spin", "spin_current", "scissors_shift",
                            "num_valence_bands", "spin_current_tol", "symmetrize", "magnetization", "symprec",
                            "wannier_gauge"]
    assert params["symmetrize"].default is False
    assert params["seedname"].required and params["spin_current_tol"].default == QIAO_D_TOL == 1e-7
    assert params["spin_current_tol"].unit == "eV" and params["spin"].default == "auto"
    assert registry.get("wannier90_run").kind == "wannier90_run"


def test_native_run_through_registry_and_run_file_equals_the_tight_binding_model(tmp_path):
    """A synthetic Wannier90 run built by ``registry.get('wannier90_run')`` and by a run file gives back the
    tight-binding model the run was made from (H(k) to 1e-10 eV at a k-point off the ab-initio grid)."""
    data = write_run(tmp_path / "run")
    direct = registry.get("wannier90_run").build(seedname=data["seedname"])
    (tmp_path / "run.toml").write_text('[model.wannier90_run]\nseedname = "run/syn"\n[mesh]\nkind = "grid"\nn = 4\n'
                                       '[fermi]\nvalues = [0.1]\n[calculation]\nresponses = ["charge"]\n')
    from_file = build_model(load_config(tmp_path / "run.toml"), tmp_path / "run.toml")
    kfrac = np.array([[0.13, -0.21, 0.37]])
    kcart = kfrac @ (2 * np.pi * np.linalg.inv(data["lattice"]).T)
    from .w90files import bloch

    exact = np.linalg.eigvalsh(bloch(data["rvec"], data["ham"], kfrac))
    for model in (direct, from_file):
        np.testing.assert_allclose(np.linalg.eigvalsh(model.h(kcart)), exact, atol=1e-10)
    with pytest.raises(ConfigError, match=r"\[model.wannier90_run\] table"):
        (tmp_path / "bad.toml").write_text('[model]\nname = "wannier90_run"\n[mesh]\nkind = "grid"\nn = 4\n'
                                           '[fermi]\nvalues = [0.1]\n[calculation]\nresponses = ["charge"]\n')
        load_config(tmp_path / "bad.toml")


@needs_data("Fe_tb.dat")
def test_wannier90_file_entry_builds_from_its_example():
    entry = registry.get("wannier90")
    example = dict(entry.example)
    model = entry.build(**{**example, "path": ROOT / example["path"]})
    assert model.nbands == 18 and model.has_spin  # Fe: 18 spinor Wannier functions
    _check_operators(model, np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "wannier90" / "Pt" / "Pt.win").is_file(), reason="real-data run Pt absent "
                    "(no ../shared/data/wannier90/Pt)")
def test_wannier90_run_entry_builds_from_its_example():
    entry = registry.get("wannier90_run")
    model = entry.build(seedname=ROOT / dict(entry.example)["seedname"])
    assert model.nbands == 18 and model.has_spin  # Pt: 18 spinor Wannier functions, .spn read
    _check_operators(model, np.random.default_rng(1))


def _listing(capsys, *names: str) -> str:
    assert cli.main(["models", *names]) == 0
    return capsys.readouterr().out


def test_cli_models_listing_is_the_registry(capsys):
    out = _listing(capsys)
    assert re.findall(r"^(\S+)  —  ", out, flags=re.M) == list(registry.MODELS)
    assert "wannier90_run  —  native Wannier90 run" in out
    assert "example: u=1.0" in _listing(capsys, "qwz")


def test_docs_show_the_real_models_listing(capsys):
    """docs/cli.md's sample of ``properspin models`` is the command's output for that model, verbatim."""
    text = (ROOT / "docs" / "cli.md").read_text()
    sample = re.search(r"## `properspin models.*?```\n(.*?)```", text, flags=re.S).group(1)
    name = sample.split()[0]
    assert sample == _listing(capsys, name)


def test_docs_model_tables_name_registry_models_and_their_parameters():
    """docs/configuration.md's built-in parameter table lists registry models with their parameter names."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    table = text[text.index("### Built-in model parameters"):text.index("### `[model.kp]`")]
    model = None
    seen: dict[str, set[str]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) < 2 or not cells[1].startswith("`"):
            continue  # not a table row, or the header
        model = cells[0].strip("`") or model
        seen.setdefault(model, set()).update(p.strip(" `") for p in cells[1].split(","))
    assert seen and set(seen) <= set(registry.MODELS)
    for name, documented in seen.items():
        assert documented <= {p.name for p in registry.get(name).parameters()}, name


def test_run_file_model_sources_are_the_registry_kinds():
    """Each non-built-in registry kind has its ``[model.KIND]`` table in run files, and no other table exists."""
    from properspin.config import ModelSpec

    tables = set(ModelSpec.model_fields) - {"name", "parameters", "zeeman"}
    assert tables == {e.kind for e in registry.MODELS.values() if e.kind != "builtin"} == {
        "kp", "wannier90", "wannier90_run"}
