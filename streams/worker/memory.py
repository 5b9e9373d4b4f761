"""glibc heap settings for the long-running worker (no-ops on other C libraries).

A worker's RSS is mostly freed heap that glibc keeps mapped: changelog payloads and
fetched batches, spread over one malloc arena per thread. Measured after draining 300k
events: 615 MiB, 257 MiB after `malloc_trim(0)`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time

M_ARENA_MAX = -8  # mallopt parameter number in glibc's malloc.h
TRIM_EVERY_S = 30.0

_libc = None
_name = ctypes.util.find_library("c")
if _name:
    try:
        _libc = ctypes.CDLL(_name)
        _libc.malloc_trim  # noqa: B018  (glibc only)
    except (OSError, AttributeError):
        _libc = None
_last_trim = 0.0


def limit_arenas(count: int = 2) -> None:
    """Share `count` malloc arenas among all threads (call before threads start)."""
    if _libc is not None:
        _libc.mallopt(M_ARENA_MAX, count)


def trim(every_s: float = TRIM_EVERY_S) -> bool:
    """Give freed heap back to the OS, at most once per `every_s`; True when it ran."""
    global _last_trim
    now = time.monotonic()
    if _libc is None or now - _last_trim < every_s:
        return False
    _last_trim = now
    _libc.malloc_trim(0)
    return True
