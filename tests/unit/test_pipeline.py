"""The pipeline alone (no Kafka): re-keying, re-sent copies, tombstones, undecodable batches."""

from __future__ import annotations

import orjson
from kafka.partitioner.default import murmur2

from streams.settings import Settings
from streams.worker.pipeline import DeadLetter, Forward, Pipeline, origin_headers

SETTINGS = Settings(partitions=4)
TOUCHES = SETTINGS.topics["touch"]
REKEYED = SETTINGS.repartition_topic
NOW = 1_800_000_000.0


def touch(event_id: str, rep: str = "r-7") -> bytes:
    return orjson.dumps({"event_id": event_id, "occurred_at": "2026-11-20T09:15:00Z",
                         "rep_id": rep, "team_id": "t", "prospect_id": "p", "channel": "call"})


def home(rep: str) -> int:
    return (murmur2(rep.encode()) & 0x7FFFFFFF) % SETTINGS.partitions


def pipeline() -> Pipeline:
    return Pipeline(SETTINGS, clock=lambda: NOW)


def test_a_message_on_its_reps_partition_is_applied_any_key() -> None:
    p = pipeline()
    assert p.handle(TOUCHES, home("r-7"), 0, None, touch("a")) is None
    assert p.handle(TOUCHES, home("r-7"), 1, b"other", touch("b")) is None
    assert p.engine.counts.applied == 2


def test_a_message_on_another_partition_is_re_keyed_not_applied() -> None:
    p = pipeline()
    elsewhere = (home("r-7") + 1) % 4
    sent = p.handle(TOUCHES, elsewhere, 5, None, touch("a"))
    assert sent == Forward("r-7", home("r-7"), touch("a"), origin_headers(TOUCHES, elsewhere, 5))
    assert p.engine.counts.applied == 0 and p.offsets.positions[(TOUCHES, elsewhere)] == 6


def test_re_keyed_copies_of_applied_source_messages_are_skipped() -> None:
    p = pipeline()
    partition = home("r-7")
    for offset, (source_offset, event_id) in enumerate([(5, "a"), (9, "b"), (5, "a"),
                                                       (9, "b"), (12, "c")]):
        assert p.handle(REKEYED, partition, offset, b"r-7", touch(event_id),
                        origin_headers(TOUCHES, 3, source_offset)) is None
    assert p.engine.counts.applied == 3 and p.engine.counts.duplicates == 0
    assert p.offsets.forwarded[partition] == {f"{TOUCHES}/3": 12}


def test_a_tombstone_is_dead_lettered_with_its_reason() -> None:
    letter = pipeline().handle(TOUCHES, 0, 0, b"r-7", None)
    assert isinstance(letter, DeadLetter) and letter.reason == "tombstone"


def test_an_undecodable_batch_is_stepped_over_before_or_after_it_is_reported() -> None:
    p = pipeline()
    partition = home("r-7")
    p.handle(TOUCHES, partition, 0, None, touch("a"))
    p.offsets.skip_undecodable((TOUCHES, partition), 1, 11)  # reported while the position is at it
    assert p.offsets.positions[(TOUCHES, partition)] == 11
    p.offsets.skip_undecodable((TOUCHES, partition), 20, 30)  # reported ahead of the position
    for offset in range(11, 20):
        p.handle(TOUCHES, partition, offset, None, touch(f"m{offset}"))
    p.handle(TOUCHES, partition, 30, None, touch("after"))
    assert p.engine.counts.applied == 11 and not p.offsets.rewinds
