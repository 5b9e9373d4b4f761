"""Engine.take_many (rep by rep) gives exactly what offering the same events one by one gives."""

from __future__ import annotations

import random

import pytest

from streams.dev.generator import Generator, spaced, stream
from streams.engine import Engine, EngineConfig, take_snapshot
from streams.engine.windows import HOUR_US, US
from streams.events import Event, Rejected, parse_event

START = 1_790_812_800 * US  # 2026-10-01T00:00:00Z
DAY_US = 24 * HOUR_US


def generated(count: int, seed: int) -> list[Event]:
    """Generated traffic over ~40 days, re-sends included, some events moved far back."""
    rng = random.Random(seed)
    times = spaced(START, 40 * DAY_US // count, count, seed)
    events = []
    for _, raw in stream(Generator(reps=30, teams=4, seed=seed), times, dup_ratio=0.05):
        try:
            event = parse_event(raw)
        except Rejected:
            continue
        if rng.random() < 0.03:  # late (beyond the watermark's lateness) or out of order
            event.ts -= rng.choice((35 * DAY_US, 2 * HOUR_US, 90 * US))
        events.append(event)
    return events


def run(events: list[Event], batch: int | None, now_us: int | None) -> tuple[object, ...]:
    engine = Engine(EngineConfig(team_targets={"team-00": 5000.0}))
    if batch is None:
        outcomes = [engine.offer(e, now_us) for e in events]
    else:
        outcomes = []
        for at in range(0, len(events), batch):
            outcomes += engine.take_many(events[at:at + batch], now_us)
    as_of = max(e.ts for e in events) + 1 if now_us is None else now_us
    snapshot = take_snapshot(engine, as_of)
    return outcomes, engine.counts.as_dict(), snapshot.reps, snapshot.teams


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("batch", [1, 97, 5000])
def test_batches_equal_one_by_one(seed: int, batch: int) -> None:
    events = generated(3000, seed)
    one_by_one = run(events, None, None)
    assert run(events, batch, None) == one_by_one
    assert one_by_one[1]["late"] > 0 and one_by_one[1]["duplicates"] > 0  # type: ignore[index]


def test_pending_future_events_equal_one_by_one() -> None:
    events = generated(2000, 3)
    now = sorted(e.ts for e in events)[-100]
    for n, event in enumerate(events):  # the newest 100 wait as pending, within the skew
        if event.ts > now:
            event.ts = now + n % 240 * US
    assert run(events, 500, now) == run(events, None, now)
