"""Source messages applied in batches by one task, apart from Faust's fetcher."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from faust.types import TP

from streams.worker.changelog import first_offset
from streams.worker.internals import fetcher
from streams.worker.internals.consumer import mark_applied

if TYPE_CHECKING:
    from streams.worker.context import Worker

log = logging.getLogger(__name__)
# Source messages are applied once BATCH_MAX wait, or BATCH_WITHIN_S after the first, at
# most APPLY_MAX in one synchronous call (~0.4 s: /metrics answers between two).
BATCH_MAX, BATCH_WITHIN_S, APPLY_MAX = 2000, 0.05, 25_000


class SourceBatches:
    """The consumer's fetch loop hands each fetch's source messages here (consumer.py), and
    one task applies what waits in one synchronous call (rep by rep in the engine) once
    BATCH_MAX messages wait or BATCH_WITHIN_S after the first. It runs apart from the
    fetch loop, which must not wait on a slow batch (a batch half sent as dead letters
    otherwise). Commits follow the flush markers, so acks are informational."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.waiting: list[Any] = []
        self.ready = asyncio.Event()  # something waits
        self.room = asyncio.Event()  # the fetcher may hand over more
        self.room.set()

    async def add_many(self, messages: list[Any]) -> None:
        """A fetch's messages at once. Not tracked as unacked: a rebalance would wait for
        them while it holds up the processing that acks them."""
        was_empty = not self.waiting
        self.waiting += messages
        if was_empty or len(self.waiting) >= BATCH_MAX:
            self.ready.set()
        if len(self.waiting) >= 4 * BATCH_MAX:  # back-pressure on the fetcher
            self.room.clear()
            await self.room.wait()

    async def run(self) -> None:
        while True:
            await self.ready.wait()
            if len(self.waiting) < BATCH_MAX:
                await asyncio.sleep(BATCH_WITHIN_S)  # let a batch gather
            self.ready.clear()
            await self.apply()
            if self.waiting:
                self.ready.set()
                await asyncio.sleep(0)  # let /metrics and Faust's timers in
            if len(self.waiting) < APPLY_MAX:  # the next fetch comes while this is applied
                self.room.set()

    async def apply(self) -> None:
        worker = self.worker
        consumer = worker.app.consumer
        await self._lock_state_between_rebalances()
        try:  # a flush sees a whole batch, its dead letters included
            for report in fetcher.take_reports():
                await worker.outbox.undecodable(report)
            assigned = consumer.assignment()  # a revoked partition's next owner reads it
            unreadable = worker.state.unreadable
            taken, self.waiting = self.waiting[:APPLY_MAX], self.waiting[APPLY_MAX:]
            batch = [m for m in taken if m.tp in assigned and m.partition not in unreadable]
            outgoing = worker.pipeline.handle_many(
                [(m.topic, m.partition, m.offset, m.key, m.value, m.headers or ())
                 for m in batch])
            # before the first await: sending a slice's dead letters can take seconds, and
            # a partition whose messages still wait here is being processed, not stalled
            mark_applied(worker.app, {message.tp for message in (*batch, *self.waiting)})
            await worker.outbox.send(outgoing)
        finally:
            worker.state.lock.release()
        for message in batch:
            consumer.ack(message)
        if worker.pipeline.offsets.rewinds:
            await self.rewind()

    async def _lock_state_between_rebalances(self) -> None:
        """Take the state lock while no rebalance is under way. One that starts while we
        wait for the lock (its hand-over flush holds it) goes first: the flush must be the
        last state of the partitions it hands over, and the assignment a batch is filtered
        by is only settled once the flow resumes."""
        app, lock = self.worker.app, self.worker.state.lock
        while True:
            await app.flow_control.acquire()
            await lock.acquire()
            if app.flow_control.is_active():
                return
            lock.release()

    async def rewind(self) -> None:
        """Read partitions again from their position, where a message came past a hole.
        Faust's fetch loop drops the rest of a fetch when a rebalance stops the flow, and
        where no offset was committed yet nothing brings those messages back (seen: 2 of
        a kept partition lost); the hole can also be real (transaction markers)."""
        worker = self.worker
        offsets, consumer = worker.pipeline.offsets, worker.app.consumer
        for (topic, partition), position in offsets.take_rewinds().items():
            tp = TP(topic, partition)
            if tp not in consumer.assignment() or offsets.positions.get(tp) != position:
                continue
            first = await first_offset(worker.settings.client_options(), topic, partition,
                                       position)
            if first is not None and first > position:
                offsets.skip_hole(tp, first)
            else:
                log.warning("%s[%d]: messages from @%d did not reach the worker: reading "
                            "them again", topic, partition, position)
            self.waiting = [m for m in self.waiting if m.tp != tp]  # fetched again
            await consumer.seek(tp, offsets.positions[tp])

    def drop(self, partitions: set[int]) -> None:
        """Forget unapplied messages of revoked partitions (their next owner reads them)."""
        self.waiting = [m for m in self.waiting if m.partition not in partitions]
