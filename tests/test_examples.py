"""The convergence scripts of examples/ say, row by row, whether a number is converged (issue 24, item 6)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["fe_proper_convergence", "pt_proper_convergence"])
def test_convergence_rows_say_whether_converged(name):
    """Fe's proper σ^z_xy on 32³ / 48³ (−4038 / −5312, docs/wannier-fe.md) is not converged; two grids within 1 %
    are; one grid alone never is; a different setting (η) starts its own sequence."""
    verdict = _load(name).convergence
    seen: dict = {}
    assert verdict(seen, ("grid", 0.0), 32, -4038.0).startswith("not converged (one grid")
    assert verdict(seen, ("grid", 0.0), 48, -5312.0).startswith("not converged (32³ → 48³: 24.0 % change)")
    assert verdict(seen, ("grid", 0.0), 64, -5300.0).startswith("converged (48³ → 64³: 0.2 % change)")
    assert verdict(seen, ("grid", 0.01), 64, -5300.0).startswith("not converged (one grid")
