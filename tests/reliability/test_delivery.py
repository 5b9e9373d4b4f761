"""Real Kafka delivery (events.md "Streams, order and delivery"): backfills read topic by
topic, every compression codec and producer kind, records without a value or in a Kafka
Connect envelope, batches that cannot be decoded, and messages not keyed by rep_id."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2

from streams.dev.localkafka import create_topics
from streams.events import parse_event
from tests.support.formats import format_1_lines, format_1_records, later_lines
from tests.support.metrics import measure_samples, replay_samples
from tests.support.traffic import (
    assert_equals_replay,
    consumed,
    counter_total,
    generated,
    replay_at,
    snapshot_us,
    write_lines,
)
from tests.support.world import World, assert_split

pytestmark = pytest.mark.integration
BACKFILL_ORDER = ("deal", "nps", "meeting", "reply", "touch")  # deals first, touches last


def kind_of(value: bytes) -> str:
    return parse_event(value).type


@pytest.mark.parametrize("workers", [1, 2])
def test_a_backfill_produced_topic_by_topic_equals_replay(make_world: Callable[..., World],
                                                          workers: int) -> None:
    """40 days of history, each topic produced whole before the next (so each stream in
    order, the topics far apart) before any worker starts: /metrics equals replay of the
    file in time order. A global watermark dropped a fifth of the touches here as late."""
    world = make_world(partitions=4)
    messages = generated(16_000, days=40, reps=40, seed=21, dup_ratio=0.01)
    path = write_lines(world.workdir / "events.jsonl", messages)
    for kind in BACKFILL_ORDER:
        world.publish([(rep, value) for rep, value in messages if kind_of(value) == kind])
    started = [world.worker().start() for _ in range(workers)]
    assert_split(world, started, path, scrapes=1)
    texts = [worker.scrape() or "" for worker in started]
    assert sum(counter_total(text, "salespulse_events_late_total") for text in texts) == 0
    assert sum(counter_total(text, "salespulse_touches_on_won_deals") for text in texts) > 0


def produce(world: World, messages: list[tuple[str, bytes]], **options: Any) -> None:
    """Send with a kafka-python producer of the given options (codec, idempotence,
    transactions), each message with a header, keyed by rep_id."""
    transactional = "transactional_id" in options
    producer = KafkaProducer(acks="all", linger_ms=20, **world.client, **options)
    try:
        if transactional:
            producer.init_transactions()
            producer.begin_transaction()
        for rep_id, value in messages:
            producer.send(world.topics[kind_of(value)], key=rep_id.encode(), value=value,
                          headers=[("traceparent", b"00-abc-01"), ("source", b"crm")])
        if transactional:
            producer.commit_transaction()
        producer.flush()
    finally:
        producer.close()


def in_connect_envelope(value: bytes) -> bytes:
    """The event as Kafka Connect's JsonConverter writes it with schemas enabled."""
    event = orjson.loads(value)
    schema = {"type": "struct", "optional": False, "fields": [
        {"field": name, "type": "string", "optional": True} for name in event]}
    return orjson.dumps({"schema": schema, "payload": event})


def test_every_codec_producer_kind_and_record_form_is_read(
        make_world: Callable[..., World]) -> None:
    world = make_world(partitions=2)
    messages = generated(6000, days=3, reps=20, seed=5, dup_ratio=0.01)
    path = write_lines(world.workdir / "events.jsonl", messages)
    kinds: list[dict[str, Any]] = [
        {"compression_type": codec} for codec in ("gzip", "snappy", "lz4", "zstd")]
    kinds += [{"enable_idempotence": True},
              {"transactional_id": f"{world.prefix}-tx", "compression_type": "zstd"}]
    share = len(messages) // (len(kinds) + 1)
    for n, options in enumerate(kinds):
        produce(world, messages[n * share:(n + 1) * share], **options)
    connect = [(rep, in_connect_envelope(value)) for rep, value in messages[len(kinds) * share:]]
    produce(world, connect, compression_type="gzip")
    world.send_raw([("touch", b"r-0001", None)])  # a tombstone
    worker = world.worker().start()
    [text] = world.wait_caught_up([worker], 240, "every record to be read")
    report = assert_equals_replay(text, path)
    assert report["events"]["applied"] > 5500
    [letter] = world.dead_letters(1)
    assert dict(letter.headers)["reason"] == b"tombstone" and letter.value in (b"", None)
    assert counter_total(text, "salespulse_undecodable_batches_total") == 0


