"""The goals file, hot: read at start (a broken file stops the worker before it joins the
group), re-read when it changes or on SIGHUP; a broken reload keeps the last good goals."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import TYPE_CHECKING

from streams import goals as goals_file

if TYPE_CHECKING:
    from streams.worker.context import Worker

log = logging.getLogger(__name__)
POLL_S = 2.0  # how often the file's modification time is checked


class GoalsWatch:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.path = worker.settings.goals_file
        self.seen: float | None = None  # modification time of the goals in use
        self.wanted = asyncio.Event()  # SIGHUP: read the file now

    def load(self) -> None:
        """At start: the goals file, or GoalsError."""
        if self.path:
            self.seen = _mtime(self.path)
            self.worker.pipeline.use_goals(goals_file.load(self.path))

    async def run(self) -> None:
        if not self.path:
            return
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.wanted.set)
        while True:
            try:
                await asyncio.wait_for(self.wanted.wait(), POLL_S)
                forced = True
            except TimeoutError:
                forced = False
            self.wanted.clear()
            if forced or _mtime(self.path) != self.seen:
                self.reload()

    def reload(self) -> None:
        mtime = _mtime(self.path)
        try:
            goals = goals_file.load(self.path)
        except goals_file.GoalsError as exc:
            self.seen = mtime  # one error per change, not one per poll
            self.worker.pipeline.metrics.goals_reload_failures.inc()
            log.error("%s; the goals in use stay the last good ones (fix the file: it is "
                      "read again when it changes)", exc)
            return
        self.seen = mtime
        self.worker.pipeline.use_goals(goals)
        log.info("goals read from %s: %d overrides, %d team targets, %d rep quotas", self.path,
                 sum(1 for _ in goals.overrides()), len(goals.targets), len(goals.quotas))


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime_ns / 1e9
    except OSError:
        return None
