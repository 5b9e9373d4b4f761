"""What the worker does with one Kafka message, free of Faust: decode, validate, cap,
hand to the engine, count; a rejection comes back as a dead letter to send, and a valid
message on another partition than its rep's as a record to re-key (Forward)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafka.partitioner.default import murmur2

from streams.engine import APPLIED, DUPLICATE, LATE, Engine, Snapshot, take_snapshot, tune_gc
from streams.events import Event, Rejected, parse_event
from streams.exporter import PipelineMetrics, render
from streams.settings import Settings

log = logging.getLogger(__name__)
REP_LIMIT = "rep_limit"  # reasons beside those of the event contract (events.RECORD_REASONS)
TOMBSTONE = "tombstone"
Headers = Sequence[tuple[str, bytes]]
# topic, partition, offset, key, value, headers
Message = tuple[str, int, int, bytes | None, bytes | None, Headers]


@dataclass(frozen=True)
class DeadLetter:
    """A rejected message: the original bytes and why, with where it came from."""

    key: bytes | None
    value: bytes
    reason: str
    error: str
    topic: str
    partition: int
    offset: int
    original_size: int = -1  # set when `value` is only the head of a larger message

    def headers(self) -> list[tuple[str, bytes]]:
        headers = [("reason", self.reason.encode()), ("error", self.error.encode()),
                   *origin_headers(self.topic, self.partition, self.offset)]
        if self.original_size >= 0:  # the whole message stays in the source topic
            headers += [("truncated", b"true"), ("original_size", str(self.original_size).encode())]
        return headers


@dataclass(frozen=True)
class Forward:
    """A valid message on another partition than its rep's home partition (sent with
    another key, or none): re-keyed to the repartition topic, where the rep's state is."""

    rep_id: str
    partition: int  # the rep's home partition
    value: bytes
    headers: list[tuple[str, bytes]]  # where it came from: read back to skip re-sends


def origin_headers(topic: str, partition: int, offset: int) -> list[tuple[str, bytes]]:
    return [("source_topic", topic.encode()), ("source_partition", str(partition).encode()),
            ("source_offset", str(offset).encode())]


def origin(headers: Headers) -> tuple[str, int, int] | None:
    """(topic, partition, offset) a re-keyed record came from."""
    found = {name: value for name, value in headers if name.startswith("source_")}
    try:
        return (found["source_topic"].decode(), int(found["source_partition"]),
                int(found["source_offset"]))
    except (KeyError, ValueError, UnicodeDecodeError):
        return None