# -- batches that cannot be decoded -------------------------------------------------------

BATCH_HEADER = 61  # bytes before the records of a v2 record batch
CRC_AT, ATTRIBUTES_AT = 17, 21


def batch_at(segment: bytes, base_offset: int) -> tuple[int, int]:
    """(position, length) of the record batch starting at `base_offset` in a log segment."""
    position = 0
    while position < len(segment):
        base = int.from_bytes(segment[position:position + 8], "big")
        length = 12 + int.from_bytes(segment[position + 8:position + 12], "big")
        if base == base_offset:
            return position, length
        position += length
    raise AssertionError(f"no batch at offset {base_offset}")


def damage(world: World, topic: str, base_offset: int, how: str) -> None:
    """Rewrite one stored batch in the broker's own log segment, which it serves as is:
    'codec' sets a compression codec no client knows (with a valid CRC), 'crc' flips a
    byte of the compressed records (the CRC no longer matches)."""
    from kafka.record.util import calc_crc32c

    path = world.kafka.data_dir / "logs" / f"{topic}-0" / "00000000000000000000.log"
    segment = bytearray(path.read_bytes())
    at, length = batch_at(bytes(segment), base_offset)
    if how == "codec":
        segment[at + ATTRIBUTES_AT + 1] |= 0x07
        crc = calc_crc32c(memoryview(segment)[at + ATTRIBUTES_AT:at + length])
        segment[at + CRC_AT:at + ATTRIBUTES_AT] = crc.to_bytes(4, "big")
    else:
        segment[at + BATCH_HEADER + 5] ^= 0xFF
    with path.open("r+b") as file:
        file.seek(at)
        file.write(segment[at:at + length])


def send_batch(world: World, messages: list[tuple[str, bytes]]) -> int:
    """One gzip batch of touches to partition 0; its first offset."""
    producer = KafkaProducer(acks="all", linger_ms=500, batch_size=1_000_000,
                             compression_type="gzip", **world.client)
    try:
        futures = [producer.send(world.topics["touch"], key=rep.encode(), value=value,
                                 partition=0) for rep, value in messages]
        producer.flush()
        return min(future.get().offset for future in futures)
    finally:
        producer.close()


def test_batches_that_cannot_be_decoded_are_skipped_reported_and_dead_lettered(
        make_world: Callable[..., World]) -> None:
    world = make_world(partitions=1)
    touches = [m for m in generated(1200, days=1, reps=10, seed=9) if kind_of(m[1]) == "touch"]
    before, bad_codec, bad_crc, after = (touches[:200], touches[200:250], touches[250:300],
                                         touches[300:])
    world.publish(before)
    damage(world, world.topics["touch"], send_batch(world, bad_codec), "codec")
    damage(world, world.topics["touch"], send_batch(world, bad_crc), "crc")
    world.publish(after)
    path = write_lines(world.workdir / "decodable.jsonl", before + after)
    worker = world.worker().start()
    [text] = world.wait_caught_up([worker], 120, "the worker to read past both batches")
    assert_equals_replay(text, path)
    assert counter_total(text, "salespulse_undecodable_batches_total") == 2
    letters = world.dead_letters(2)
    assert [dict(letter.headers)["reason"] for letter in letters] == [b"undecodable_batch"] * 2
    assert b"offsets 200..249" in dict(letters[0].headers)["error"]
    assert b"CRC mismatch" in dict(letters[1].headers)["error"]
    lines = [line for line in worker.log_tail(400).splitlines() if "cannot be decoded" in line]
    assert len(lines) == 2, lines  # one line each, however often the batch is fetched
    worker.stop()
    worker.start()  # committed past them: a restart reads on, nothing to report again
    [text] = world.wait_caught_up([worker], 120, "the restarted worker")
    assert counter_total(text, "salespulse_undecodable_batches_total") == 0
    assert_equals_replay(text, path)


