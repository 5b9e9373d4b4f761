"""Kafka record batches that cannot be decoded are skipped and reported, never retried.

aiokafka raises when a fetched batch fails its CRC check or cannot be decompressed (a
corrupt batch, or a codec it has no library for), and fetches the same batch again and
again: the worker would stop at that offset for good. Here each fetched batch is checked
as it is read; one that cannot be decoded yields no records (the consumer moves past
it) and is reported once per process, for the worker to log, count and dead-letter.

The changelog read (worker/changelog.py) also takes the decoded batches whole, see
`whole_batches`.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiokafka.consumer import fetcher


@dataclass(frozen=True)
class Undecodable:
    """A batch of records the worker could not decode: offsets [first, end)."""

    topic: str
    partition: int
    first: int
    end: int
    error: str

    def describe(self) -> str:
        return (f"{self.topic}[{self.partition}] offsets {self.first}..{self.end - 1}: the "
                f"record batch cannot be decoded ({self.error}); skipped, its records stay "
                "in the topic")


_reports: deque[Undecodable] = deque()  # filled by the consumer threads, drained by the worker
_seen: set[tuple[str, int, int]] = set()
_lock = threading.Lock()


def take_reports() -> list[Undecodable]:
    """The batches found undecodable since the last call (each once per process)."""
    taken = []
    while _reports:
        taken.append(_reports.popleft())
    return taken


def _report(tp: Any, batch: Any, error: str) -> None:
    key = (tp.topic, tp.partition, batch.base_offset)
    with _lock:
        if key in _seen:
            return
        _seen.add(key)
    _reports.append(Undecodable(tp.topic, tp.partition, batch.base_offset, batch.next_offset,
                                error))


class _CheckedBatch:
    """A fetched batch whose records are decoded up front: one that fails yields none."""

    def __init__(self, batch: Any, tp: Any) -> None:
        self._batch, self._tp = batch, tp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __next__(self) -> Any:  # control batches: aiokafka reads their one record
        return next(self._batch)

    def validate_crc(self) -> bool:
        if not self._batch.validate_crc():
            _report(self._tp, self._batch, "CRC mismatch: the batch is corrupt")
            self._batch = _Empty(self._batch)
        return True

    def __iter__(self) -> Any:
        try:
            return iter(list(self._batch))
        except Exception as exc:  # any codec or format error: the batch is lost to us
            _report(self._tp, self._batch, f"{type(exc).__name__}: {exc}"[:300])
            return iter(())


class _Empty:
    """What is left of a corrupt batch: its offsets, and no records."""

    def __init__(self, batch: Any) -> None:
        self._batch = batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __iter__(self) -> Any:
        return iter(())


class _CheckedRecords:
    def __init__(self, records: Any, tp: Any) -> None:
        self._records, self._tp = records, tp

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        return None if batch is None else _CheckedBatch(batch, self._tp)


def whole_batches(key: bytes | None) -> bytes | None:
    """Given as `key_deserializer`, makes an aiokafka consumer hand out each fetched
    record batch as one list of aiokafka's own records (.offset, .key, .value, .headers
    as a list, bytes as written) instead of one ConsumerRecord per record: building
    those took a third of a changelog read. For a read_uncommitted consumer of bytes,
    once install() has run."""
    return key


class CheckedPartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    next_fetch_offset: int  # aiokafka's: where the next fetch of the partition starts

    def __init__(self, tp: Any, records: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(tp, _CheckedRecords(records, tp), *args, **kwargs)
        if self._key_deserializer is whole_batches:
            if self._value_deserializer is not None or (
                    self._isolation_level != fetcher.READ_UNCOMMITTED):
                raise ValueError("whole_batches reads bytes, read_uncommitted only")
            self._records_iterator = self._whole_batches()

    def _whole_batches(self) -> Any:
        records = self._records
        while records.has_next():
            batch = records.next_batch()
            batch.validate_crc()  # a corrupt batch is reported and yields no records
            rows = [] if batch.is_control_batch else list(batch)
            if rows and rows[0].offset < self.next_fetch_offset:  # fetched from mid-batch
                rows = [row for row in rows if row.offset >= self.next_fetch_offset]
            self.next_fetch_offset = batch.next_offset
            if rows:
                yield rows


def install() -> None:
    """Every aiokafka consumer of this process checks its batches (Faust's included)."""
    fetcher.PartitionRecords = CheckedPartitionRecords
