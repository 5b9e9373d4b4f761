"""Publishing events to their typed topics with kafka-python (demo, tests, bench)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable

import orjson
from kafka import KafkaProducer

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
                print(f"generate: {count:,} events sent "
                      f"({count / (time.monotonic() - started):,.0f}/s)", file=sys.stderr)
        producer.flush()
    finally:
        producer.close()
    return count
