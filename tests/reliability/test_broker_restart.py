"""The broker dies mid-stream: /metrics keeps answering and shows the outage, and the
worker reconnects by itself with nothing lost or counted twice; or SIGTERM stops it
while the broker is down, and the next worker loses nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.dev.localkafka import LocalKafka
from tests.support.traffic import (
    assert_equals_replay,
    consumed,
    counter_total,
    generated,
    write_lines,
)
from tests.support.worker import WorkerProcess
from tests.support.world import World

pytestmark = pytest.mark.integration
OUTAGE_S = 15.0  # the broker stays down at least this long
QUIET_S = 4.0  # "stopped": nothing handled for this long (fetched messages drain first)
STOP_DEADLINE_S = 120.0
ANSWER_S = 30.0  # a scrape slower than this counts as no answer (2 shared cores)
LAST_PROCESSED = "salespulse_last_processed_timestamp_seconds"


def outage(worker: WorkerProcess, killed_at: float) -> tuple[float, str, float]:
    """Scrape while the broker is down, every scrape answering, until the worker has
    handled nothing for QUIET_S and the broker has been down for OUTAGE_S: returns (wall
    time of the first scrape that showed the final state, last scrape, its wall time)."""
    deadline = time.monotonic() + STOP_DEADLINE_S
    seen: tuple[float, float] | None = None
    since = 0.0
    while True:
        text = worker.scrape(timeout=ANSWER_S)
        now = time.time()
        assert text is not None, "/metrics must answer while the broker is down"
        state = (consumed(text), counter_total(text, LAST_PROCESSED))
        if state != seen:
            seen, since = state, now
        if now - since >= QUIET_S and now - killed_at >= OUTAGE_S:
            return since, text, now
        assert time.monotonic() < deadline, (
            f"the worker still handles messages {STOP_DEADLINE_S:.0f}s after the broker died")
        time.sleep(0.5)


def mid_stream(world: World, seed: int) -> tuple[WorkerProcess, list[tuple[str, bytes]], Path]:
    """A worker that has handled part of 8,000 published messages (4,000 more to come)."""
    worker = world.worker().start()
    messages = generated(12_000, days=3, reps=30, seed=seed, bad_ratio=0.01, dup_ratio=0.02)
    path = write_lines(world.workdir / "events.jsonl", messages)
    world.publish(messages[:8000])
    worker.wait_for(lambda: consumed(worker.scrape()) >= 1500, 120, "some progress")
    return worker, messages, path


def test_worker_rides_out_a_broker_restart(make_world: Callable[..., World]) -> None:
    with LocalKafka() as broker:  # its own: restarting the shared one would hurt others
        world = make_world(broker)
        worker, messages, path = mid_stream(world, seed=8)
        killed_at = time.time()
        broker.kill()
        quiet_since, last, end = outage(worker, killed_at)
        # The gauge was set before the scrape that first showed the final state: it is
        # at least QUIET_S old now, and did not move while nothing was handled.
        stalled = end - counter_total(last, LAST_PROCESSED)
        assert stalled >= QUIET_S, "the stall shows in /metrics"
        assert stalled >= end - quiet_since, "the stall shows in /metrics"
        broker.restart()
        world.publish(messages[8000:])
        [text] = world.wait_caught_up([worker], 240,
                                      "the worker to reconnect and catch up")
        assert worker.alive
        assert_equals_replay(text, path)


def test_sigterm_stops_the_worker_while_the_broker_is_down(
        make_world: Callable[..., World]) -> None:
    with LocalKafka() as broker:
        world = make_world(broker)
        worker, messages, path = mid_stream(world, seed=9)
        broker.kill()  # mid-stream: unflushed state, maybe a flush waiting for acks
        started = time.monotonic()
        # Without the broker the final flush and commit give up after a few seconds (5 s
        # from the stop); the deadline here only tells "stops by itself" from "hangs".
        code = worker.terminate(timeout=STOP_DEADLINE_S)
        print(f"SIGTERM with the broker down: exit {code} after "
              f"{time.monotonic() - started:.1f}s")
        assert code == 0, f"SIGTERM must stop the worker cleanly:\n{worker.log_tail()}"
        # Offsets were never committed past the last flush: the next worker redoes the rest.
        broker.restart()
        world.publish(messages[8000:])
        successor = world.worker().start()
        [text] = world.wait_caught_up([successor], 240,
                                      "the next worker to catch up")
        assert_equals_replay(text, path)
