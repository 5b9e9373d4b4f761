"""Two workers in one group: the sum of their /metrics equals replay and no rep is
exported twice, before, during and after one of them leaves and comes back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.traffic import generated, write_lines
from tests.support.world import World, assert_split

pytestmark = pytest.mark.integration


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
