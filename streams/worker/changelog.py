"""Reading changelog partitions from the start with a plain aiokafka consumer.

Faust's own table recovery hands every record through its fetch loop, a queue and a
timed wait (about 11k records/s on two cores, over 90% of it asyncio and Faust); this
reads whole fetches and gives the caller each fetch's records as aiokafka decoded them,
without a ConsumerRecord each (internals/fetcher.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.worker.internals import fetcher

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 5.0


class Stopped(Exception):
    """The worker began to stop while a changelog was being read."""


async def read_partitions(client: dict[str, Any], topic: str, partitions: set[int],
                          sink: Callable[[int, Sequence[Any]], None],
                          should_stop: Callable[[], bool],
                          done: Callable[[int], None] = lambda partition: None) -> int:
    """Feed every record of `topic`'s `partitions` to `sink(partition, records)` in log
    order (records with .offset, .key, .value, .headers), one partition after the other,
    calling `done(partition)` after each; returns how many were read.

    `client`: aiokafka connection options (bootstrap servers, security)."""
    if not partitions:
        return 0
    fetcher.install()  # whole batches come from its checked records (the worker's already)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest",
                                key_deserializer=fetcher.whole_batches,
                                fetch_max_bytes=64 * 1024 * 1024,
                                max_partition_fetch_bytes=32 * 1024 * 1024, **client)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        progress = _Progress(sum(ends[tp] - starts[tp] for tp in tps))
        for tp in tps:
            if ends[tp] > starts[tp]:
                await consumer.seek_to_beginning(tp)
                await _drain(consumer, tp, ends[tp], sink, should_stop, progress)
            done(tp.partition)
        return progress.read
    finally:
        await consumer.stop()


class _Progress:
    """Records read so far, logged every PROGRESS_EVERY_S."""

    def __init__(self, total: int) -> None:
        self.total, self.read = total, 0
        self.started = self.reported = time.monotonic()

    def add(self, count: int) -> None:
        self.read += count
        now = time.monotonic()
        if now - self.reported > PROGRESS_EVERY_S:
            self.reported = now
            log.info("reading the changelog: %s of at most %s records (%.0f/s)%s",
                     f"{self.read:,}", f"{self.total:,}", self.read / (now - self.started),
                     "" if count else "; nothing in the last fetch: is Kafka reachable?")


async def _drain(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int,
                 sink: Callable[[int, Sequence[Any]], None], should_stop: Callable[[], bool],
                 progress: _Progress) -> None:
    while await consumer.position(tp) < end:
        if should_stop():
            raise Stopped(f"stopped after reading {progress.read:,} changelog records")
        batches = (await consumer.getmany(tp, timeout_ms=500, max_records=1_000)).get(tp, [])
        records = list(chain.from_iterable(batches))
        sink(tp.partition, records)
        progress.add(len(records))


async def first_offset(client: dict[str, Any], topic: str, partition: int, offset: int,
                       timeout_s: float = 10.0) -> int | None:
    """Offset of the first record at or after `offset` (the log start when `offset` was
    deleted); None when none comes within `timeout_s`."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", **client)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(tp, timeout_ms=500, max_records=1)).values():
                return int(records[0].offset)
        return None
    finally:
        await consumer.stop()
