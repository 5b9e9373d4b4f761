"""The state release 0.1 wrote (changelog format 1) for a file of events, and the events
that come after an upgrade (tests/fixtures, made once by release 0.1)."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.dev.generator import Generator, spaced, stream
from streams.events import parse_event

FIXTURES = Path(__file__).parent.parent / "fixtures"
EVENTS = FIXTURES / "v1-events.jsonl"  # what release 0.1 consumed
CHANGELOG = FIXTURES / "v1-changelog.jsonl"  # what it wrote: {"key", "value"} in log order


def format_1_lines() -> list[bytes]:
    return EVENTS.read_bytes().splitlines()


def format_1_records() -> list[tuple[bytes, bytes | None]]:
    """(key, value) of the format-1 changelog in log order, flush markers included."""
    records = []
    for line in CHANGELOG.read_bytes().splitlines():
        record = orjson.loads(line)
        value = record["value"]
        records.append((record["key"].encode(), None if value is None else value.encode()))
    return records


def later_lines(count: int = 800) -> list[tuple[str, bytes]]:
    """(rep_id, message) after the upgrade: the same reps, deals and prospects go on."""
    first = max(parse_event(line).ts for line in format_1_lines())
    gen = Generator(reps=5, teams=2, seed=12)
    return [(rep, raw.replace(b'"e-', b'"later-')) for rep, raw
            in stream(gen, spaced(first, 120_000_000, count, seed=4), 0, 0.03)]
