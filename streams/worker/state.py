"""Engine state to and from the changelog: dirty units out at each flush, all back in on
assignment (the marker protocol itself is in checkpoint.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from streams.engine import gc_paused
from streams.engine.codec import HEADERS, NewerFormat
from streams.worker import changelog, memory
from streams.worker.checkpoint import MARKER, ChangelogReader, Unit, dirty_units, marker_value
from streams.worker.internals.producer import send_batches

if TYPE_CHECKING:
    from streams.worker.context import Worker

log = logging.getLogger(__name__)
FLUSH_TIMEOUT_S = 60.0


class StateSync:
    """A flush is all-or-nothing per changelog partition (checkpoint.py); one at a time,
    under `lock`, so that markers follow their own units."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.reader = ChangelogReader()
        self.lock = asyncio.Lock()
        self.flushed_at = 0.0  # time.monotonic() of the last flush that reached the broker
        self.corrections: list[Unit] = []  # units to send before any newer value of theirs
        self.unreadable: set[int] = set()  # partitions a newer release wrote

    @property
    def topic(self) -> str:
        return self.worker.changelog_topic

    # -- recovery -------------------------------------------------------------------------

    async def restore(self, partitions: set[int], moved: Callable[[], bool]) -> bool:
        """Rebuild the reps of the partitions not loaded yet from their changelog, read
        from the start one partition at a time (so only one partition's raw records are
        in memory at once); False when the read stopped: the worker stops, or `moved()`
        says the partitions moved meanwhile (the next recovery reads them again)."""
        fresh = partitions - self.reader.loaded
        self.reader.start(fresh)
        counts = [0, 0]  # reps recovered, units of an unfinished flush discarded

        def rebuild(partition: int) -> None:
            if moved() or partition not in self.worker.assigned_partitions():
                raise changelog.Stopped("partitions moved")
            reps, discarded = self._rebuild(partition)
            counts[0] += reps
            counts[1] += discarded

        started = time.monotonic()
        try:
            with gc_paused():  # millions of acyclic objects: collections would rescan them
                count = await changelog.read_partitions(
                    self.worker.settings.client_options(), self.topic, fresh,
                    self.reader.read, lambda: self.worker.app.should_stop, rebuild)
        except changelog.Stopped as exc:
            log.info("reading the changelog stopped (%s): the next recovery reads again", exc)
            return False
        if fresh:
            log.info("recovered %d reps of partitions %s from %s changelog records in %.1f s "
                     "(%d units of an unfinished flush discarded)", counts[0], sorted(fresh),
                     f"{count:,}", time.monotonic() - started, counts[1])
            memory.trim(every_s=0)  # the changelog payloads just read are garbage now
        if self.corrections:
            await self.flush()
        return True

    def _rebuild(self, partition: int) -> tuple[int, int]:
        """One partition's reps to the pipeline: (reps, units discarded)."""
        try:
            rebuilt = self.reader.rebuild(partition)
        except NewerFormat as exc:
            self.reader.loaded.add(partition)
            self._refuse(partition, exc)
            return 0, 0
        # An unfinished flush is rewritten with the flushed values before compaction
        # could keep it as the latest value of its keys.
        self.corrections += rebuilt.corrections
        if rebuilt.upgraded:
            log.info("partition %d: %d state units of an older format read and upgraded; the "
                     "next flush rewrites them (see streams/engine/upgrade.py)", partition,
                     rebuilt.upgraded)
        self.worker.pipeline.adopt(partition, rebuilt.reps, rebuilt.marker)
        return len(rebuilt.reps), len(rebuilt.corrections)

    def _refuse(self, partition: int, exc: Exception) -> None:
        """A newer release wrote this partition's state: leave it alone, say so once."""
        self.unreadable.add(partition)
        self.worker.pipeline.metrics.unreadable_state.set(len(self.unreadable))
        log.error("partition %d of the changelog %s was written by a newer salespulse (%s): "
                  "this worker leaves the partition alone (no events applied, no offsets "
                  "committed) until a release that reads it runs; downgrading needs a reset "
                  "of the state (delete the changelog topic and the consumer group's offsets)",
                  partition, self.topic, exc)

    def forget(self, partitions: set[int]) -> None:
        """Revoked partitions: their next owner reads their changelog from the start."""
        self.reader.forget(partitions)
        self.unreadable -= partitions
        self.worker.pipeline.metrics.unreadable_state.set(len(self.unreadable))
        self.corrections = [c for c in self.corrections if c[0] not in partitions]

    # -- flushes --------------------------------------------------------------------------

    async def flush(self) -> None:
        """Make every change durable: units (and the outbox) acked, then the markers."""
        async with self.lock:
            started = time.monotonic()
            units, marks = self._collect()
            try:
                await self.worker.deadline.bounded(self._send_all(units, marks),
                                                   FLUSH_TIMEOUT_S)
            except BaseException:  # failed or cancelled: the next flush sends them again,
                self.corrections[:0] = units  # before any newer value of the same units
                raise
            self.worker.pipeline.offsets.flushed(marks)
            self.flushed_at = time.monotonic()
        if self.flushed_at - started > self.worker.settings.commit_interval_s:
            log.info("flushed %s state units in %.1f s", f"{len(units):,}",
                     self.flushed_at - started)
        memory.trim()  # at most every 30 s: flushed payloads leave freed heap behind

    def _collect(self) -> tuple[list[Unit], dict[int, dict[str, int]]]:
        """Dirty units and source offsets, taken together between two events."""
        pipeline = self.worker.pipeline
        units, self.corrections = self.corrections, []
        units += dirty_units(pipeline.engine.reps, pipeline.rep_partition,
                             pipeline.engine.config.dedupe_horizon_us)
        marks = pipeline.offsets.to_mark({unit[0] for unit in units}, self.unreadable)
        return units, marks

    async def _send_all(self, units: list[Unit], marks: dict[int, dict[str, int]]) -> None:
        app, offsets = self.worker.app, self.worker.pipeline.offsets
        futures = await send_batches(app, self.topic, units)
        futures += self.worker.outbox.take_pending()
        await asyncio.gather(*futures)
        markers = [(p, MARKER, marker_value(o, offsets.forwarded.get(p, {})), HEADERS)
                   for p, o in marks.items()]
        await asyncio.gather(*await send_batches(app, self.topic, markers))
