"""A flood of distinct reps is capped (counted, dead-lettered, logged once), not an OOM."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from streams.events import format_timestamp
from tests.support.traffic import HOUR_US, counter_total, generated, now_us
from tests.support.world import World

pytestmark = pytest.mark.integration
CAP = 500
FLOOD = 100_000


def flood(count: int) -> list[tuple[str, bytes]]:
    """One NPS answer for each of `count` new reps."""
    stamp = format_timestamp(now_us() - HOUR_US)
    return [(f"flood-{i}", orjson.dumps({
        "event_id": f"f-{i}", "type": "nps", "occurred_at": stamp, "rep_id": f"flood-{i}",
        "team_id": f"t-{i % 50}", "score": i % 11})) for i in range(count)]


def test_a_flood_of_new_reps_is_capped(make_world: Callable[..., World]) -> None:
    # Faust's stall check after 5 s instead of 5 min: the flood is a backlog of 10 s+
    world = make_world(env={"SALESPULSE_MAX_REPS": str(CAP), "STREAM_PROCESSING_TIMEOUT": "5"})
    worker = world.worker().start()
    world.publish(generated(1000, days=1, reps=20, seed=4))
    world.wait_caught_up([worker], 120, "the warm-up traffic")
    rss_before = worker.rss_mb()
    world.publish(flood(FLOOD))
    [text] = world.wait_caught_up([worker], 300, "the flood")
    rss_after = worker.rss_mb()

    over = FLOOD - (CAP - 20)
    assert counter_total(text, "salespulse_reps") == CAP
    rejected = counter_total(text, "salespulse_events_rejected_total")
    assert rejected == over
    assert world.end_offsets(world.dead_letter_topic) == over
    log = worker.log_path.read_text()
    assert log.count(f"rep cap of {CAP} reached") == 1
    assert "processing" not in log, "Faust's stall check fired: " + next(
        line for line in log.splitlines() if "processing" in line)
    print(f"rep cap: {FLOOD} new reps, {over} dead-lettered (rep_limit), RSS "
          f"{rss_before:.0f} -> {rss_after:.0f} MiB")
    assert rss_after - rss_before < 100
