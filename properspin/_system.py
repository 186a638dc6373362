"""Facts about the machine a calculation runs on (no properspin imports: every stage may use it)."""

from __future__ import annotations

import os


def physical_memory() -> int:
    """The machine's physical memory in bytes, or 0 where it cannot be read (not POSIX)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 0
