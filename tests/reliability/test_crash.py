"""kill -9 at random points mid-stream: after a restart /metrics equals replay exactly."""

from __future__ import annotations

import os
import random
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial

import orjson
import pytest

from streams.events import format_timestamp, parse_event
from tests.support.traffic import DAY_US, assert_equals_replay, consumed, generated, write_lines
from tests.support.worker import WorkerProcess
from tests.support.world import World, caught_up, lags

pytestmark = pytest.mark.integration
KILLS = 3


def with_stragglers(messages: list[tuple[str, bytes]], rng: random.Random,
                    ratio: float = 0.02) -> list[tuple[str, bytes]]:
    """Add events stamped 3 days before the stream's present, and re-sends of events
    3 days old: both lie beyond the 24 h dedupe horizon, so only exact offset
    bookkeeping (not the event_id dedupe) keeps them from counting twice after a crash."""
    out: list[tuple[str, bytes]] = []
    history: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
    for n, (rep_id, value) in enumerate(messages):
        out.append((rep_id, value))
        if rep_id == "r-bad":
            continue
        ts = parse_event(value).ts
        history[rep_id].append((ts, value))
        if rng.random() >= ratio:
            continue
        if rng.random() < 0.5:
            event = orjson.loads(value) | {"event_id": f"old-{n}",
                                           "occurred_at": format_timestamp(ts - 3 * DAY_US)}
            out.append((rep_id, orjson.dumps(event)))
        else:
            old = [v for t, v in history[rep_id] if t <= ts - 3 * DAY_US]
            if old:
                out.append((rep_id, old[-1]))
    return out


def handled(worker: WorkerProcess, count: int) -> str | None:
    """The scrape once this worker process has handled `count` messages."""
    text = worker.scrape()
    return text if text is not None and consumed(text) >= count else None


@pytest.mark.xfail(strict=False, reason="issue 6 open: a kill -9 schedule lost one touch")
def test_kill_9_mid_stream_loses_nothing_and_counts_nothing_twice(
        make_world: Callable[..., World]) -> None:
    seed = int(os.environ.get("RELIABILITY_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    world = make_world()
    messages = with_stragglers(generated(20_000, days=10, reps=40, seed=seed, bad_ratio=0.01,
                                         dup_ratio=0.02), rng)
    path = write_lines(world.workdir / "events.jsonl", messages)
    world.publish(messages)
    worker = world.worker()
    for kill in range(KILLS):
        worker.start()
        target = rng.randint(300, 4000)
        text = worker.wait_for(partial(handled, worker, target), 180,
                               f"{target} messages handled (seed {seed})")
        worker.kill()
        assert sum(lags(text).values()) > 0, f"kill {kill} came after the end (seed {seed})"
    started = time.monotonic()
    worker.start()
    [text] = worker.wait_for(lambda: caught_up(world, [worker]), 240,
                             f"the restarted worker to catch up (seed {seed})")
    print(f"crash test seed {seed}: caught up {time.monotonic() - started:.1f}s after the "
          f"last restart")
    report = assert_equals_replay(text, path)
    assert report["events"]["applied"] > 19_000
