"""glibc heap helpers: the worker trims freed heap back to the OS, rate-limited."""

from __future__ import annotations

import pytest

from streams.worker import memory


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(memory._libc is None, reason="needs glibc (Linux)")
def test_trim_returns_freed_heap_and_is_rate_limited() -> None:
    memory.limit_arenas()
    chunks = [bytearray(100_000) for _ in range(2000)]  # ~200 MB in heap chunks
    for n in range(0, 2000, 2):
        chunks[n] = bytearray(0)  # holes glibc keeps mapped until trimmed
    before = _rss_kib()
    assert memory.trim(every_s=0)
    assert _rss_kib() < before - 50_000
    assert not memory.trim(every_s=3600)  # just ran
    del chunks
