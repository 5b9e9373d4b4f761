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
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata

from streams.events import format_timestamp, parse_event
from tests.support.poll import until
from tests.support.traffic import DAY_US, assert_equals_replay, consumed, generated, write_lines
from tests.support.worker import WorkerProcess
from tests.support.world import World, lags

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


def test_kill_9_mid_stream_loses_nothing_and_counts_nothing_twice(
        make_world: Callable[..., World]) -> None:
    seed = int(os.environ.get("RELIABILITY_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    world = make_world()
    # Enough that a worker applying ~60k messages/s is still mid-stream at every kill,
    # although each handles thousands between reaching its target and the kill (a busy
    # worker answers the scrape that sees its target late).
    messages = with_stragglers(generated(120_000, days=10, reps=40, seed=seed, bad_ratio=0.01,
                                         dup_ratio=0.02), rng)
    path = write_lines(world.workdir / "events.jsonl", messages)
    world.publish(messages)
    worker = world.worker()
    for kill in range(KILLS):
        worker.start()
        target = rng.randint(300, 4000)
        # polled every 20 ms: a worker at ~60k messages/s would be done before a slower poll
        text = until(partial(handled, worker, target), 180,
                     f"{target} messages handled (seed {seed})", worker.log_tail, every=0.02)
        worker.kill()
        assert sum(lags(text).values()) > 0, f"kill {kill} came after the end (seed {seed})"
    started = time.monotonic()
    worker.start()
    [text] = world.wait_caught_up([worker], 240,
                                  f"the restarted worker to catch up (seed {seed})")
    print(f"crash test seed {seed}: caught up {time.monotonic() - started:.1f}s after the "
          f"last restart")
    report = assert_equals_replay(text, path)
    assert report["events"]["applied"] > 38_000


def commit_group(world: World, offsets: dict[TopicPartition, int], timeout: float) -> None:
    """Commit `offsets` for the world's group once its killed member is gone."""
    consumer = KafkaConsumer(group_id=world.prefix, enable_auto_commit=False, **world.client)

    def committed() -> bool:
        try:
            consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
            return True
        except CommitFailedError:  # the group still has the dead member (its session)
            return False

    try:
        consumer.assign(list(offsets))
        until(committed, timeout, "the group to take a commit", every=1)
    finally:
        consumer.close()


def test_resumes_where_the_recovered_state_ends(make_world: Callable[..., World]) -> None:
    """A restarted worker consumes from its recovered flush marker, not from the group's
    committed offsets, when those are further: once, the group's offset of a partition
    was ahead of the marker a restarted worker recovered, and the message in between was
    lost. Here the group's offsets are moved to the end of every partition by hand."""
    world = make_world()
    messages = generated(3000, days=2, reps=20, seed=11, dup_ratio=0.02)
    path = write_lines(world.workdir / "events.jsonl", messages)
    world.publish(messages[:2000])
    worker = world.worker().start()
    world.wait_caught_up([worker], 240, "the worker to catch up")
    worker.kill()
    world.publish(messages[2000:])
    ends = {TopicPartition(topic, p): 0 for topic in world.topics.values()
            for p in range(world.partitions)}
    probe = KafkaConsumer(**world.client)
    try:
        ends = probe.end_offsets(list(ends))
    finally:
        probe.close()
    commit_group(world, ends, 120)  # as if the killed worker had handled everything
    worker.start()
    [text] = world.wait_caught_up(
        [worker], 240, "the restarted worker to handle the 1,000 newer messages",
        settled=lambda texts: consumed(texts[0]) >= 1000)
    assert_equals_replay(text, path)
