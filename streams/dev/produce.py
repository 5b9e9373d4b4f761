"""Publishing events to their typed topics, keyed by rep_id, with kafka-python."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator

import orjson
from kafka import KafkaProducer

from streams.events import Rejected, parse_event
from streams.settings import Settings


def new_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(linger_ms=10, batch_size=256 * 1024, acks="all",
                         **settings.client_options())


def topic_for(settings: Settings, value: bytes) -> str:
    """The typed topic of an encoded event; undecodable input goes to the touch topic."""
    try:
        kind = orjson.loads(value).get("type")
    except (orjson.JSONDecodeError, AttributeError):
        kind = None
    return settings.topics.get(kind, settings.topics["touch"])  # type: ignore[arg-type]


def publish(settings: Settings, messages: Iterable[tuple[str, bytes]], rate: float = 0,
            progress_every: int = 0, topic: str | None = None) -> int:
    """Send (rep_id, value) pairs to their typed topics (or `topic`), paced to `rate` per
    second when set; returns the count."""
    producer = new_producer(settings)
    started = time.monotonic()
    count = 0
    try:
        for rep_id, value in messages:
            producer.send(topic or topic_for(settings, value), key=rep_id.encode(), value=value)
            count += 1
            if rate and (ahead := count / rate - (time.monotonic() - started)) > 0:
                time.sleep(ahead)
            if progress_every and count % progress_every == 0:
                print(f"{count:,} events sent "
                      f"({count / (time.monotonic() - started):,.0f}/s)", file=sys.stderr)
        producer.flush()
    finally:
        producer.close()
    return count


def valid_lines(lines: Iterable[bytes], rejected: Counter[str]) -> Iterator[tuple[str, bytes]]:
    """(rep_id, line) of each valid event of a JSON Lines file; the others are counted by
    reason in `rejected` (a producer should not send what the worker would dead-letter)."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            yield parse_event(line).rep_id, line
        except Rejected as exc:
            rejected[exc.reason] += 1
