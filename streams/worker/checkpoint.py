"""The flush marker protocol, free of Faust: what a flush writes, what recovery keeps.

A flush sends every changed state unit of the engine, waits for the acks, then writes
one marker record per changelog partition naming the source offsets that state
includes. Reading a partition from the start, recovery keeps the units followed by a
marker (latest value per key) and sets aside the ones after the last marker (an
unfinished flush): they are rewritten with their flushed values before compaction could
keep them. A crash mid-flush so never leaves half an event's effect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import orjson

from streams.engine import RepState
from streams.engine.codec import (
    FORMAT,
    HEADERS,
    NewerFormat,
    dirty_entries,
    load_reps,
    record_format,
)

MARKER = b"\x00flushed"  # key of a flush marker; state unit keys are JSON arrays
CURRENT_HEADERS = HEADERS  # as the recovery read's raw records have them (lists)
# A changelog record to send: partition, key, value (None: a tombstone), format header.
Unit = tuple[int, bytes, bytes | None, list[tuple[str, bytes]]]
KEY, VALUE, HEADERS_OF = attrgetter("key"), attrgetter("value"), attrgetter("headers")


def dirty_units(reps: dict[str, RepState], rep_partition: dict[str, int],
                horizon_us: int) -> list[Unit]:
    """Every state unit changed since the last call, with its changelog partition."""
    units: list[Unit] = []
    for rep_id, rep in reps.items():
        if rep.dirty:
            partition = rep_partition[rep_id]
            units += [(partition, key, value, HEADERS)
                      for key, value in dirty_entries(rep, horizon_us)]
    return units


def marker_value(offsets: dict[str, int], forwarded: dict[str, int]) -> bytes:
    return orjson.dumps({"offsets": offsets, "forwarded": forwarded})


@dataclass
class Rebuilt:
    """One changelog partition read back: its reps, its last marker, the keys of an
    unfinished flush to rewrite with their flushed values, units of an older format."""

    reps: dict[str, RepState]
    marker: dict[str, Any]
    corrections: list[Unit]
    upgraded: int


class ChangelogReader:
    """Sorts the records of changelog partitions, each read from the start in log order,
    into flushed and unfinished units, noting every key of another format than ours."""

    def __init__(self) -> None:
        self.loaded: set[int] = set()  # partitions rebuilt: records of them are ignored
        self.flushed: dict[int, dict[bytes, bytes | None]] = defaultdict(dict)
        self.unfinished: dict[int, dict[bytes, bytes | None]] = defaultdict(dict)
        self.markers: dict[int, dict[str, Any]] = {}  # the last marker read per partition
        self.formats: dict[int, dict[bytes, int]] = defaultdict(dict)

    def read(self, partition: int, records: Sequence[Any]) -> None:
        """Records of `partition` (with .key, .value, .headers), in log order."""
        if not records or partition in self.loaded:  # none, or ours read again
            return
        unfinished = self.unfinished[partition]
        keys, values = list(map(KEY, records)), list(map(VALUE, records))  # loops in C
        formats = self._note_formats(partition, keys, list(map(HEADERS_OF, records)))
        start = 0
        for at in _indices(keys, MARKER):  # the units before a marker are flushed
            flushed = self.flushed[partition]
            flushed.update(unfinished)  # from earlier batches, then this one's
            unfinished.clear()
            flushed.update(zip(keys[start:at], values[start:at], strict=True))
            self.markers[partition] = _marker(orjson.loads(values[at]),
                                              formats.get(MARKER, FORMAT))
            start = at + 1
        unfinished.update(zip(keys[start:], values[start:], strict=True))

    def _note_formats(self, partition: int, keys: list[bytes], headers: list[Any]
                      ) -> dict[bytes, int]:
        """Remember the keys whose latest record is not in this release's format."""
        formats = self.formats[partition]
        if headers.count(CURRENT_HEADERS) == len(headers):  # the usual case, checked in C
            if formats:
                for key in keys:
                    formats.pop(key, None)
            return formats
        for key, header in zip(keys, headers, strict=True):
            version = record_format(header)
            if version == FORMAT:
                formats.pop(key, None)
            else:
                formats[key] = version
        return formats

    def rebuild(self, partition: int) -> Rebuilt:
        """The reps of a partition read to its end; NewerFormat when a newer release
        wrote it. What was read of it is freed before the next partition is read."""
        flushed = self.flushed.pop(partition, {})
        unfinished = self.unfinished.pop(partition, {})
        formats = self.formats.pop(partition, {})
        marker = self.markers.pop(partition, {"offsets": {}, "forwarded": {}})
        if formats.get(MARKER, FORMAT) > FORMAT:
            raise NewerFormat(f"its flush markers are in format {formats[MARKER]}")
        reps = load_reps((k, v, formats.get(k, FORMAT)) for k, v in flushed.items() if v)
        corrections = [(partition, key, flushed.get(key), HEADERS) for key in unfinished]
        self.loaded.add(partition)
        return Rebuilt(reps, marker, corrections, len(formats))

    def start(self, partitions: set[int]) -> None:
        """Forget what an interrupted read of these partitions left."""
        for partition in partitions:
            self.flushed.pop(partition, None)
            self.unfinished.pop(partition, None)
            self.markers.pop(partition, None)
            self.formats.pop(partition, None)

    def forget(self, partitions: set[int]) -> None:
        """Revoked: the next owner of a partition reads its changelog from the start."""
        self.loaded -= partitions
        self.start(partitions)


def _marker(value: Any, version: int) -> dict[str, Any]:
    """A flush marker's content: format 1 held the source offsets alone."""
    return {"offsets": value, "forwarded": {}} if version == 1 else value  # type: ignore[no-any-return]


def _indices(items: list[Any], value: Any) -> Iterator[int]:
    """Where `value` is in `items`, searched in C."""
    at = -1
    while True:
        try:
            at = items.index(value, at + 1)
        except ValueError:
            return
        yield at
