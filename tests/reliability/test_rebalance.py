"""Two workers in one group: the sum of their /metrics equals replay and no rep is
exported twice, before, during and after one of them leaves and comes back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.events import format_timestamp
from tests.support.metrics import assert_same, measure_samples, replay_samples
from tests.support.traffic import generated, now_us, replay_at, write_lines
from tests.support.worker import WorkerProcess
from tests.support.world import World, lags

pytestmark = pytest.mark.integration
SCRAPES = 3


def assert_split(world: World, workers: list[WorkerProcess], path: Path) -> None:
    """At a few common instants: each rep in one worker only, and the sums equal replay."""
    texts = world.wait_caught_up(workers, 240, "the group to settle and catch up")
    assert all(lags(text) for text in texts), "every worker holds partitions"
    for _ in range(SCRAPES):
        as_of = now_us()
        texts = [worker.scrape(format_timestamp(as_of)) for worker in workers]
        assert all(text is not None for text in texts)
        per_worker = [measure_samples(text) for text in texts]  # type: ignore[arg-type]
        reps = [{rep for _, rep, _, _ in samples} for samples in per_worker]
        assert sum(map(len, reps)) == len(set().union(*reps)), "a rep exported twice"
        total: Counter[tuple[str, str, str, str]] = Counter()
        for samples in per_worker:
            total.update(samples)
        expected = replay_samples(replay_at(path, as_of))
        assert_same(dict(total), expected)


def test_two_workers_split_the_reps_and_hand_them_over(
        make_world: Callable[..., World]) -> None:
    world = make_world(partitions=4)
    a, b = world.worker().start(), world.worker().start()
    messages = generated(9000, days=5, reps=40, seed=6, bad_ratio=0.01, dup_ratio=0.02)
    first, second = len(messages) // 3, 2 * len(messages) // 3

    world.publish(messages[:first])
    assert_split(world, [a, b], write_lines(world.workdir / "1.jsonl", messages[:first]))

    b.stop()  # a takes over b's partitions, from the changelog
    world.publish(messages[first:second])
    assert_split(world, [a], write_lines(world.workdir / "2.jsonl", messages[:second]))

    b.start()  # and gives some back: their reps leave a's /metrics
    world.publish(messages[second:])
    assert_split(world, [a, b], write_lines(world.workdir / "3.jsonl", messages))
