"""Faust's Kafka consumer, committing only offsets whose state is on the broker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, ensure_aiokafka_TP
from faust.transport.drivers.aiokafka import Consumer as KafkaConsumer
from faust.types import TP

if TYPE_CHECKING:
    from streams.worker.context import Worker

log = logging.getLogger(__name__)
BACKLOG_MESSAGES = 20_000  # more than this waiting: flush less often (see _can_wait)


class ConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, able to stop while the broker is down."""

    async def on_thread_stop(self) -> None:
        try:
            await super().on_thread_stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this stop itself is being cancelled
            # aiokafka's Fetcher.close() awaits the fetch requests it has just cancelled
            # (with the broker down, those waiting to retry): the CancelledError would end
            # the thread before it tells the main thread it stopped, and the worker would
            # hang on SIGTERM. Do the rest of AIOKafkaConsumer.stop() it skipped.
            log.info("consumer stopped with fetch requests pending (broker unreachable?)")
            if self._consumer is not None:
                await self._consumer._client.close()


class DurableConsumer(KafkaConsumer):
    """Commits source offsets only after the state they produced is on the broker: those
    of the last flush markers (streams/worker/offsets.py), not Faust's acked offsets,
    whose bookkeeping could stop returning anything for a partition for good after one
    of Faust's mid-stream seeks back to the committed offsets."""

    @property
    def worker(self) -> Worker:
        return self.app.worker  # type: ignore[attr-defined, no-any-return]

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        """Faust's fetch loop, handing each fetch's source messages to SourceBatches in one
        call. Faust's own loop awaits a `wait_first` per message (four tasks and an
        asyncio.wait), which cost more than the KPI work; messages of other topics still
        take its path. Source offsets, holes and rewinds are SourceOffsets' business."""
        sources, batches = self.worker.topics, self.worker.batches
        read_offset = self._read_offset
        stopped = cast(Any, self)._stopped.is_set
        try:
            while not (stopped() or fetcher._stopped.is_set()):
                self.diag.set_flag(CONSUMER_FETCHING)
                fetched: list[Any] = []
                others: list[Any] = []
                await self.sleep(0)
                async for tp, message in self.getmany(timeout=1.0):
                    last = read_offset.get(tp)
                    if last is not None and message.offset < last:
                        continue  # Faust drops what it has read already (after a seek)
                    read_offset[tp] = message.offset
                    (fetched if tp.topic in sources else others).append(message)
                if fetched:
                    await batches.add_many(fetched)
                for message in others:
                    await self.wait_first(self.callback(message), self.suspend_flow.wait())
                if self._commit_every is not None and self._n_acked >= self._commit_every:
                    self._n_acked = 0
                    await self.commit()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def commit_markers(self) -> None:
        """After a recovery: commit the recovered markers' offsets, even those behind the
        group's committed offsets, so that consumption resumes exactly where the recovered
        state ends (Faust seeks to the committed offsets next).

        The group's offset can be ahead: a crash test run lost one reply when a restarted
        worker recovered an older marker of a partition (317) than the one its
        predecessor had written, acked and committed (318) just before it was killed;
        consumption resumed at 318 and the reply at 317 was in neither. Whatever the
        cause, the marker recovered with the state is the one to resume from.
        """
        offsets = self._committable()
        if not offsets:
            return
        await self._report_ahead(offsets)
        if await self._commit_offsets(offsets, start_new_transaction=False):
            self.worker.pipeline.offsets.commit_done(offsets)

    def _committable(self) -> dict[TP, int]:
        """Keyed by the TPs of the assignment (Faust's tuples)."""
        return cast(dict[TP, int], self.worker.committable(self.assignment()))

    async def _report_ahead(self, offsets: dict[Any, int]) -> None:
        try:  # the group's offsets, only to report them
            thread = self._thread
            consumer = thread._ensure_consumer()  # type: ignore[attr-defined]
            ahead = {}
            for tp, offset in offsets.items():
                meta = await thread.call_thread(consumer.committed, ensure_aiokafka_TP(tp))
                if meta is not None and meta > offset:
                    ahead[f"{tp.topic}[{tp.partition}]"] = (meta, offset)
            if ahead:
                log.warning("the group's committed offsets are ahead of the recovered state: "
                            "resuming where the state ends, {partition: (committed, marker)}"
                            " %s", ahead)
        except Exception:
            log.debug("could not read the committed offsets", exc_info=True)

    async def perform_seek(self) -> None:
        """After a rebalance: every source partition gets a position (the recovered
        marker's, else the committed offset, else the log start), so the pipeline never
        applies a message that came past a hole (see SourceBatches.rewind)."""
        await super().perform_seek()
        offsets = self.worker.pipeline.offsets
        unknown = [tp for tp in self.assignment() if tp.topic in self.worker.topics
                   and (tp.topic, tp.partition) not in offsets.positions]
        starts = {tp: offset for tp in unknown
                  if (offset := self._committed_offset.get(tp)) is not None}
        unread = [tp for tp in unknown if tp not in starts]
        if unread:
            starts.update(await self.earliest_offsets(*unread))
        for tp, offset in starts.items():
            offsets.start_at((tp.topic, tp.partition), offset)

    def _can_wait(self) -> bool:
        """While a backlog drains, flush every backlog commit interval, not at every commit
        (Faust's interval, or every 10k messages): a flush rewrites each unit changed since
        the last, and recovery reads every record back (draining 6M events with flushes
        every ~10k wrote 2.7 changelog records per event). Nothing is at risk: a crash
        meanwhile only makes the next start apply that part of the backlog again."""
        worker = self.worker
        if self.app.should_stop or self.app.rebalancing:
            return False
        if time.monotonic() - worker.state.flushed_at >= \
                worker.settings.backlog_commit_interval_s:
            return False
        offsets = worker.pipeline.offsets
        backlog = sum(offsets.lag(tp, end) for tp, end in highwaters(self.app, worker.topics)
                      .items())
        return backlog > BACKLOG_MESSAGES

    async def _commit_tps(self, tps: Any, start_new_transaction: bool) -> bool:
        # Faust's acked offsets are not what we commit; the call trims its lists of them.
        self._filter_committable_offsets(tps)
        if self._can_wait():
            return False
        worker = self.worker
        try:
            await worker.state.flush()
        except Exception as exc:  # the flush took the dirty marks: stop, recover from the log
            if self.app.should_stop:  # stopping anyway (SIGTERM), maybe with the broker down
                log.warning("stopping without a final flush (%s): the next start resumes "
                            "from the last one", exc)
                return False
            await self.crash(exc)  # no commit: the events are consumed again after restart
            return False
        offsets = self._committable()
        if not offsets:
            return False
        commit = self._commit_offsets(offsets, start_new_transaction=start_new_transaction)
        try:
            committed = bool(await worker.deadline.bounded(commit, None))
        except TimeoutError:  # only when stopping
            log.warning("stopping without committing offsets: Kafka does not answer")
            return False
        if committed:
            worker.pipeline.offsets.commit_done(offsets)
        return committed


def highwaters(app: Any, topics: frozenset[str]) -> dict[tuple[str, int], int]:
    """End offsets of the assigned partitions of `topics` the consumer knows of."""
    try:
        consumer = app.consumer
        ends = {(tp.topic, tp.partition): consumer.highwater(tp)
                for tp in consumer.assignment() if tp.topic in topics}
    except Exception:  # not started or rebalancing: lag is refreshed at the next scrape
        return {}
    # None until the first fetch of a partition returns (e.g. while paused for recovery)
    return {tp: end for tp, end in ends.items() if end is not None}


def mark_applied(app: Any, tps: Iterable[TP]) -> None:
    """Faust's stall check reads when its streams last took a message of a partition:
    source messages bypass them, and it would log an ERROR per partition every few
    seconds."""
    applied_at = time.monotonic()
    for tp in tps:
        app.monitor.stream_inbound_time[tp] = applied_at
