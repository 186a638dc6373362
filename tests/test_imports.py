"""The import graph of properspin (issue 23): no circles, the stage order model → mesh → geometry → response →
sweep → engine, and ``import properspin`` without numba.

The graph is built from the source (``ast``), not by importing: an edge ``a → b`` is an ``import`` of ``b`` that
runs when ``a`` is imported (module level, including ``try``/``if`` bodies, excluding ``if TYPE_CHECKING:``).
``from . import x`` is an edge to the submodule ``x`` (the package itself is already importing).  Imports inside
functions run when the function is first called (numba's kernels load on first use); they may delay an import but
never close a circle.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "properspin"
#: the stages of a calculation, in order; a module may import (at module level) only from its own or earlier stages
STAGES = ("properspin.model", "properspin.mesh", "properspin.geometry", "properspin.responses", "properspin.sweep",
          "properspin.engine")


def _modules(package: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: dict[str, Path]) -> set[str]:
    """The package modules an import statement of ``module`` loads."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[:len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target not in known:
        return set()
    return {f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names}


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (getattr(test, "id", None) == "TYPE_CHECKING"
                                          or getattr(test, "attr", None) == "TYPE_CHECKING")


def import_graph(package: Path, deferred: bool = False) -> dict[str, set[str]]:
    """``module → modules it imports`` within ``package``: at import time, or (``deferred``) inside functions."""
    known = _modules(package)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        edges: set[str] = set()

        def visit(node: ast.AST, in_function: bool, module: str = module, path: Path = path,
                  edges: set[str] = edges) -> None:
            for child in ast.iter_child_nodes(node):
                if _type_checking(child):
                    continue
                inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, (ast.Import, ast.ImportFrom)) and inner == deferred:
                    edges.update(_targets(child, module, path.name == "__init__.py", known))
                visit(child, inner)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
        graph[module] = edges - {module}
    return graph


@functools.cache
def _graph(deferred: bool = False) -> dict[str, frozenset[str]]:
    """properspin's own graph, built once per test session."""
    return {m: frozenset(e) for m, e in import_graph(PACKAGE, deferred).items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle ``[a, b, ..., a]`` of ``graph``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that importing ``start`` imports (through the graph)."""
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_checker_finds_planted_circles_and_ignores_deferred_and_type_checking_imports(tmp_path):
    pkg = _write(tmp_path / "pkg", {
        "__init__.py": "from . import a\n",
        "a.py": "from . import b\nfrom .c import f\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import X\n"
                "def g():\n    from . import a\n",
        "c.py": "try:\n    from .b import g\nexcept ImportError:\n    pass\n",
    })
    graph = import_graph(pkg)
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b", "pkg.c"}, "pkg.b": set(), "pkg.c": {"pkg.b"}}
    assert find_cycle(graph) is None
    assert import_graph(pkg, deferred=True)["pkg.b"] == {"pkg.a"}
    (pkg / "b.py").write_text("import pkg.c\n")  # a → c → b → c: a module-level circle
    assert find_cycle(import_graph(pkg)) == ["pkg.b", "pkg.c", "pkg.b"]


def test_module_level_imports_have_no_circle():
    graph = _graph()
    assert len(graph) > 30 and "properspin.mesh" in graph["properspin.symmetry"]
    assert find_cycle(graph) is None


def test_stage_order_model_mesh_geometry_response_sweep_engine():
    """Importing a stage never imports a later one (mesh's memory probe lives in the low-level _system module;
    ``grid(symmetry=...)`` uses the constructor that properspin.symmetry registers)."""
    graph = _graph()
    for i, stage in enumerate(STAGES):
        later = closure(graph, stage) & set(STAGES[i + 1:])
        assert not later, f"importing {stage} imports the later stage(s) {sorted(later)}"


def test_no_function_level_import_closes_a_circle():
    """An import inside a function (e.g. chunk.evaluate loading the numba kernels on first use) is only a delay:
    with every deferred import added to the module-level graph there is still no circle.  A call forward is made
    by passing what is needed down (an argument, or a constructor registered by the later module, as
    ``mesh.grid(symmetry=...)`` uses :class:`~properspin.symmetry.SymmetricGrid`), never by importing upwards."""
    module, deferred = _graph(), _graph(deferred=True)
    assert "properspin.kernels" in deferred["properspin.chunk"]  # the checker sees function-level imports
    full = {m: module[m] | deferred[m] for m in module}
    closing = sorted((a, b) for a in deferred for b in deferred[a] - module[a] if a in closure(full, b))
    assert not closing, f"function-level import(s) closing an import circle: {closing}"
    assert find_cycle(full) is None


def test_import_properspin_does_not_load_numba():
    """numba (≈0.4 s, and the kernels' compile) is loaded when a kernel is first needed, not on import."""
    code = ("import sys, properspin\nassert 'numba' not in sys.modules, 'import properspin'\n"
            "import properspin.models, properspin.responses, properspin.mesh, properspin.chunk\n"
            "assert 'numba' not in sys.modules, 'import properspin.models'\n"
            "m = properspin.models.qwz(1.0)\nm.energies(__import__('numpy').zeros((1, 2)))\n"
            "assert 'numba' not in sys.modules, 'a k·p/lattice model evaluated'\n"
            "from properspin import kernels\nassert 'numba' in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("module", ["properspin.cli", "properspin.config", "properspin.registry"])
def test_front_ends_import_no_calculation_at_module_level(module):
    """The CLI, run files and the registry list models and parse arguments without the engine or kernels."""
    graph = _graph()
    assert not closure(graph, module) & {"properspin.engine", "properspin.kernels", "properspin.kernel_stages"}
