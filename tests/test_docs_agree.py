"""docs/cli.md and docs/configuration.md list what the program has: every command, every built-in model
(issue 24: the docs and the program disagreed on the model list)."""

from __future__ import annotations

import re
from pathlib import Path

from properspin import cli, registry

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: models built from their own run-file section ([model.kp], [model.wannier90]), not from `name`
SECTION_MODELS = {"kp", "wannier90", "wannier90_run"}


def test_cli_md_documents_every_command_and_no_other():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## `properspin (\w+)", text, flags=re.M))
    assert documented == set(cli._COMMANDS)
    parser_help = cli._parser().format_help()
    for name in cli._COMMANDS:
        assert name in parser_help


def test_configuration_md_lists_every_built_in_model():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `name` |"))
    listed = set(re.findall(r"`(\w+)`", row.split("built-in model:")[1]))
    assert listed == set(registry.MODELS) - SECTION_MODELS
    table = text.split("### Built-in model parameters")[1].split("###")[0]
    in_table = {m for m in re.findall(r"^\| `(\w+)` \|", table, flags=re.M)}
    assert in_table == set(registry.MODELS) - SECTION_MODELS
    for section in SECTION_MODELS:
        assert f"[model.{section}]" in text
