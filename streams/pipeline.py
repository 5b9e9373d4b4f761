"""What the worker does with one Kafka message, free of Faust: decode, validate, cap,
hand to the engine, count; a rejection comes back as a dead letter to send."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.engine import APPLIED, DUPLICATE, Engine, Snapshot, take_snapshot, tune_gc
from streams.events import Event, Rejected, _explain, parse_event
from streams.exporter import PipelineMetrics, render
from streams.settings import Settings

log = logging.getLogger(__name__)
REP_LIMIT = "rep_limit"  # a reason beside those of the event contract


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


def _parse(raw: bytes, topic_type: str | None, now_us: int, max_skew_us: int) -> Event:
    try:
        return parse_event(raw, topic_type, now_us, max_skew_us)
    except RecursionError:
        # parse_event's typed decoder raises on nesting deeper than ~900 levels (a bug of
        # streams/events.py) and would crash the agent; its explaining validator (orjson,
        # 1024 levels) decides instead, as parse_event should itself.
        return _explain(raw, topic_type, now_us, max_skew_us)


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
        self._over_cap_logged = False
        for team, target in settings.engine.team_targets.items():
            self.metrics.targets.labels(team).set(target)

    def handle(self, topic: str, partition: int, offset: int, key: bytes | None,
               value: bytes | None) -> DeadLetter | None:
        """Apply one message; return the dead letter to send when it is rejected."""
        now = self.clock()
        self.metrics.last_processed.set(now)
        if offset < self.positions.get((topic, partition), 0):
            self.metrics.redelivered.inc()  # consumed again after a restart: state has it
            return None
        self.positions[(topic, partition)] = offset + 1
        raw = value or b""
        try:
            event = _parse(raw, self.topic_types.get(topic), int(now * 1e6),
                           self.settings.engine.max_skew_us)
            if event.rep_id not in self.engine.reps and len(
                    self.engine.reps) >= self.settings.max_reps:
                self._log_over_cap()
                raise Rejected(REP_LIMIT, f"rep cap of {self.settings.max_reps} reached "
                                          "(SALESPULSE_MAX_REPS); rep not tracked")
        except Rejected as exc:
            self.metrics.rejected.labels(exc.reason, topic).inc()
            limit = self.settings.dead_letter_max_bytes
            if len(raw) > limit:  # a dead-letter topic takes ~1 MB by default, like the source
                return DeadLetter(key, raw[:limit], exc.reason, exc.message, topic, partition,
                                  offset, len(raw))
            return DeadLetter(key, raw, exc.reason, exc.message, topic, partition, offset)
        outcome = self.engine.offer(event, int(now * 1e6))
        if outcome == APPLIED:
            self.rep_partition[event.rep_id] = partition
            self.metrics.processed.labels(event.type).inc()
            self.metrics.delay.observe(max(0.0, now - event.ts / 1e6))
            self.metrics.last_event.set(self.engine.newest_applied / 1e6)  # type: ignore[operator]
        elif outcome == DUPLICATE:
            self.metrics.duplicates.labels(event.type).inc()
        else:
            self.metrics.late.labels(event.type).inc()
        return None

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
            done = self.positions.get((topic, partition), 0)
            self.metrics.lag.labels(topic, str(partition)).set(max(0, end - done))
        self.metrics.reps.set(len(self.engine.reps))
        return render(self.snapshot(as_of_us), self.metrics)

    def drop_partitions(self, partitions: set[int]) -> None:
        """Forget reps of revoked partitions, so no two workers export the same rep."""
        for rep_id in [r for r, p in self.rep_partition.items() if p in partitions]:
            del self.rep_partition[rep_id]
            self.engine.reps.pop(rep_id, None)
        for tp in [tp for tp in self.positions if tp[1] in partitions]:
            del self.positions[tp]
        self.metrics.lag.clear()  # refilled for the partitions still held at the next scrape
