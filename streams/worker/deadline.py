"""One deadline for every wait of a stop: a broker that is down must not hold it up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

# Once the worker stops (SIGTERM), a flush or an offset commit gets this long. Nothing is
# lost: the next start resumes from the last marker (offsets are never committed past one).
STOP_TIMEOUT_S = 5.0


class StopDeadline:
    def __init__(self, stopping: Callable[[], bool], grace_s: float = STOP_TIMEOUT_S) -> None:
        self.stopping, self.grace_s = stopping, grace_s
        self.at: float | None = None  # set once, when the worker starts stopping

    async def bounded(self, work: Coroutine[Any, Any, Any], timeout: float | None) -> Any:
        """Await `work` for at most `timeout` seconds (None: no limit), and once the worker
        stops, no longer than the grace after the stop began; past that, cancel it and
        raise TimeoutError. With the broker down, flushes, offset commits and the
        producer's own flush would wait for it: even handing records to the producer
        blocks once its buffer is full."""
        task = asyncio.ensure_future(work)
        loop = asyncio.get_running_loop()
        deadline = float("inf") if timeout is None else loop.time() + timeout
        try:
            while True:
                now = loop.time()
                if self.stopping():
                    if self.at is None:
                        self.at = now + self.grace_s
                    deadline = min(deadline, self.at)
                if now >= deadline:
                    raise TimeoutError("no answer from Kafka in time"
                                       + " (stopping)" * (self.at is not None))
                done, _ = await asyncio.wait({task}, timeout=min(0.5, deadline - now))
                if done:
                    return task.result()
        finally:
            task.cancel()  # a no-op once done
