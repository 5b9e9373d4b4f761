"""The Faust app: topics -> pipeline -> engine, state in a changelog-backed table,
/metrics on the Faust web server. Run `salespulse worker` or `faust -A streams.app worker`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterator, Sequence
from operator import attrgetter
from typing import Any

import faust
import orjson
from faust.tables.table import Table
from faust.transport.conductor import Conductor
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, ensure_aiokafka_TP
from faust.transport.drivers.aiokafka import Consumer as KafkaConsumer
from faust.transport.drivers.aiokafka import Producer as KafkaProducer
from faust.types import TP
from faust.web import Request, Response, View
from mode.types.signals import BaseSignalT

from streams import batches as record_batches
from streams import memory, restore
from streams.engine import gc_paused
from streams.engine.codec import (
    FORMAT,
    HEADERS,
    NewerFormat,
    dirty_entries,
    load_reps,
    record_format,
    to_json,
)
from streams.events import parse_timestamp
from streams.exporter import CONTENT_TYPE
from streams.pipeline import DeadLetter, Forward, Pipeline
from streams.produce import kafka_client_options
from streams.settings import KafkaSecurity, Settings

log = logging.getLogger(__name__)


class _CommitOverlapIsExpected(logging.Filter):
    """mode warns whenever a tick of its commit timer (our flush) outlasts the commit
    interval: the flush of a backlog's state takes seconds by design (see
    DurableConsumer._can_wait), and StateSync.flush logs its own duration."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (str(record.msg).startswith("Timer %s is overlapping")
                    and isinstance(record.args, tuple) and record.args[:1] == ("commit",))


logging.getLogger("mode.timers").addFilter(_CommitOverlapIsExpected())
record_batches.install()
settings = Settings.from_env()
pipeline = Pipeline(settings)
# Every topic of events: the typed topics and the re-keyed one (messages that came with
# another key than rep_id), all partitioned alike: partition p holds the reps of state p.
SOURCE_TOPICS = frozenset([*settings.topics.values(), settings.repartition_topic])
KAFKA_CLIENT = kafka_client_options(settings)  # for the plain consumers of restore.py
FLUSH_TIMEOUT_S = 60.0
# Source messages are applied BATCH_MAX at a time, or BATCH_WITHIN_S after the first waits.
BATCH_MAX, BATCH_WITHIN_S = 2000, 0.05
BACKLOG_MESSAGES = 10 * BATCH_MAX  # more than this waiting: flush less often (see _can_wait)
# Once the worker stops (SIGTERM), a flush or an offset commit gets this long: a broker that
# is down must not hold the worker up. Nothing is lost: the next start resumes from the
# last marker (offsets are never committed past one).
STOP_TIMEOUT_S = 5.0
MARKER = b"\x00flushed"  # key of a flush marker; state unit keys are JSON arrays
KEY, VALUE, HEADERS_OF = attrgetter("key"), attrgetter("value"), attrgetter("headers")
CURRENT_HEADERS = tuple(HEADERS)  # as a consumer hands them back
PAST_ANY_END = 2**62  # the changelog offset Faust's own recovery would start from


def _credentials(security: KafkaSecurity) -> Any:
    if security.protocol.startswith("SASL"):
        return faust.SASLCredentials(username=security.username, password=security.password,
                                     mechanism=security.sasl_mechanism,
                                     ssl_context=security.ssl_context())
    if security.protocol == "SSL":
        return faust.SSLCredentials(security.ssl_context())
    return None


