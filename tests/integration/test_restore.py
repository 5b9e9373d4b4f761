"""Reading changelog partitions from the start with the plain consumer (worker/changelog.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from streams.dev.localkafka import LocalKafka, create_topics
from streams.worker import changelog
from streams.worker.internals.fetcher import install, whole_batches

pytestmark = pytest.mark.integration


def _topic_with(kafka: LocalKafka, per_partition: dict[int, int]) -> str:
    """A 3-partition topic holding per_partition[p] records in partition p (value = index)."""
    topic = f"restore-{uuid.uuid4().hex[:8]}"
    create_topics(kafka.bootstrap, [topic], 3)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=5)
    try:
        for partition, count in per_partition.items():
            for i in range(count):
                producer.send(topic, key=b"k%d" % i, value=b"%d" % i, partition=partition)
        producer.flush()
    finally:
        producer.close()
    return topic


def _read(kafka: LocalKafka, topic: str, partitions: set[int],
          should_stop: Any = lambda: False) -> tuple[int, dict[int, list[int]], list[Any]]:
    """(records read, values per partition, what was read when each partition was done)."""
    seen: dict[int, list[int]] = defaultdict(list)
    done: list[Any] = []

    def sink(partition: int, records: Any) -> None:
        for record in records:
            seen[partition].append(int(record.value))

    count = asyncio.run(changelog.read_partitions(
        {"bootstrap_servers": kafka.bootstrap}, topic, partitions, sink, should_stop,
        lambda partition: done.append((partition, {p: len(v) for p, v in seen.items()}))))
    return count, dict(seen), done


def test_reads_every_record_of_the_asked_partitions_in_log_order(kafka: LocalKafka) -> None:
    topic = _topic_with(kafka, {0: 45_000, 2: 7})  # partition 1 stays empty
    count, seen, done = _read(kafka, topic, {0, 1})
    assert count == 45_000
    assert seen == {0: list(range(45_000))}  # partition 2 was not asked for
    assert done == [(0, {0: 45_000}), (1, {0: 45_000})]  # one partition after the other
    assert _read(kafka, topic, {1, 2})[:2] == (7, {2: list(range(7))})


def test_a_stopping_worker_stops_the_read(kafka: LocalKafka) -> None:
    topic = _topic_with(kafka, {0: 10})
    with pytest.raises(changelog.Stopped):
        _read(kafka, topic, {0}, should_stop=lambda: True)


def test_whole_batches_begin_at_the_offset_asked_even_inside_a_batch(kafka: LocalKafka) -> None:
    """Kafka answers a fetch from offset 17 with the whole batch holding it."""
    topic = _topic_with(kafka, {0: 50})

    install()

    async def read_from(offset: int) -> list[list[Any]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False,
                                    key_deserializer=whole_batches)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            batches: list[list[Any]] = []
            while sum(map(len, batches)) < 50 - offset:
                batches += (await consumer.getmany(tp, timeout_ms=2000)).get(tp, [])
            return batches
        finally:
            await consumer.stop()

    assert len(asyncio.run(read_from(0))) == 1  # the producer sent the 50 as one batch
    records = [record for batch in asyncio.run(read_from(17)) for record in batch]
    assert [(r.offset, r.key, r.value) for r in records] == [
        (i, b"k%d" % i, b"%d" % i) for i in range(17, 50)]
