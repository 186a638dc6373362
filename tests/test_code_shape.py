"""The brief's code shape (issue 23 item 6): no function over 80 lines, no module over 600 (a longer module is
split where a concept boundary runs through it).  Measured from the source with ``ast``."""

from __future__ import annotations

import ast

from .conftest import ROOT

MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _shape() -> tuple[list[str], list[str]]:
    long_functions, long_modules = [], []
    for path in sorted((ROOT / "properspin").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(ROOT))
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    return long_functions, long_modules


def test_no_function_over_80_lines_and_no_module_over_600():
    long_functions, long_modules = _shape()
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines: {long_functions}"
    assert not long_modules, f"modules over {MAX_MODULE_LINES} lines: {long_modules}"
