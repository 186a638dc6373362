"""Run the reproduction's sections in groups, one process per group, and time each section.

A section is ``(name, function of the results so far, progress steps)``; the sections of a group run in order
(a later one may use an earlier one's result), the groups in parallel: the first in this process, the others in
forked processes (``workers`` > 1), each group with a serial engine (:data:`.wedge.ENGINE`), so that two
groups keep two cores busy where one engine would fork for every run and idle between runs.  Every section's
wall and CPU seconds (this process and its finished children) are recorded.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import Engine
from ..engine import kill_workers
from . import wedge

Section = tuple[str, Callable[[dict[str, Any]], Any], int]

#: The groups of the current :func:`run` (forked processes inherit them: closures need no pickling).
_GROUPS: list[Sequence[Section]] = []


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _run_group(index: int, bar: Any = None, serial: bool = True) -> tuple[dict[str, Any], dict[str, tuple]]:
    """The sections of group ``index`` in order; results by name and (wall s, CPU s) per section."""
    if serial:
        wedge.ENGINE = Engine(workers=1, progress=False)
    results: dict[str, Any] = {}
    times: dict[str, tuple[float, float]] = {}
    for name, func, steps in _GROUPS[index]:
        t, c = time.perf_counter(), _cpu()
        results[name] = func(results)
        times[name] = (time.perf_counter() - t, _cpu() - c)
        if bar is not None:
            bar.update(steps)
    return results, times


def run(groups: Sequence[Sequence[Section]], bar: Any, workers: int) -> tuple[dict[str, Any], dict[str, tuple]]:
    """Every section of every group: results by name, (wall s, CPU s) per section.  ``workers`` ≤ 1 runs the
    groups one after the other in this process with the default engine (it forks for large meshes itself)."""
    _GROUPS[:] = list(groups)
    results: dict[str, Any] = {}
    times: dict[str, tuple[float, float]] = {}
    saved = wedge.ENGINE
    try:
        if workers <= 1 or len(groups) == 1:
            for i in range(len(groups)):
                r, t = _run_group(i, bar, serial=False)
                results |= r
                times |= t
            return results, times
        with cf.ProcessPoolExecutor(min(workers, len(groups)) - 1, mp_context=mp.get_context("fork")) as pool:
            try:
                futures = [pool.submit(_run_group, i) for i in range(1, len(groups))]
                r, t = _run_group(0, bar)
                results |= r
                times |= t
                for i, fut in enumerate(futures, 1):
                    r, t = fut.result()
                    results |= r
                    times |= t
                    bar.update(sum(steps for _, _, steps in groups[i]))
            except BaseException:  # an error or Ctrl-C here: do not wait for the other group to finish
                kill_workers(pool)
                raise
        return results, times
    finally:
        wedge.ENGINE = saved
        _GROUPS.clear()