class KpiTable(Table):
    """The changelog of engine state units; the engine, not this dict, holds the state.

    Faust's recovery reads nothing (the offset it resumes from is past any end): once it
    is done, `on_recovery_completed` reads the changelog with a plain consumer, an order
    of magnitude faster than Faust's per-record path."""

    def persisted_offset(self, tp: TP) -> int | None:
        return PAST_ANY_END

    def apply_changelog_batch(self, batch: Any) -> None:
        for event in batch:  # not reached (see above)
            state.read([event.message])

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP],
                           generation_id: int = 0) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        lost = {tp.partition for tp in revoked if tp.topic in SOURCE_TOPICS}
        if lost:
            log.info("partitions %s revoked: dropping their reps", sorted(lost))
            pipeline.drop_partitions(lost)
            batches.drop(lost)
            state.forget(lost)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        generation = app.consumer_generation_id
        partitions = {tp.partition for tp in active_tps}
        try:
            if await state.restore(partitions,
                                   moved=lambda: app.consumer_generation_id != generation):
                # Before Faust seeks the source partitions to the committed offsets.
                await app.consumer.commit_markers()  # type: ignore[attr-defined]
        except Exception:
            log.exception("rebuilding engine state from the changelog failed")
            raise


class StateSync:
    """Moves engine state to and from the changelog: dirty units out, recovered units in.

    A flush is all-or-nothing per changelog partition: its units are sent and acked
    first, then one marker record per partition that names the source offsets the
    state includes. Recovery keeps only units followed by a marker, so a crash in the
    middle of a flush never leaves half an event's effect (say its counts without its
    dedupe memory), and messages below the marker's offsets are skipped when Kafka
    delivers them again: nothing lost, nothing counted twice, whatever the dedupe horizon.
    """

    def __init__(self) -> None:
        self.loaded: set[int] = set()
        self.sent: list[Any] = []  # delivery futures of dead letters and re-keyed records
        self.lock = asyncio.Lock()  # one flush at a time: markers follow their own units
        self.flushed_at = 0.0  # time.monotonic() of the last flush that reached the broker
        self.marked: dict[int, dict[str, int]] = {}  # offsets in each partition's last marker
        self.committed: dict[TP, int] = {}  # source offsets we last committed
        self.corrections: list[tuple[int, bytes, bytes | None]] = []
        # recovery: per partition, units up to the last marker, units after it, its offsets
        self.flushed: dict[int, dict[bytes, bytes | None]] = defaultdict(dict)
        self.unfinished: dict[int, dict[bytes, bytes | None]] = defaultdict(dict)
        self.offsets: dict[int, dict[str, Any]] = {}  # the last marker read per partition
        self.formats: dict[int, dict[bytes, int]] = defaultdict(dict)  # keys not in FORMAT
        self.unreadable: set[int] = set()  # partitions a newer release wrote

    async def restore(self, partitions: set[int], moved: Callable[[], bool]) -> bool:
        """Rebuild the reps of the partitions not loaded yet from their changelog, read
        from the start one partition at a time (so only one partition's raw records are
        in memory at once); False when the read stopped: the worker stops, or `moved()`
        says the partitions moved meanwhile (the next recovery reads them again)."""
        fresh = partitions - self.loaded
        for partition in fresh:  # what an interrupted read left
            self.flushed.pop(partition, None)
            self.unfinished.pop(partition, None)
            self.offsets.pop(partition, None)
        counts = [0, 0]  # reps recovered, units of an unfinished flush discarded

        def rebuild(partition: int) -> None:
            if moved() or partition not in _assigned_partitions():
                raise restore.Stopped("partitions moved")
            reps, discarded = self._rebuild(partition)
            counts[0] += reps
            counts[1] += discarded

        started = time.monotonic()
        try:
            with gc_paused():  # millions of acyclic objects: collections would rescan them
                count = await restore.read_partitions(
                    KAFKA_CLIENT, table.changelog_topic.get_topic_name(),
                    fresh, self.read, lambda: app.should_stop, rebuild)
        except restore.Stopped as exc:
            log.info("reading the changelog stopped (%s): the next recovery reads again", exc)
            return False
        self._loaded(fresh)
        if fresh:
            log.info("recovered %d reps of partitions %s from %s changelog records in %.1f s "
                     "(%d units of an unfinished flush discarded)", counts[0], sorted(fresh),
                     f"{count:,}", time.monotonic() - started, counts[1])
            memory.trim(every_s=0)  # the changelog payloads just read are garbage now
        if self.corrections:
            await self.flush()
        return True

    def read(self, records: Sequence[Any]) -> None:
        """Sort records of one changelog partition, in log order, into flushed / unfinished."""
        if not records or records[0].partition in self.loaded:  # none, or ours read again
            return
        partition = records[0].partition
        unfinished = self.unfinished[partition]
        keys, values = list(map(KEY, records)), list(map(VALUE, records))  # loops in C
        formats = self._note_formats(partition, keys, list(map(HEADERS_OF, records)))
        start = 0
        for at in _indices(keys, MARKER):  # the units before a marker are flushed
            flushed = self.flushed[partition]
            flushed.update(unfinished)  # from earlier batches, then this one's
            unfinished.clear()
            flushed.update(zip(keys[start:at], values[start:at], strict=True))
            self.offsets[partition] = _marker(orjson.loads(values[at]),
                                              formats.get(MARKER, FORMAT))
            start = at + 1
        unfinished.update(zip(keys[start:], values[start:], strict=True))

    def _note_formats(self, partition: int, keys: list[bytes], headers: list[Any]
                      ) -> dict[bytes, int]:
        """Remember the keys whose latest record is not in this release's format."""
        formats = self.formats[partition]
        if headers.count(CURRENT_HEADERS) == len(headers):  # the usual case, checked in C
            if formats:
                for key in keys:
                    formats.pop(key, None)
            return formats
        for key, header in zip(keys, headers, strict=True):
            version = record_format(header)
            if version == FORMAT:
                formats.pop(key, None)
            else:
                formats[key] = version
        return formats

    def forget(self, partitions: set[int]) -> None:
        """Drop revoked partitions, and what a recovery of them had read so far: the next
        owner of a partition reads its changelog from the start."""
        self.loaded -= partitions
        for partition in partitions:
            self.flushed.pop(partition, None)
            self.unfinished.pop(partition, None)
            self.offsets.pop(partition, None)
            self.marked.pop(partition, None)
            self.formats.pop(partition, None)
        self.unreadable -= partitions
        pipeline.metrics.unreadable_state.set(len(self.unreadable))
        self.committed = {tp: o for tp, o in self.committed.items()
                          if tp.partition not in partitions}
        self.corrections = [c for c in self.corrections if c[0] not in partitions]

    def _rebuild(self, partition: int) -> tuple[int, int]:
        """Rebuild one partition's reps from its flushed units: (reps, units discarded)."""
        flushed = self.flushed.pop(partition, {})
        unfinished = self.unfinished.pop(partition, {})
        # An unfinished flush is rewritten with the flushed values before compaction
        # could keep it as the latest value of its keys.
        formats = self.formats.pop(partition, {})
        try:
            if formats.get(MARKER, FORMAT) > FORMAT:
                raise NewerFormat(f"its flush markers are in format {formats[MARKER]}")
            reps = load_reps((k, v, formats.get(k, FORMAT)) for k, v in flushed.items() if v)
        except NewerFormat as exc:
            self._refuse(partition, exc)
            return 0, 0
        # An unfinished flush is rewritten with the flushed values before compaction
        # could keep it as the latest value of its keys.
        self.corrections += [(partition, key, flushed.get(key)) for key in unfinished]
        del flushed  # the raw units, before the next partition's are read
        if formats:
            log.info("partition %d: %d state units of an older format read and upgraded; the "
                     "next flush rewrites them (see streams/engine/upgrade.py)", partition,
                     len(formats))
        pipeline.engine.reps.update(reps)
        for rep_id in reps:
            pipeline.rep_partition[rep_id] = partition
        marker = self.offsets.pop(partition, {"offsets": {}, "forwarded": {}})
        self.marked[partition] = marker["offsets"]
        for topic, offset in marker["offsets"].items():
            pipeline.positions[(topic, partition)] = offset
        pipeline.forwarded[partition] = dict(marker["forwarded"])
        return len(reps), len(unfinished)

    def _refuse(self, partition: int, exc: Exception) -> None:
        """A newer release wrote this partition's state: leave it alone, say so once."""
        self.unreadable.add(partition)
        pipeline.metrics.unreadable_state.set(len(self.unreadable))
        log.error("partition %d of the changelog %s was written by a newer salespulse (%s): "
                  "this worker leaves the partition alone (no events applied, no offsets "
                  "committed) until a release that reads it runs; downgrading needs a reset "
                  "of the state (delete the changelog topic and the consumer group's offsets)",
                  partition, table.changelog_topic.get_topic_name(), exc)

    def _loaded(self, fresh: set[int]) -> None:
        """The engine's clock moves to the newest recovered event."""
        engine = pipeline.engine
        newest = max((rep.max_ts for rep in engine.reps.values()), default=None)
        if newest is not None:
            engine.newest_applied = max(engine.newest_applied or newest, newest)
        self.loaded |= fresh
        for partition in [*self.flushed, *self.unfinished, *self.offsets]:
            if partition not in fresh:  # partitions we already hold: nothing to rebuild
                self.flushed.pop(partition, None)
                self.unfinished.pop(partition, None)
                self.offsets.pop(partition, None)

    async def flush(self) -> None:
        """Make every change durable: units (and dead letters) acked, then the markers."""
        async with self.lock:
            started = time.monotonic()
            units, marks = self._collect()
            try:
                await _bounded(self._send_all(units, marks), FLUSH_TIMEOUT_S)
            except BaseException:  # failed or cancelled: the next flush sends them again,
                self.corrections[:0] = units  # before any newer value of the same units
                raise
            self.marked.update(marks)
            self.flushed_at = time.monotonic()
        if self.flushed_at - started > settings.commit_interval_s:
            log.info("flushed %s state units in %.1f s", f"{len(units):,}",
                     self.flushed_at - started)
        memory.trim()  # at most every 30 s: flushed payloads leave freed heap behind

    def committable(self, assignment: set[TP]) -> dict[TP, int]:
        """Source offsets to commit: those of the last marker (every message below has
        been applied, and its state is on the broker) that moved since our last commit.

        Not Faust's acked offsets (capped at the marker, as before): Faust seeks back to
        the committed offsets mid-stream now and then (seen right after a recovery and at
        the end of partitions), and its acked-offset bookkeeping can then stop returning
        anything for a partition for good (seen in the crash test: one partition's
        committed offset stuck while the worker had applied all of it), so the group's
        lag never reached 0 and every restart re-read the backlog.
        """
        offsets = {}
        for tp in assignment:
            if tp.topic in SOURCE_TOPICS and tp.partition not in self.unreadable:
                offset = self.marked.get(tp.partition, {}).get(tp.topic)
                if offset is not None and offset != self.committed.get(tp):
                    offsets[tp] = offset
        return offsets

    def _collect(self) -> tuple[list[tuple[int, bytes, bytes | None]], dict[int, dict[str, int]]]:
        """Dirty units and source offsets, taken together between two events."""
        units, self.corrections = self.corrections, []
        horizon = pipeline.engine.config.dedupe_horizon_us
        for rep_id, rep in pipeline.engine.reps.items():
            if rep.dirty:
                partition = pipeline.rep_partition[rep_id]
                units += [(partition, key, value) for key, value in dirty_entries(rep, horizon)]
        offsets: dict[int, dict[str, int]] = defaultdict(dict)
        for (topic, partition), offset in pipeline.positions.items():
            if partition not in self.unreadable:  # never a marker in a newer release's log
                offsets[partition][topic] = offset
        marks = {p: o for p, o in offsets.items() if o != self.marked.get(p)}
        for partition, _, _ in units:
            marks.setdefault(partition, offsets.get(partition) or self.marked.get(partition, {}))
        return units, marks

    async def _send_all(self, units: list[tuple[int, bytes, bytes | None]],
                        marks: dict[int, dict[str, int]]) -> None:
        await self._send(units)
        await self._send([(partition, MARKER, to_json(
            {"offsets": offsets, "forwarded": pipeline.forwarded.get(partition, {})}))
            for partition, offsets in marks.items()])

    async def _send(self, records: list[tuple[int, bytes, bytes | None]]) -> None:
        """Hand records to aiokafka as whole batches per partition (in order), not one
        `send` each: a send's future, accumulator call and callback cost ~26 us."""
        producer = app.producer._ensure_producer()  # type: ignore[attr-defined]  # aiokafka's
        topic = table.changelog_topic.get_topic_name()
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)
        for partition, key, value in records:
            by_partition[partition].append((key, value))
        futures = []
        for partition, items in by_partition.items():
            batch = producer.create_batch()
            for key, value in items:
                if batch.append(key=key, value=value, timestamp=None,
                                headers=HEADERS) is None:  # full
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None,
                                 headers=HEADERS)  # always fits alone
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        futures += self.sent
        self.sent = []
        if futures:
            await asyncio.gather(*futures)


