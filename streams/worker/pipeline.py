"""What the worker does with one Kafka message, free of Faust: decode, validate, cap,
hand to the engine, count; a rejection comes back as a dead letter to send, and a valid
message on another partition than its rep's as a record to re-key (Forward)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka.partitioner.default import murmur2

from streams.engine import (
    APPLIED,
    DUPLICATE,
    LATE,
    Engine,
    RepState,
    Snapshot,
    rep_totals,
    take_snapshot,
    tune_gc,
)
from streams.events import REASONS, RECORD_REASONS, Event, Rejected, parse_event
from streams.goals import Goals
from streams.settings import Settings
from streams.worker.metrics import PipelineMetrics, render
from streams.worker.offsets import AGAIN, APPLY, SourceOffsets

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
        # Every (reason, topic) counter exists from the start at 0, so the first dead
        # letter is an increase() that the dead-letter alert sees.
        for reason in [*REASONS, *RECORD_REASONS]:
            for topic in settings.topics.values():
                self.metrics.rejected.labels(reason, topic)
        self.clock = clock
        self.topic_types = {name: kind for kind, name in settings.topics.items()}
        self.repartition_topic = settings.repartition_topic
        self.homes: dict[str, int] = {}  # rep -> its home partition (the Kafka partitioner's)
        self.rep_partition: dict[str, int] = {}  # rep -> the state partition it is in
        self.offsets = SourceOffsets()
        self._over_cap_logged = False
        self.goals = Goals(targets=dict(settings.engine.team_targets))
        self.metrics.show_goals(self.goals, self.clock())

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
        verdict = self.offsets.admit((topic, partition), offset)
        if verdict is not APPLY:
            if verdict is AGAIN:
                self.metrics.redelivered.inc()  # consumed again after a restart: state has it
            return None
        source = topic
        if topic == self.repartition_topic:
            came_from = origin(headers)
            if came_from is not None:
                source = came_from[0]
                if self.offsets.sent_again(partition, *came_from):
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
            self.engine.reject(exc.reason)  # the /kpis event counts
            limit = self.settings.dead_letter_max_bytes
            if len(raw) > limit:  # a dead-letter topic takes ~1 MB by default, like the source
                return DeadLetter(key, raw[:limit], exc.reason, exc.message, topic, partition,
                                  offset, len(raw))
            return DeadLetter(key, raw, exc.reason, exc.message, topic, partition, offset)
        if event.rep_id not in self.engine.reps:
            new_reps.add(event.rep_id)
        return event

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

    def use_goals(self, goals: Goals) -> None:
        """Goals read from the goals file (at start, or reloaded): exported from now on."""
        self.goals = goals
        self.metrics.show_goals(goals, self.clock())

    def as_of(self, as_of_us: int | None) -> int:
        """An explicit instant, else now (microseconds)."""
        return as_of_us if as_of_us is not None else int(self.clock() * 1e6)

    def snapshot(self, as_of_us: int | None = None) -> Snapshot:
        as_of = self.as_of(as_of_us)
        return take_snapshot(self.engine, as_of, self.goals.targets, self.goals.quotas)

    def scrape(self, as_of_us: int | None = None,
               highwaters: dict[tuple[str, int], int] | None = None) -> bytes:
        """The /metrics body as of now (or an explicit later instant)."""
        for (topic, partition), end in (highwaters or {}).items():
            lag = self.offsets.lag((topic, partition), end)
            self.metrics.lag.labels(topic, str(partition)).set(lag)
        self.metrics.reps.set(len(self.engine.reps))
        as_of = self.as_of(as_of_us)
        settings = self.settings
        return render(as_of, rep_totals(self.engine, as_of, settings.export_windows),
                      self.metrics, settings.export_measures)

    def adopt(self, partition: int, reps: dict[str, RepState], marker: dict[str, Any]
              ) -> None:
        """Take the reps of a state partition rebuilt from the changelog, and resume its
        source partitions where the state's marker says."""
        self.engine.reps.update(reps)
        for rep_id in reps:
            self.rep_partition[rep_id] = partition
        self.offsets.recovered(partition, marker)
        newest = max((rep.max_ts for rep in reps.values()), default=None)
        engine = self.engine
        if newest is not None:  # the engine's clock moves to the newest recovered event
            engine.newest_applied = max(engine.newest_applied or newest, newest)

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget reps of revoked partitions, so no two workers export the same rep."""
        for rep_id in [r for r, p in self.rep_partition.items() if p in partitions]:
            del self.rep_partition[rep_id]
            self.engine.reps.pop(rep_id, None)
        self.offsets.drop(partitions)
        self.metrics.lag.clear()  # refilled for the partitions still held at the next scrape