# -- keys ---------------------------------------------------------------------------------


def test_messages_with_another_key_or_none_count_once_with_two_workers(
        make_world: Callable[..., World]) -> None:
    """A third keyed by rep_id, a third with no key, a third keyed by event_id: each rep's
    state in one worker, every event counted once (distinct prospects too). No re-sends:
    a copy that takes another partition than its original may reach the rep's stream
    after the stream has moved past the dedupe horizon (events.md: the order within a
    stream is then whatever the producer's partitions give)."""
    world = make_world(partitions=4)
    messages = generated(6000, days=3, reps=30, seed=8)
    path = write_lines(world.workdir / "events.jsonl", messages)
    keys = (lambda rep, event_id: rep, lambda rep, event_id: None,
            lambda rep, event_id: event_id)
    world.send_raw((kind_of(value), keys[n % 3](rep.encode(), parse_event(value).event_id
                                                .encode()), value)
                   for n, (rep, value) in enumerate(messages))
    workers = [world.worker().start(), world.worker().start()]
    assert_split(world, workers, path, scrapes=2)
    texts = [worker.scrape() or "" for worker in workers]
    # two thirds not keyed by rep_id, three quarters of those on another partition
    assert sum(counter_total(text, "salespulse_events_rekeyed_total") for text in texts) > 2500


# -- state written by other releases ----------------------------------------------------

MARKER = b"\x00flushed"


def changelog_topic(world: World) -> str:
    return f"{world.prefix}-kpi_state-changelog"


def write_changelog(world: World, records: list[tuple[int, bytes, bytes | None]],
                    headers: list[tuple[str, bytes]] | None = None) -> None:
    """(partition, key, value) into the state changelog, as a worker would have."""
    create_topics(world.kafka.bootstrap, [changelog_topic(world)], world.partitions,
                  config={"cleanup.policy": "compact"})
    producer = KafkaProducer(acks="all", linger_ms=10, **world.client)
    try:
        for partition, key, value in records:
            producer.send(changelog_topic(world), key=key, value=value, partition=partition,
                          headers=headers or [])
        producer.flush()
    finally:
        producer.close()


def source_ends(world: World) -> dict[int, dict[str, int]]:
    """Per partition, the end offset of every typed topic."""
    consumer = KafkaConsumer(**world.client)
    try:
        tps = [TopicPartition(topic, p) for topic in world.topics.values()
               for p in range(world.partitions)]
        ends = consumer.end_offsets(tps)
    finally:
        consumer.close()
    by_partition: dict[int, dict[str, int]] = {}
    for tp, end in ends.items():
        by_partition.setdefault(tp.partition, {})[tp.topic] = end
    return by_partition


def test_state_written_by_release_0_1_recovers_exactly(make_world: Callable[..., World]) -> None:
    """The changelog release 0.1 wrote (format 1: no version header) for the events in
    the topics: a worker of this release upgrades it, and after more events every measure
    0.1 had equals replay of all events; the measures added since count from the upgrade."""
    world = make_world(partitions=2)
    old = format_1_lines()
    world.publish([(parse_event(line).rep_id, line) for line in old])
    home = {rep: (murmur2(rep.encode()) & 0x7FFFFFFF) % world.partitions
            for rep in {parse_event(line).rep_id for line in old}}
    records = [(home[orjson.loads(key)[0]], key, value) for key, value in format_1_records()
               if key != MARKER]
    ends = source_ends(world)
    records += [(p, MARKER, orjson.dumps(ends[p])) for p in range(world.partitions)]
    write_changelog(world, records)
    later = later_lines()
    world.publish(later)
    worker = world.worker().start()
    [text] = world.wait_caught_up([worker], 180, "the upgraded worker to catch up")
    everything = write_lines(world.workdir / "all.jsonl", [("", line) for line in old] + later)
    upgrade_on = write_lines(world.workdir / "later.jsonl", later)
    scraped = measure_samples(text)
    as_of = snapshot_us(text)
    want = replay_samples(replay_at(everything, as_of))
    added = replay_samples(replay_at(upgrade_on, as_of))
    for key, value in want.items():
        measure = key[0]
        if measure in ("deals_opened", "proposals_sent"):
            assert scraped[key] == added.get(key, 0), key
        elif not measure.startswith("quote"):  # a first proposal before the upgrade is unknown
            assert scraped[key] == pytest.approx(value, rel=1e-9), key
    assert "state units of an older format read and upgraded" in worker.log_tail(400)


