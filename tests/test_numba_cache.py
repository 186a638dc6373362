"""Where numba caches properspin's compiled kernels: a per-user directory, never inside the package (a cache
folder left in site-packages by ``pip install .`` shadowed a later editable install, issue 24)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODULE = '''
from properspin._numba import njit

@njit(cache=True)
def twice(x):
    return 2.0 * x
'''

SCRIPT = '''
import warnings; warnings.simplefilter("always")
import sys; sys.path.insert(0, {where!r})
import mod, properspin.eigen as eigen
from properspin._numba import cache_dir
print(mod.twice(21.0))
print(cache_dir())
print(getattr(eigen._small._cache, "_cache_path", "nocache"))
'''


def _run(tmp_path: Path, **env_over: str) -> subprocess.CompletedProcess:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "mod.py").write_text(MODULE)
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env |= {"PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "home"), **env_over}
    code = SCRIPT.format(where=str(tmp_path / "src"))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)


def _index_files(path: Path) -> list[Path]:
    return list(path.rglob("*.nbi"))


def test_cache_goes_to_the_user_cache_directory_not_the_package(tmp_path):
    proc = _run(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    value, where, kernels = proc.stdout.split()
    assert float(value) == 42.0
    base = tmp_path / "xdg" / "properspin" / "numba"
    assert Path(where).parent == base and Path(where).name.startswith("0.")  # <version>-<location key>
    assert _index_files(Path(where)), "the compiled function was not cached in the per-user directory"
    assert not _index_files(tmp_path / "src"), "numba wrote its cache next to the source"
    assert Path(kernels).is_relative_to(Path(where))  # properspin's own kernels too
    assert "cannot cache" not in proc.stderr


def test_default_is_home_cache_and_explicit_numba_cache_dir_wins(tmp_path):
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Path(proc.stdout.split()[1]).is_relative_to(tmp_path / "home" / ".cache" / "properspin" / "numba")
    proc = _run(tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "explicit"), XDG_CACHE_HOME=str(tmp_path / "xdg2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Path(proc.stdout.split()[1]) == tmp_path / "explicit"
    assert _index_files(tmp_path / "explicit") and not (tmp_path / "xdg2").exists()


def test_unwritable_cache_directory_compiles_uncached_with_one_warning(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")  # a file where the directory should be: not creatable, even for root
    proc = _run(tmp_path, XDG_CACHE_HOME=str(blocker / "xdg"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    value, where, kernels = proc.stdout.split()
    assert float(value) == 42.0 and where == "None" and kernels == "nocache"
    assert proc.stderr.count("numba cannot cache properspin's compiled kernels") == 1
    assert "XDG_CACHE_HOME" in proc.stderr
    assert not _index_files(tmp_path / "src")


def test_first_compile_is_announced_once_and_not_when_cached(tmp_path, caplog):
    """The first run's compile says what it compiles and how long it takes; a cached kernel says nothing."""
    import logging
    from types import SimpleNamespace

    from properspin import _numba

    def dispatcher(index):
        return SimpleNamespace(signatures=[], _cache=SimpleNamespace(_cache_file=SimpleNamespace(_index_path=index)))

    fresh, cached = dispatcher(str(tmp_path / "k.nbi")), dispatcher(str(tmp_path / "c.nbi"))
    (tmp_path / "c.nbi").write_bytes(b"")
    with caplog.at_level(logging.INFO, logger="properspin"):
        _numba.announce_compile(fresh, "the k-point kernel for 4 bands")
        _numba.announce_compile(fresh, "the k-point kernel for 4 bands")
        _numba.announce_compile(cached, "the k-point kernel for any band count")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "compiling the k-point kernel for 4 bands" in messages[0] and "2–3 min on 2 cores" in messages[0]


def test_first_compile_is_done_by_one_process_at_a_time(tmp_path, monkeypatch):
    """Processes started together (forked workers) compile a kernel one after the other: the later ones then load
    it from the cache instead of compiling it again on the same cores (issue 24).  Two forked processes enter
    ``first_compile`` of an uncompiled, uncached kernel; their intervals inside do not overlap."""
    import multiprocessing as mp
    import time
    from types import SimpleNamespace

    from properspin import _numba

    monkeypatch.setitem(_numba._resolved, "dir", tmp_path)
    fake = SimpleNamespace(signatures=[], _cache=SimpleNamespace(_cache_file=SimpleNamespace(
        _index_path=str(tmp_path / "never.nbi"))))
    log = tmp_path / "log"

    def child(tag):
        with _numba.first_compile(fake, "a test kernel"):
            start = time.monotonic()
            time.sleep(0.4)
            with open(log, "a") as f:
                f.write(f"{tag} {start} {time.monotonic()}\n")

    procs = [mp.get_context("fork").Process(target=child, args=(i,)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    (_, a0, a1), (_, b0, b1) = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    assert a1 <= b0 + 1e-3 and b1 - a0 >= 0.8  # one after the other, not side by side
