"""numba, used so that the compiled-kernel cache never lands inside the package and ``NUMBA_DISABLE_JIT=1``
never breaks properspin.

* :func:`njit` is ``numba.njit`` whose ``cache=True`` writes to a per-user directory (:func:`cache_dir`:
  ``$NUMBA_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/properspin/numba/<version>-<location key>`` or
  ``~/.cache/...``), never next to the installed sources: a cache folder left in ``site-packages/properspin``
  by ``pip install .`` used to shadow a later editable install (``ImportError: cannot import name
  '__version__'``).  When that directory is not writable it compiles without caching, with one warning.
* :func:`jit_enabled` is False under ``NUMBA_DISABLE_JIT=1`` (or without numba): the compiled paths
  (:mod:`properspin.eigen`, :mod:`properspin.kernels`) then step aside for their numpy equivalents, since
  their decorated functions would run as plain Python (glacially, or — with LAPACK called through
  ``ExternalFunction`` — wrongly).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_warned = False
_resolved: dict[str, Path | None] = {}


def jit_enabled() -> bool:
    """Whether numba is importable and compiles (``NUMBA_DISABLE_JIT`` unset)."""
    try:
        from numba.core import config
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return not config.DISABLE_JIT


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/properspin/numba/<version>-<key>``; the key is a hash of the
    package's location, so that two installations (site-packages, an editable checkout) never share files."""
    from ._version import __version__

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    where = str(Path(__file__).resolve().parent)
    key = hashlib.sha1(where.encode()).hexdigest()[:12]
    return Path(base) / "properspin" / "numba" / f"{__version__}-{key}"


def cache_dir() -> Path | None:
    """Where the compiled kernels are cached: ``NUMBA_CACHE_DIR`` when set, else :func:`default_cache_dir`;
    ``None`` (compile without caching) when that directory cannot be created or written."""
    if "dir" in _resolved:
        return _resolved["dir"]
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    path = Path(explicit) if explicit else default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        _warn_no_cache(f"{path} is not writable: {exc}")
        path = None
    _resolved["dir"] = path
    return path


def njit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)``; ``cache=True`` caches in :func:`cache_dir`, or compiles uncached without one."""
    from numba import njit as numba_njit
    from numba.core import config

    def decorate(func: Callable[..., Any]) -> Any:
        if not options.get("cache"):
            return numba_njit(**options)(func)
        where = cache_dir()
        if where is None:
            return numba_njit(**{**options, "cache": False})(func)
        saved = config.CACHE_DIR
        config.CACHE_DIR = str(where)  # numba picks the cache locator when decorating: only for this function
        try:
            return numba_njit(**options)(func)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available for file ..."
            if "cache" not in str(exc):
                raise
            _warn_no_cache(str(exc))
            return numba_njit(**{**options, "cache": False})(func)
        finally:
            config.CACHE_DIR = saved

    return decorate


def _warn_no_cache(reason: str) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn(
        f"numba cannot cache properspin's compiled kernels ({reason}); every new process compiles them again "
        "(about a minute). Set NUMBA_CACHE_DIR or XDG_CACHE_HOME to a writable directory "
        "(docs/configuration.md, 'Compiled kernels').", RuntimeWarning, stacklevel=3)


_announced: set[int] = set()


@contextlib.contextmanager
def first_compile(dispatcher: Any, what: str) -> Iterator[None]:
    """Around a call of ``dispatcher``: while it has no compiled signature, hold an exclusive lock on
    ``<cache_dir>/compile-<kernel>.lock`` (and :func:`announce_compile` once the lock is held), so that processes
    started together (the engine's forked workers, the sections of ``properspin reproduce``) compile a kernel once:
    the others wait and then load it from the cache instead of compiling it again on the same cores.  Different
    kernels have different locks (they compile side by side)."""
    where = cache_dir()
    if getattr(dispatcher, "signatures", [None]) or where is None or _cache_index(dispatcher).is_file():
        announce_compile(dispatcher, what)  # says nothing when compiled or cached
        yield
        return
    import fcntl

    name = hashlib.sha1(str(_cache_index(dispatcher)).encode()).hexdigest()[:12]  # one lock per kernel
    with contextlib.ExitStack() as stack:
        try:
            lock = stack.enter_context(open(where / f"compile-{name}.lock", "a+b"))
            fcntl.flock(lock, fcntl.LOCK_EX)
            stack.callback(fcntl.flock, lock, fcntl.LOCK_UN)
        except OSError:  # a file system without locks: compile without waiting (as before)
            pass
        announce_compile(dispatcher, what)
        yield


def announce_compile(dispatcher: Any, what: str) -> None:
    """Say once per process, before the first call of ``dispatcher`` compiles it (no compiled signature and no
    cache index on disk), what is being compiled, roughly how long it takes and where it will be cached."""
    if id(dispatcher) in _announced or getattr(dispatcher, "signatures", [None]):
        return
    _announced.add(id(dispatcher))
    if _cache_index(dispatcher).is_file():
        return
    import logging

    where = f"cached in {cache_dir()}" if cache_dir() is not None else "not cached: no writable cache directory"
    logging.getLogger("properspin").info(
        "properspin: compiling %s (once per installation and numba version; 2–3 min on 2 cores, %s)",
        what, where)


def _cache_index(dispatcher: Any) -> Path:
    """The cache index file of ``dispatcher`` (a path that never exists when it is not cached)."""
    try:
        return Path(dispatcher._cache._cache_file._index_path)
    except AttributeError:  # uncached (no writable directory) or another numba layout
        return Path(os.devnull, "uncached")
