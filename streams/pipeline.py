"""What the worker does with one Kafka message, free of Faust: decode, validate, cap,
hand to the engine, count; a rejection comes back as a dead letter to send."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from streams.engine import APPLIED, DUPLICATE, LATE, Engine, Snapshot, take_snapshot, tune_gc
from streams.events import Event, Rejected, parse_event
from streams.exporter import PipelineMetrics, render
from streams.settings import Settings

log = logging.getLogger(__name__)
REP_LIMIT = "rep_limit"  # a reason beside those of the event contract
Message = tuple[str, int, int, bytes | None, bytes | None]  # topic, partition, offset, key, value


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
                   ("source_topic", self.topic.encode()),
                   ("source_partition", str(self.partition).encode()),
                   ("source_offset", str(self.offset).encode())]
        if self.original_size >= 0:  # the whole message stays in the source topic
            headers += [("truncated", b"true"), ("original_size", str(self.original_size).encode())]
        return headers


class Pipeline:
    """Engine, metrics and the rep -> partition map of one worker."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        tune_gc()
        self.engine = Engine(settings.engine)
        self.metrics = PipelineMetrics()
        self.clock = clock
        self.topic_types = {name: kind for kind, name in settings.topics.items()}
        self.rep_partition: dict[str, int] = {}
        # next offset to apply per source partition; lower ones are already in the state
        self.positions: dict[tuple[str, int], int] = {}
        # partitions to read again from their position: a message came past a hole
        self.rewinds: dict[tuple[str, int], int] = {}
        self._over_cap_logged = False
        for team, target in settings.engine.team_targets.items():
            self.metrics.targets.labels(team).set(target)

    def handle(self, topic: str, partition: int, offset: int, key: bytes | None,
               value: bytes | None) -> DeadLetter | None:
        """Apply one message; return the dead letter to send when it is rejected."""
        letters = self.handle_many([(topic, partition, offset, key, value)])
        return letters[0] if letters else None

    def handle_many(self, messages: list[Message]) -> list[DeadLetter]:
        """Apply messages in order; returns the dead letters to send. The engine takes the
        batch rep by rep (Engine.take_many), with the results of one by one."""
        now = self.clock()
        now_us = int(now * 1e6)
        self.metrics.last_processed.set(now)
        letters: list[DeadLetter] = []
        events: list[Event] = []
        partitions: list[int] = []
        new_reps: set[str] = set()
        for message in messages:
            screened = self._screen(message, now_us, new_reps)
            if isinstance(screened, DeadLetter):
                letters.append(screened)
            elif screened is not None:
                events.append(screened)
                partitions.append(message[1])
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
        return letters

    def _screen(self, message: Message, now_us: int, new_reps: set[str]
                ) -> Event | DeadLetter | None:
        """The valid event of a message, its dead letter, or None (already applied before
        a restart)."""
        topic, partition, offset, key, value = message
        tp = (topic, partition)
        expected = self.positions.get(tp)
        if expected is not None and offset != expected:
            if offset < expected:
                self.metrics.redelivered.inc()  # consumed again after a restart: state has it
            elif tp not in self.rewinds:  # never past a hole: the worker reads it again
                log.debug("Kafka delivered %s[%d]@%d while @%d is next", topic, partition,
                          offset, expected)
                self.rewinds[tp] = expected
            return None
        self.positions[tp] = offset + 1
        raw = value or b""
        try:
            event = parse_event(raw, self.topic_types.get(topic), now_us,
                                self.settings.engine.max_skew_us)
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

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget reps of revoked partitions, so no two workers export the same rep."""
        for rep_id in [r for r, p in self.rep_partition.items() if p in partitions]:
            del self.rep_partition[rep_id]
            self.engine.reps.pop(rep_id, None)
        for tp in [tp for tp in self.positions if tp[1] in partitions]:
            del self.positions[tp]
            self.rewinds.pop(tp, None)
        self.metrics.lag.clear()  # refilled for the partitions still held at the next scrape