def test_state_written_by_a_newer_release_is_left_alone_not_crash_looped(
        make_world: Callable[..., World]) -> None:
    world = make_world(partitions=2)
    write_changelog(world, [(0, b'["r-x", "meta"]', b"[]"), (0, MARKER, b"{}")],
                    headers=[("v", b"99")])
    messages = generated(2000, days=2, reps=20, seed=3)
    world.publish(messages)
    worker = world.worker().start()
    text = worker.wait_for(lambda: (t := worker.scrape()) and counter_total(
        t, "salespulse_state_unreadable_partitions") == 1 and consumed(t) > 0 and t, 90,
        "the worker to refuse partition 0 and go on with partition 1")
    assert worker.alive  # it went on with partition 1: no crash, no restart
    assert "written by a newer salespulse" in worker.log_tail(400)
    text = worker.scrape() or ""
    reps = {rep for _, rep, _, _ in measure_samples(text)}
    homes = {rep: (murmur2(rep.encode()) & 0x7FFFFFFF) % 2 for rep, _ in messages}
    assert reps and all(homes[rep] == 1 for rep in reps)  # only partition 1's reps


# -- restarts -----------------------------------------------------------------------------


def test_a_worker_killed_and_restarted_gets_its_partitions_back_at_once(
        make_world: Callable[..., World]) -> None:
    """Static membership: with a 60 s session, a restarted worker is exact again well
    before the old member's session could have expired."""
    world = make_world(partitions=4, env={"SALESPULSE_SESSION_TIMEOUT": "60"})
    messages = generated(8000, days=5, reps=40, seed=4)
    path = write_lines(world.workdir / "events.jsonl", messages)
    world.publish(messages[:6000])
    worker = world.worker().start()
    world.wait_caught_up([worker], 120, "the worker to catch up")
    worker.kill()
    world.publish(messages[6000:])
    started = time.monotonic()
    worker.start()
    [text] = world.wait_caught_up([worker], 50, "the restarted worker's partitions")
    elapsed = time.monotonic() - started
    assert_equals_replay(text, path)
    print(f"kill -9, restart: /metrics exact {elapsed:.1f} s after the restart")
    assert elapsed < 45, f"{elapsed:.1f} s: waited for the old session (60 s) to expire"


def test_salespulse_produce_publishes_a_file_to_its_topics_keyed_by_rep(
        make_world: Callable[..., World]) -> None:
    world = make_world(partitions=3)
    messages = generated(1500, days=2, reps=15, seed=13, bad_ratio=0.02)
    path = write_lines(world.workdir / "events.jsonl", messages)
    env = {**os.environ, **world.worker().env}
    done = subprocess.run([sys.executable, "-m", "streams.cli", "produce", str(path)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    invalid = sum(1 for rep, _ in messages if rep == "r-bad")
    assert f"sent {len(messages) - invalid:,} events" in done.stderr and "invalid" in done.stderr
    worker = world.workers[0].start()
    [text] = world.wait_caught_up([worker], 120, "the produced file")
    assert_equals_replay(text, path)
    assert counter_total(text, "salespulse_events_rekeyed_total") == 0  # keyed by rep_id
