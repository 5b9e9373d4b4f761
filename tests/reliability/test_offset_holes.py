"""Offsets that hold no record (a transactional producer's commit markers) are stepped
over: the worker applies messages strictly in offset order, and a hole makes it check
the log before it goes on, so nothing is lost and it never stalls on a real hole."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kafka import KafkaProducer

from streams.dev.produce import topic_for
from tests.support.traffic import assert_equals_replay, consumed, generated, write_lines
from tests.support.world import World

pytestmark = pytest.mark.integration
PER_TRANSACTION = 50


def test_commit_markers_of_a_transactional_producer_are_stepped_over(
        make_world: Callable[..., World]) -> None:
    world = make_world(partitions=2)
    worker = world.worker().start()
    messages = generated(600, days=1, reps=10, seed=9)
    producer = KafkaProducer(transactional_id=f"{world.prefix}-tx", **world.client)
    try:
        producer.init_transactions()
        for at in range(0, len(messages), PER_TRANSACTION):  # each commit takes an offset
            producer.begin_transaction()
            for rep_id, value in messages[at:at + PER_TRANSACTION]:
                producer.send(topic_for(world.settings, value), key=rep_id.encode(),
                              value=value)
            producer.commit_transaction()
    finally:
        producer.close()

    text = worker.wait_for(lambda: t if consumed(t := worker.scrape()) >= len(messages)
                           else None, 120, "the transactional messages")
    assert_equals_replay(text, write_lines(world.workdir / "events.jsonl", messages))
    assert "has no records at offsets" in worker.log_path.read_text()
