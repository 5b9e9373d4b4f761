"""The bench's event sets: realistic generated traffic, produced once to the typed topics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import Producer

from bench.common import say
from streams.dev.generator import Generator, spaced, stream
from streams.dev.localkafka import create_topics
from streams.dev.produce import topic_for
from streams.settings import Settings
from tests.support.worker import topic_env

DAY_US = 86_400_000_000
BAD_RATIO = DUP_RATIO = 0.01  # the defaults of `salespulse generate`


def events(count: int, reps: int, teams: int, days: float, seed: int = 7,
           end_us: int | None = None) -> Iterator[tuple[str, bytes]]:
    """`count` (rep_id, JSON) messages spread over the `days` before `end_us` (default: now)."""
    end = end_us if end_us is not None else time.time_ns() // 1000
    span = int(days * DAY_US)
    # spaced() ends near start + count * step; one hour of margin keeps it in the past.
    start = end - span - 3_600_000_000
    gen = Generator(reps=reps, teams=teams, seed=seed)
    return stream(gen, spaced(start, max(1, span // count), count, seed), BAD_RATIO, DUP_RATIO)


def settings_for(bootstrap: str, prefix: str) -> Settings:
    return Settings.from_env({**topic_env(prefix), "KAFKA_BOOTSTRAP_SERVERS": bootstrap})


def source_topics(prefix: str) -> list[str]:
    """The five typed topics of a bench world, in a fixed order."""
    env = topic_env(prefix)
    return [v for k, v in env.items()
            if k not in ("SALESPULSE_TOPIC_DEADLETTER", "SALESPULSE_TOPIC_REKEYED")]


def merged_topic(prefix: str) -> str:
    """One topic holding a copy of all five, in the same order (for the Quix Streams peer)."""
    return f"{prefix}.sales.all"


def produce(bootstrap: str, prefix: str, count: int, reps: int, teams: int, days: float,
            partitions: int, merged: bool = False, keyed: bool = True) -> dict[str, float]:
    """Create the world's topics and fill them with `count` messages keyed by rep_id, or
    with no key (spread over the partitions at random, as some connectors send); when
    `merged`, each message again in the world's merged topic."""
    create_topics(bootstrap, source_topics(prefix) + [merged_topic(prefix)] * merged,
                  partitions)
    say(f"producing {count:,} events ({reps:,} reps, {teams} teams, {days:g} days) "
        f"to {prefix}.sales.* ({partitions} partitions each)")
    t0 = time.monotonic()
    sent = bulk_publish(settings_for(bootstrap, prefix), events(count, reps, teams, days),
                        max(count // 5, 1), merged_topic(prefix) if merged else None, keyed)
    seconds = time.monotonic() - t0
    say(f"produced {sent:,} in {seconds:.1f}s ({sent / seconds:,.0f}/s)")
    return {"messages": sent, "produce_seconds": round(seconds, 1)}


def new_producer(bootstrap: str) -> Producer:
    """librdkafka (via confluent-kafka), keyed like Java clients (murmur2), 10 ms linger."""
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 10, "acks": "all",
                     "partitioner": "murmur2_random", "queue.buffering.max.messages": 500_000})


def send(producer: Producer, topic: str, key: bytes | None, value: bytes) -> None:
    """Queue one message, waiting for room when the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:
            producer.poll(0.05)


def bulk_publish(settings: Settings, messages: Iterator[tuple[str, bytes]],
                 progress_every: int, copy_to: str | None = None, keyed: bool = True) -> int:
    """Send (rep_id, JSON) pairs to their typed topics as fast as the broker takes them.
    (kafka-python's `streams.dev.produce.publish` sends ~7k/s here: too slow for millions.)"""
    producer = new_producer(settings.bootstrap_servers)
    count = 0
    for rep_id, value in messages:
        key = rep_id.encode()
        send(producer, topic_for(settings, value), key if keyed else None, value)
        if copy_to:
            send(producer, copy_to, key, value)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
        if count % progress_every == 0:
            say(f"  {count:,} sent")
    if producer.flush(120) > 0:
        raise RuntimeError("the producer could not deliver every message in 120 s")
    return count


def write_jsonl(path: Path, count: int, reps: int, teams: int, days: float) -> Path:
    """The same kind of traffic as a JSON Lines file for replay."""
    with path.open("wb") as out:
        for _, value in events(count, reps, teams, days):
            out.write(value + b"\n")
    return path
