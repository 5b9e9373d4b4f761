"""A fresh worker rebuilds a month of state for 1,000 reps from the changelog; timed.

RELIABILITY_RECOVERY_EVENTS (default 60,000) sets the size of that month."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from tests.support.traffic import assert_equals_replay, counter_total, generated, write_lines
from tests.support.worker import WorkerProcess
from tests.support.world import World, caught_up

pytestmark = pytest.mark.integration
REPS = 1000


def recovered(world: World, worker: WorkerProcess, reps: float) -> str | None:
    """The scrape once the worker holds all `reps` and has nothing left to consume."""
    texts = caught_up(world, [worker])
    return texts[0] if texts and counter_total(texts[0], "salespulse_reps") == reps else None


def test_a_fresh_worker_recovers_a_month_of_state(make_world: Callable[..., World]) -> None:
    events = int(os.environ.get("RELIABILITY_RECOVERY_EVENTS", "60000"))
    world = make_world(partitions=4)
    builder = world.worker().start()
    messages = generated(events, days=30, reps=REPS, teams=20, seed=3)
    path = write_lines(world.workdir / "month.jsonl", messages)
    world.publish(messages)
    [built] = world.wait_caught_up([builder], max(300, events / 400),
                                   "the builder to consume the month")
    reps = counter_total(built, "salespulse_reps")
    builder.stop()
    changelog = f"{world.prefix}-kpi_state-changelog"
    records = world.end_offsets(changelog)
    assert world.topic_config(changelog)["segment.ms"] == "3600000"  # so it gets compacted

    fresh = world.worker()
    started = time.monotonic()
    fresh.start()
    text = fresh.wait_for(lambda: recovered(world, fresh, reps), max(300, records / 2000),
                          "the fresh worker to recover")
    recovery_s = time.monotonic() - started
    assert_equals_replay(text, path)
    started = time.monotonic()
    fresh.scrape()
    scrape_s = time.monotonic() - started
    print(f"recovery: {events} events over 30 days for {reps:.0f} reps -> {records} changelog "
          f"records; a fresh worker served them all {recovery_s:.1f}s after its start; "
          f"a scrape takes {scrape_s * 1000:.0f} ms")