class Pipeline:
    """Engine, metrics and the rep -> partition map of one worker."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        tune_gc()
        self.engine = Engine(settings.engine)
        self.metrics = PipelineMetrics()
        self.clock = clock
        self.topic_types = {name: kind for kind, name in settings.topics.items()}
        self.repartition_topic = settings.repartition_topic
        self.homes: dict[str, int] = {}  # rep -> its home partition (the Kafka partitioner's)
        # per home partition, per source "topic/partition": the last source offset applied
        # from the repartition topic (a crash re-sends what follows its last flush)
        self.forwarded: dict[int, dict[str, int]] = {}
        self.rep_partition: dict[str, int] = {}
        # next offset to apply per source partition; lower ones are already in the state
        self.positions: dict[tuple[str, int], int] = {}
        # partitions to read again from their position: a message came past a hole
        self.rewinds: dict[tuple[str, int], int] = {}
        # per partition, batches that cannot be decoded: first offset -> offset after them
        self.undecodable: dict[tuple[str, int], dict[int, int]] = {}
        self._over_cap_logged = False
        for team, target in settings.engine.team_targets.items():
            self.metrics.targets.labels(team).set(target)

    def handle(self, topic: str, partition: int, offset: int, key: bytes | None,
               value: bytes | None, headers: Headers = ()) -> DeadLetter | Forward | None:
        """Apply one message; return the record to send when it is rejected or re-keyed."""
        sends = self.handle_many([(topic, partition, offset, key, value, headers)])
        return sends[0] if sends else None

    def handle_many(self, messages: list[Message]) -> list[DeadLetter | Forward]:
        """Apply messages in order; returns the dead letters and re-keyed records to send.
        The engine takes the batch rep by rep (Engine.take_many), with the results of one
        by one."""
        now = self.clock()
        now_us = int(now * 1e6)
        self.metrics.last_processed.set(now)
        sends: list[DeadLetter | Forward] = []
        events: list[Event] = []
        partitions: list[int] = []
        new_reps: set[str] = set()
        for message in messages:
            screened = self._screen(message, now_us, new_reps)
            if isinstance(screened, Event):
                events.append(screened)
                partitions.append(message[1])
            elif screened is not None:
                sends.append(screened)
                if isinstance(screened, Forward):
                    self.metrics.rekeyed.inc()
        outcomes = self.engine.take_many(events, now_us)
        tally: Counter[tuple[str, str]] = Counter()
        for event, partition, outcome in zip(events, partitions, outcomes, strict=True):
            if outcome == APPLIED:
                self.rep_partition[event.rep_id] = partition
                self.metrics.delay.observe(max(0.0, now - event.ts / 1e6))
            tally[outcome, event.type] += 1
        counters = {APPLIED: self.metrics.processed, DUPLICATE: self.metrics.duplicates,
                    LATE: self.metrics.late}
        for (outcome, kind), count in tally.items():  # one labelled update per type
            counters[outcome].labels(kind).inc(count)
        if self.engine.newest_applied is not None:
            self.metrics.last_event.set(self.engine.newest_applied / 1e6)
        return sends

    def home(self, rep_id: str) -> int:
        """The partition a message keyed by `rep_id` lands on (Kafka's default partitioner:
        murmur2 of the key); every topic of a rep's state uses it."""
        partition = self.homes.get(rep_id)
        if partition is None:
            if len(self.homes) > 2 * self.settings.max_reps:  # a flood of made-up reps
                self.homes.clear()
            key = rep_id.encode()
            partition = self.homes[rep_id] = (murmur2(key) & 0x7FFFFFFF) % self.partitions
        return partition

    @property
    def partitions(self) -> int:
        return self.settings.partitions

    def _screen(self, message: Message, now_us: int, new_reps: set[str]
                ) -> Event | DeadLetter | Forward | None:
        """The valid event of a message, its dead letter, its re-keyed record, or None
        (already applied before a restart)."""
        topic, partition, offset, key, value, headers = message
        tp = (topic, partition)
        expected = self.positions.get(tp)
        if expected is not None and offset > expected and tp in self.undecodable:
            expected = self._step_over_undecodable(tp)
        if expected is not None and offset != expected:
            if offset < expected:
                self.metrics.redelivered.inc()  # consumed again after a restart: state has it
            elif tp not in self.rewinds:  # never past a hole: the worker reads it again
                log.debug("Kafka delivered %s[%d]@%d while @%d is next", topic, partition,
                          offset, expected)
                self.rewinds[tp] = expected
            return None
        self.positions[tp] = offset + 1
        source = topic
        if topic == self.repartition_topic:
            came_from = origin(headers)
            if came_from is not None:
                source = came_from[0]
                if self._sent_again(partition, came_from):
                    self.metrics.redelivered.inc()
                    return None
        raw = value or b""
        try:
            if value is None:
                raise Rejected(TOMBSTONE, "the record has no value (a tombstone)")
            event = parse_event(raw, self.topic_types.get(source), now_us,
                                self.settings.engine.max_skew_us)
            if topic != self.repartition_topic and (home := self.home(event.rep_id)) != partition:
                return Forward(event.rep_id, home, raw, origin_headers(topic, partition, offset))
            self._check_cap(event.rep_id, new_reps)
        except Rejected as exc:
            self.metrics.rejected.labels(exc.reason, topic).inc()
            limit = self.settings.dead_letter_max_bytes
            if len(raw) > limit:  # a dead-letter topic takes ~1 MB by default, like the source
                return DeadLetter(key, raw[:limit], exc.reason, exc.message, topic, partition,
                                  offset, len(raw))
            return DeadLetter(key, raw, exc.reason, exc.message, topic, partition, offset)
        if event.rep_id not in self.engine.reps:
            new_reps.add(event.rep_id)
        return event

    def _sent_again(self, partition: int, came_from: tuple[str, int, int]) -> bool:
        """True for a re-keyed record whose source message was applied already: a worker
        that crashed before its flush re-keys what followed the flush again."""
        topic, source_partition, offset = came_from
        applied = self.forwarded.setdefault(partition, {})
        name = f"{topic}/{source_partition}"
        if offset <= applied.get(name, -1):
            return True
        applied[name] = offset
        return False

    def _check_cap(self, rep_id: str, new_reps: set[str]) -> None:
        reps = self.engine.reps
        if rep_id in reps or rep_id in new_reps or len(reps) + len(new_reps) < \
                self.settings.max_reps:
            return
        self._log_over_cap()
        raise Rejected(REP_LIMIT, f"rep cap of {self.settings.max_reps} reached "
                                  "(SALESPULSE_MAX_REPS); rep not tracked")

    def _log_over_cap(self) -> None:
        if not self._over_cap_logged:  # once, not per event: the counter shows the rate
            log.error("rep cap of %d reached: events of new reps go to the dead-letter topic "
                      "with reason %s; raise SALESPULSE_MAX_REPS or add workers",
                      self.settings.max_reps, REP_LIMIT)
            self._over_cap_logged = True

    def snapshot(self, as_of_us: int | None = None) -> Snapshot:
        as_of = as_of_us if as_of_us is not None else int(self.clock() * 1e6)
        return take_snapshot(self.engine, as_of)

    def scrape(self, as_of_us: int | None = None,
               highwaters: dict[tuple[str, int], int] | None = None) -> bytes:
        """The /metrics body as of now (or an explicit later instant)."""
        for (topic, partition), end in (highwaters or {}).items():
            self.metrics.lag.labels(topic, str(partition)).set(self.lag((topic, partition), end))
        self.metrics.reps.set(len(self.engine.reps))
        return render(self.snapshot(as_of_us), self.metrics)

    def lag(self, tp: tuple[str, int], end: int) -> int:
        """Messages of a source partition on the broker (up to `end`) not applied yet."""
        return max(0, end - self.positions.get(tp, 0))

    def skip_hole(self, topic: str, partition: int, first: int) -> None:
        """Offsets from the position up to `first` hold no records (transaction markers,
        or deleted by retention): go on from `first`."""
        log.info("%s[%d] has no records at offsets %d..%d (transaction markers, or "
                 "deleted by retention): going on from @%d", topic, partition,
                 self.positions[(topic, partition)], first - 1, first)
        self.positions[(topic, partition)] = first

    def skip_undecodable(self, topic: str, partition: int, first: int, end: int) -> None:
        """Offsets [first, end) are a batch that cannot be decoded: go on after it."""
        self.undecodable.setdefault((topic, partition), {})[first] = end
        self._step_over_undecodable((topic, partition))

    def _step_over_undecodable(self, tp: tuple[str, int]) -> int | None:
        skipped = self.undecodable[tp]
        while (position := self.positions.get(tp)) in skipped:
            self.positions[tp] = skipped.pop(position)  # type: ignore[arg-type]
        return self.positions.get(tp)

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget reps of revoked partitions, so no two workers export the same rep."""
        for rep_id in [r for r, p in self.rep_partition.items() if p in partitions]:
            del self.rep_partition[rep_id]
            self.engine.reps.pop(rep_id, None)
        for tp in [tp for tp in self.positions if tp[1] in partitions]:
            del self.positions[tp]
            self.rewinds.pop(tp, None)
            self.undecodable.pop(tp, None)
        for partition in partitions:
            self.forwarded.pop(partition, None)
        self.metrics.lag.clear()  # refilled for the partitions still held at the next scrape
