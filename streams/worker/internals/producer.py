"""Faust's producer, bounded when stopping, and whole batches handed to aiokafka."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from faust.transport.drivers.aiokafka import Producer as KafkaProducer

if TYPE_CHECKING:
    from streams.worker.context import Worker

log = logging.getLogger(__name__)
Headers = Sequence[tuple[str, bytes]]
Record = tuple[int, bytes | None, bytes | None, Headers]  # partition, key, value, headers


class StoppableProducer(KafkaProducer):
    """Once the worker stops, it waits for unacked records (say, with the broker down) only
    until the stop deadline. They are not needed: the next start resumes from the last
    flush marker, whose records were acked."""

    @property
    def worker(self) -> Worker:
        return self.app.worker  # type: ignore[attr-defined, no-any-return]

    async def flush(self) -> None:
        try:
            await self.worker.deadline.bounded(super().flush(), None)
        except TimeoutError:
            log.warning("stopping with records Kafka has not acked: the next start "
                        "redoes them")

    async def on_stop(self) -> None:
        try:
            await self.worker.deadline.bounded(super().on_stop(), None)
        except TimeoutError:
            log.warning("producer stopped with records Kafka has not acked")


async def send_batches(app: Any, topic: str, records: Sequence[Record]) -> list[Any]:
    """Hand records to aiokafka as whole batches per partition (in order), not one `send`
    each (a send's future, accumulator call and callback cost ~26 us); the delivery
    futures of the batches."""
    producer = app.producer._ensure_producer()  # aiokafka's own
    by_partition: dict[int, list[tuple[bytes | None, bytes | None, Headers]]] = \
        defaultdict(list)
    for partition, key, value, headers in records:
        by_partition[partition].append((key, value, headers))
    futures = []
    for partition, items in by_partition.items():
        batch = producer.create_batch()
        for key, value, headers in items:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()  # the last was full; a record fits alone
                batch.append(key=key, value=value, timestamp=None, headers=headers)
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures


async def partition_count(app: Any, topic: str) -> int:
    """How many partitions `topic` has (from the producer's metadata, fetched if needed)."""
    return len(await app.producer._ensure_producer().partitions_for(topic))