def _marker(value: Any, version: int) -> dict[str, Any]:
    """A flush marker's content: format 1 held the source offsets alone."""
    return {"offsets": value, "forwarded": {}} if version == 1 else value  # type: ignore[no-any-return]


def _assigned_partitions() -> set[int]:
    return {tp.partition for tp in app.consumer.assignment() if tp.topic in SOURCE_TOPICS}


def _indices(items: list[Any], value: Any) -> Iterator[int]:
    """Where `value` is in `items`, searched in C."""
    at = -1
    while True:
        try:
            at = items.index(value, at + 1)
        except ValueError:
            return
        yield at


_stop_deadline: list[float] = []  # set once, when the worker starts stopping


async def _bounded(work: Coroutine[Any, Any, Any], timeout: float | None) -> Any:
    """Await `work` for at most `timeout` seconds (None: no limit), and once the worker
    stops, no longer than STOP_TIMEOUT_S after the stop began (one deadline for all the
    waits of a stop); past that, cancel it and raise TimeoutError. With the broker down,
    flushes, offset commits and the producer's own flush would wait for it: even handing
    records to the producer blocks once its buffer is full."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    deadline = float("inf") if timeout is None else loop.time() + timeout
    try:
        while True:
            now = loop.time()
            if app.should_stop:
                if not _stop_deadline:
                    _stop_deadline.append(now + STOP_TIMEOUT_S)
                deadline = min(deadline, _stop_deadline[0])
            if now >= deadline:
                raise TimeoutError("no answer from Kafka in time"
                                   + " (stopping)" * bool(_stop_deadline))
            done, _ = await asyncio.wait({task}, timeout=min(0.5, deadline - now))
            if done:
                return task.result()
    finally:
        task.cancel()  # a no-op once done


class StoppableProducer(KafkaProducer):
    """Faust's producer; once the worker stops, it waits for unacked records (say, with
    the broker down) only until the stop deadline. They are not needed: the next start
    resumes from the last flush marker, whose records were acked."""

    async def flush(self) -> None:
        try:
            await _bounded(super().flush(), None)
        except TimeoutError:
            log.warning("stopping with records Kafka has not acked: the next start "
                        "redoes them")

    async def on_stop(self) -> None:
        try:
            await _bounded(super().on_stop(), None)
        except TimeoutError:
            log.warning("producer stopped with records Kafka has not acked")


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
    """Commits source offsets only after the state they produced is on the broker."""

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

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
        offsets = state.committable(self.assignment())
        if not offsets:
            return
        try:  # the group's offsets, only to report it
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
        if await self._commit_offsets(offsets, start_new_transaction=False):
            state.committed.update(offsets)

    async def perform_seek(self) -> None:
        """After a rebalance: every source partition gets a position (the recovered
        marker's, else the committed offset, else the log start), so the pipeline never
        applies a message that came past a hole (see SourceBatches.rewind)."""
        await super().perform_seek()
        unknown = [tp for tp in self.assignment() if tp.topic in SOURCE_TOPICS
                   and (tp.topic, tp.partition) not in pipeline.positions]
        starts = {tp: offset for tp in unknown
                  if (offset := self._committed_offset.get(tp)) is not None}
        unread = [tp for tp in unknown if tp not in starts]
        if unread:
            starts.update(await self.earliest_offsets(*unread))
        for tp, offset in starts.items():
            pipeline.positions[(tp.topic, tp.partition)] = offset

    def _can_wait(self) -> bool:
        """While a backlog drains, flush every backlog_commit_interval_s, not at every
        commit (Faust's interval, or every 10k messages): a flush rewrites each unit changed
        since the last, and recovery reads every record back (draining 6M events with
        flushes every ~10k wrote 2.7 changelog records per event). Nothing is at risk: a
        crash meanwhile only makes the next start apply that part of the backlog again."""
        if self.app.should_stop or self.app.rebalancing:
            return False
        if time.monotonic() - state.flushed_at >= settings.backlog_commit_interval_s:
            return False
        backlog = sum(pipeline.lag(tp, end) for tp, end in _highwaters().items())
        return backlog > BACKLOG_MESSAGES

    async def _commit_tps(self, tps: Any, start_new_transaction: bool) -> bool:
        # Faust's acked offsets are not what we commit (see StateSync.committable); the
        # call trims its lists of acked offsets.
        self._filter_committable_offsets(tps)
        if self._can_wait():
            return False
        try:
            await state.flush()
        except Exception as exc:  # the flush took the dirty marks: stop, recover from the log
            if self.app.should_stop:  # stopping anyway (SIGTERM), maybe with the broker down
                log.warning("stopping without a final flush (%s): the next start resumes "
                            "from the last one", exc)
                return False
            await self.crash(exc)  # no commit: the events are consumed again after restart
            return False
        offsets = state.committable(self.assignment())
        if not offsets:
            return False
        commit = self._commit_offsets(offsets, start_new_transaction=start_new_transaction)
        try:
            committed = bool(await _bounded(commit, None))
        except TimeoutError:  # only when stopping
            log.warning("stopping without committing offsets: Kafka does not answer")
            return False
        if committed:
            state.committed.update(offsets)
        return committed


class SourceBatches:
    """Source messages skip Faust's per-event path (Event, queue, Stream, processors,
    which cost more than all the KPI work): the conductor hands each message here, and
    one task applies what waits in one synchronous call (rep by rep in the engine) once
    BATCH_MAX messages wait or BATCH_WITHIN_S after the first. It runs apart from the
    fetcher, which cancels a slow callback when it pauses (a batch half sent as dead
    letters otherwise). Commits follow the flush markers, so acks are informational."""

    def __init__(self) -> None:
        self.waiting: list[Any] = []
        self.ready = asyncio.Event()  # something waits
        self.room = asyncio.Event()  # the fetcher may hand over more
        self.room.set()

    async def add(self, message: Any) -> None:
        # Not tracked as unacked: a rebalance would wait for it while it holds up the
        # processing that acks it.
        self.waiting.append(message)
        if len(self.waiting) == 1 or len(self.waiting) >= BATCH_MAX:
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
            self.room.set()

    async def apply(self) -> None:
        await _lock_state_between_rebalances()
        try:  # a flush sees a whole batch, its dead letters included
            for report in record_batches.take_reports():
                await _skip_undecodable(report)
            assigned = app.consumer.assignment()  # a revoked partition's next owner reads it
            batch = [m for m in self.waiting
                     if m.tp in assigned and m.partition not in state.unreadable]
            self.waiting = []
            sends = pipeline.handle_many(
                [(m.topic, m.partition, m.offset, m.key, m.value, m.headers or ())
                 for m in batch])
            for record in sends:
                await _send(record)
        finally:
            state.lock.release()
        for message in batch:
            app.consumer.ack(message)
        # Faust's stall check reads when its streams last took a message of a partition:
        # ours bypass them, and it would log an ERROR per partition every few seconds.
        applied_at = time.monotonic()
        for tp in {message.tp for message in batch}:
            app.monitor.stream_inbound_time[tp] = applied_at
        if pipeline.rewinds:
            await self.rewind()

    async def rewind(self) -> None:
        """Read partitions again from their position, where a message came past a hole.
        Faust's fetch loop drops the rest of a fetch when a rebalance stops the flow, and
        where no offset was committed yet nothing brings those messages back (seen: 2 of
        a kept partition lost); the hole can also be real (transaction markers)."""
        rewinds, pipeline.rewinds = pipeline.rewinds, {}
        for (topic, partition), position in rewinds.items():
            tp = TP(topic, partition)
            if tp not in app.consumer.assignment() or pipeline.positions.get(tp) != position:
                continue
            first = await restore.first_offset(KAFKA_CLIENT, topic, partition, position)
            if first is not None and first > position:
                pipeline.skip_hole(topic, partition, first)
            else:
                log.warning("%s[%d]: messages from @%d did not reach the worker: reading "
                            "them again", topic, partition, position)
            self.waiting = [m for m in self.waiting if m.tp != tp]  # fetched again
            await app.consumer.seek(tp, pipeline.positions[tp])

    def drop(self, partitions: set[int]) -> None:
        """Forget unapplied messages of revoked partitions (their next owner reads them)."""
        self.waiting = [m for m in self.waiting if m.partition not in partitions]


async def _lock_state_between_rebalances() -> None:
    """Take the state lock while no rebalance is under way. One that starts while we wait
    for the lock (its hand-over flush holds it) goes first: the flush must be the last
    state of the partitions it hands over, and the assignment a batch is filtered by is
    only settled once the flow resumes."""
    while True:
        await app.flow_control.acquire()
        await state.lock.acquire()
        if app.flow_control.is_active():
            return
        state.lock.release()


class SourceConductor(Conductor):
    """Faust's conductor, with source topics delivered to SourceBatches."""

    def _build_handler(self, tp: TP, channels: Any) -> Any:
        if tp.topic in SOURCE_TOPICS:
            return batches.add
        return super()._build_handler(tp, channels)


app = faust.App(
    settings.app_id,
    broker=settings.broker_urls,
    broker_credentials=_credentials(settings.security),
    store="memory://",
    datadir=settings.data_dir,
    topic_partitions=settings.partitions,
    table_standby_replicas=0,
    web_bind=settings.web_host,
    web_port=settings.web_port,
    broker_commit_interval=settings.commit_interval_s,
    # Static membership: a restarted worker (same instance id) gets its partitions back at
    # once, without waiting for its old session to time out.
    consumer_group_instance_id=settings.instance_id or None,
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=1.0,
    producer_linger=0.01,
    producer_max_batch_size=512 * 1024,  # changelog flushes go out in whole batches
    # a dead letter carries up to dead_letter_max_bytes of the message, plus headers
    producer_max_request_size=settings.dead_letter_max_bytes + 64 * 1024,
    consumer_auto_offset_reset="earliest",
    recovery_consistency_check=False,  # it rejects PAST_ANY_END (see KpiTable)
    Table=KpiTable,
)
app.transport.Consumer = DurableConsumer  # type: ignore[misc]
app.transport.Producer = StoppableProducer  # type: ignore[misc]
app.transport.Conductor = SourceConductor  # type: ignore[misc]
state = StateSync()
batches = SourceBatches()
# Kafka compacts only closed segments (default: 1 GiB or 7 days), and every start reads
# the whole changelog: roll hourly so it stays near the live state. Records stay
# uncompacted for 10 minutes, time for a restarted worker to rewrite an unfinished flush.
CHANGELOG_CONFIG = {"segment.ms": str(3_600_000), "min.cleanable.dirty.ratio": "0.2",
                    "min.compaction.lag.ms": str(600_000)}
table = app.Table("kpi_state", key_type=bytes, value_type=bytes, partitions=settings.partitions,
                  extra_topic_configs=CHANGELOG_CONFIG)
raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "value_serializer": "raw",
                       "internal": True, "partitions": settings.partitions}
