"""Sorting changelog records into flushed and unfinished units (worker/checkpoint.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from streams.worker.checkpoint import CURRENT_HEADERS, MARKER, ChangelogReader


@dataclass
class Record:
    key: bytes
    value: bytes
    headers: Any = tuple(CURRENT_HEADERS)  # as a ConsumerRecord has them


def _marker(offset: int) -> tuple[bytes, bytes]:
    return MARKER, orjson.dumps({"offsets": {"sales.touches": offset},
                                 "forwarded": {"sales.touches/1": 7}})


LOG = [(b"u1", b"a"), (b"u2", b"b"), _marker(1), (b"u1", b"c"), (b"u3", b"d"), _marker(2),
       (b"u2", b"e"), (b"u4", b"f")]


@pytest.mark.parametrize("headers", [CURRENT_HEADERS, tuple(CURRENT_HEADERS)],
                         ids=["raw record", "ConsumerRecord"])
@pytest.mark.parametrize("batch", [1, 2, 3, len(LOG)])
def test_units_count_once_a_marker_follows_them(batch: int, headers: Any) -> None:
    """However the log is cut into fetched batches: units before the last marker are
    flushed (latest value per key), those after it unfinished, the offsets the last's."""
    state = ChangelogReader()
    records = [Record(key, value, headers) for key, value in LOG]
    for at in range(0, len(records), batch):
        state.read(3, records[at:at + batch])
    assert dict(state.flushed[3]) == {b"u1": b"c", b"u2": b"b", b"u3": b"d"}
    assert dict(state.unfinished[3]) == {b"u2": b"e", b"u4": b"f"}
    assert state.markers[3] == {"offsets": {"sales.touches": 2},
                                "forwarded": {"sales.touches/1": 7}}


def test_records_of_format_1_are_noted_and_their_markers_read() -> None:
    """Release 0.1 wrote no header; its markers held the source offsets alone."""
    state = ChangelogReader()
    state.read(3, [Record(b"u1", b"a", ()), Record(MARKER, b'{"sales.touches": 4}', ()),
                Record(b"u2", b"b")])
    state.read(3, [Record(b"u1", b"c"), Record(*_marker(5))])
    assert state.formats[3] == {}  # u1 rewritten in the current format since
    state.read(3, [Record(b"u3", b"d", ()), Record(MARKER, b'{"sales.touches": 6}', ())])
    assert state.formats[3] == {b"u3": 1, MARKER: 1}
    assert state.markers[3] == {"offsets": {"sales.touches": 6}, "forwarded": {}}


def test_a_partition_already_loaded_is_not_read_again() -> None:
    state = ChangelogReader()
    state.loaded.add(3)
    state.read(3, [Record(b"u1", b"a"), Record(*_marker(1))])
    assert not state.flushed and not state.unfinished and not state.markers
