"""Deeply nested messages, found by the fuzz test: a clear reason, never a RecursionError.

msgspec gives up past the interpreter's recursion limit (~900 levels); the explaining
validator then decides: orjson rejects depth >= 1024 as invalid_json and accepts
shallower unknown fields, which the contract ignores.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.events import Rejected, parse_event
from streams.replay import replay

EVENT = {"event_id": "n-1", "type": "nps", "occurred_at": "2026-11-20T09:15:00Z",
         "rep_id": "r-1", "team_id": "t-1", "score": 9}


def nested(depth: int) -> bytes:
    return orjson.dumps(EVENT)[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}"


def test_deep_nesting_is_invalid_json() -> None:
    with pytest.raises(Rejected) as rejected:
        parse_event(nested(2000))
    assert rejected.value.reason == "invalid_json"


def test_nesting_orjson_accepts_is_an_unknown_field() -> None:
    assert parse_event(nested(1000)).rep_id == "r-1"


def test_replay_counts_a_deeply_nested_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(orjson.dumps(EVENT) + b"\n" + nested(2000) + b"\n")
    counts = replay(path, None, progress=False).engine.counts
    assert (counts.applied, dict(counts.rejected)) == (1, {"invalid_json": 1})