sources = app.topic(*sorted(SOURCE_TOPICS), **raw)
dead_letters = app.topic(settings.dead_letter_topic, **raw)
rekeyed = app.topic(settings.repartition_topic, **raw)


@app.on_partitions_revoked.connect
async def _hand_over(sender: Any, /, *args: Any, signal: BaseSignalT, **kwargs: Any) -> None:
    """Flush before partitions move, so their next owner resumes exactly where we stop."""
    await state.flush()


@app.task
async def _apply_source_batches() -> None:
    await batches.run()  # an error here stops the worker: nothing is skipped quietly


@app.agent(sources)
async def process(stream: Any) -> None:
    """Subscribes the source topics; their messages go to SourceBatches instead."""
    async for _ in stream.noack():
        raise RuntimeError("source messages reach SourceBatches, never this stream")


async def _skip_undecodable(report: record_batches.Undecodable) -> None:
    """One log line, a count and a dead letter for a batch the worker cannot decode."""
    log.error("%s; the dead-letter topic has a record naming them (reason "
              "undecodable_batch); a codec library missing here: install salespulse's "
              "dependencies (cramjam)", report.describe())
    pipeline.metrics.undecodable.labels(report.topic).inc()
    pipeline.skip_undecodable(report.topic, report.partition, report.first, report.end)
    await _send(DeadLetter(None, b"", "undecodable_batch", report.describe(), report.topic,
                           report.partition, report.first))


