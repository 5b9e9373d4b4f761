"""Generated event files, the worker's counters, and comparing /metrics with replay."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from streams.dev.generator import Generator, spaced, stream
from streams.replay import replay, to_json
from streams.settings import Settings
from tests.support.metrics import assert_same, measure_samples, replay_samples, samples
from tests.support.worker import topic_env

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
OUTCOMES = ("processed", "duplicate", "late", "rejected")


def now_us() -> int:
    return time.time_ns() // 1000


def generated(count: int, days: float, reps: int = 40, teams: int = 4, seed: int = 7,
              bad_ratio: float = 0.0, dup_ratio: float = 0.0,
              end_us: int | None = None) -> list[tuple[str, bytes]]:
    """`count` (rep_id, message) pairs spread over the `days` before `end_us` (default
    now minus an hour), with bad lines and re-sends at the given ratios."""
    end = end_us or now_us() - HOUR_US
    span = int(days * DAY_US)
    step = max(1, span // count * 9 // 10)  # ~0.9 span in all: the last event is before end
    gen = Generator(reps=reps, teams=teams, seed=seed)
    times = spaced(end - span, step, count, seed)
    return list(stream(gen, times, bad_ratio, dup_ratio))


def write_lines(path: Path, messages: list[tuple[str, bytes]]) -> Path:
    path.write_bytes(b"".join(value + b"\n" for _, value in messages))
    return path


def world_settings(bootstrap: str, prefix: str, **env: str) -> Settings:
    """The settings a producer needs to reach one isolated test world's topics."""
    return Settings.from_env({**topic_env(prefix), "KAFKA_BOOTSTRAP_SERVERS": bootstrap, **env})


def counter_total(text: str, name: str) -> float:
    return sum(v for (n, _), v in samples(text).items() if n == name)


def consumed(text: str | None) -> float:
    """Messages this worker process has handled, whatever became of them (-1: no answer)."""
    if text is None:
        return -1
    return sum(counter_total(text, f"salespulse_events_{kind}_total") for kind in OUTCOMES)


def snapshot_us(text: str) -> int:
    return round(counter_total(text, "salespulse_snapshot_timestamp_seconds") * 1e6)


def replay_at(path: Path, as_of_us: int) -> dict[str, Any]:
    return orjson.loads(to_json(replay(path, as_of_us, progress=False)))  # type: ignore[no-any-return]


def assert_equals_replay(text: str, path: Path) -> dict[str, Any]:
    """Every salespulse_<measure> sample equals replay of the file at the scrape instant."""
    report = replay_at(path, snapshot_us(text))
    assert_same(measure_samples(text), replay_samples(report))
    return report
