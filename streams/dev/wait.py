"""The one way to wait (the demo, the tests): poll a condition until it holds, or fail
saying what for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(ready: Callable[[], Any], timeout: float, what: str,
          context: Callable[[], str] = lambda: "", every: float = 0.3) -> Any:
    """The first truthy value of `ready()`; after `timeout` seconds a TimeoutError naming
    `what`, with `context()` (logs, state) to tell why."""
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}:\n{context()}")
        time.sleep(every)