async def _send(record: DeadLetter | Forward) -> None:
    """A dead letter, or a message re-keyed to its rep's partition; the next flush waits
    for its delivery before its marker, so a crash sends it again, never loses it."""
    if isinstance(record, Forward):
        state.sent.append(await rekeyed.send(
            key=record.rep_id.encode(), value=record.value, partition=record.partition,
            headers=record.headers))
        return
    try:
        future = await dead_letters.send(key=record.key, value=record.value,
                                         headers=record.headers())
        state.sent.append(future)
    except Exception:  # a dead letter that cannot be sent must not stop the worker
        pipeline.metrics.dead_letter_failures.inc()
        log.exception("could not send a dead letter (reason %s) from %s[%d]@%d",
                      record.reason, record.topic, record.partition, record.offset)


@app.page("/metrics")
class Metrics(View):
    """Prometheus scrape; `?as_of=<RFC 3339>` reads a later instant (audits, tests)."""

    async def get(self, request: Request) -> Response:
        as_of = request.query.get("as_of")
        try:
            as_of_us = None if as_of is None else parse_timestamp(as_of)
        except ValueError:
            return self.text(f"as_of must be an RFC 3339 instant, got {as_of!r}\n", status=400)
        body = pipeline.scrape(as_of_us, _highwaters())
        return self.bytes(body, content_type=CONTENT_TYPE)


def _highwaters() -> dict[tuple[str, int], int]:
    try:
        consumer = app.consumer
        ends = {(tp.topic, tp.partition): consumer.highwater(tp)
                for tp in consumer.assignment() if tp.topic in SOURCE_TOPICS}
    except Exception:  # not started or rebalancing: lag is refreshed at the next scrape
        return {}
    # None until the first fetch of a partition returns (e.g. while paused for recovery)
    return {tp: end for tp, end in ends.items() if end is not None}

