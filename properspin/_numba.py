"""numba, used so that a missing cache directory or ``NUMBA_DISABLE_JIT=1`` never breaks properspin.

* :func:`njit` is ``numba.njit`` whose ``cache=True`` falls back to no caching, with one warning, when numba
  finds no writable cache directory (a read-only installation without ``NUMBA_CACHE_DIR``): numba raises
  at decoration time there, which used to make ``import properspin`` fail.
* :func:`jit_enabled` is False under ``NUMBA_DISABLE_JIT=1`` (or without numba): the compiled paths
  (:mod:`properspin.eigen`, :mod:`properspin.kernels`) then step aside for their numpy equivalents, since
  their decorated functions would run as plain Python (glacially, or — with LAPACK called through
  ``ExternalFunction`` — wrongly).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

_warned = False


def jit_enabled() -> bool:
    """Whether numba is importable and compiles (``NUMBA_DISABLE_JIT`` unset)."""
    try:
        from numba.core import config
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    return not config.DISABLE_JIT


def njit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)``; with ``cache=True`` and no usable cache directory, compile without caching."""
    from numba import njit as numba_njit

    def decorate(func: Callable[..., Any]) -> Any:
        if not options.get("cache"):
            return numba_njit(**options)(func)
        try:
            return numba_njit(**options)(func)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available for file ..."
            if "cache" not in str(exc):
                raise
            _warn_no_cache(exc)
            return numba_njit(**{**options, "cache": False})(func)

    return decorate


def _warn_no_cache(exc: Exception) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn(
        f"numba cannot cache compiled functions ({exc}); properspin runs without the cache, so every new "
        "process compiles its kernels again (about a minute). Set NUMBA_CACHE_DIR to a writable directory "
        "to keep them.", RuntimeWarning, stacklevel=3)
