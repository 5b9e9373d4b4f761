"""Fuzzed, oversized and pathological input: no crash, every bad message dead-lettered
with its reason, every valid one counted, labels escaped, memory bounded."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streams.dev.generator import Generator
from streams.events import DEFAULT_MAX_SKEW_US, Rejected, format_timestamp, parse_event
from streams.events.explain import explain
from tests.reliability.fuzz import Fuzzer, Message
from tests.support.metrics import samples
from tests.support.traffic import (
    DAY_US,
    assert_equals_replay,
    counter_total,
    generated,
    now_us,
    write_lines,
)
from tests.support.world import World

pytestmark = pytest.mark.integration
FUZZED = 10_000
BIG = 16 * 1024 * 1024  # topics and the test producer take messages up to this size
DEAD_LETTER_MAX = 1_000_000
ODD_IDS = ('rep "quoted"', "rep\\back\\slash", "rep\nnew line", "répé ✓ 日本 🚀", "r}{,=\"\\n")


def odd_label_events(count: int) -> list[tuple[str, bytes]]:
    """Valid events whose rep and team ids need escaping in the exposition format."""
    gen = Generator(reps=len(ODD_IDS), teams=len(ODD_IDS), seed=5)
    for rep, odd in zip(gen.reps, ODD_IDS, strict=True):
        rep.rep_id, rep.team_id = odd, f"team {odd}"
    start = now_us() - DAY_US
    events = [gen.event(start + i * 60_000_000) for i in range(count)]
    return [(e["rep_id"], orjson.dumps(e)) for e in events]


def verdict(kind: str, value: bytes) -> str | None:
    """The contract's reason for rejecting a message on `kind`'s topic, or None."""
    try:
        try:
            parse_event(value, kind, now_us())
        except RecursionError:  # the bug test_contract_bugs.py shows: the fallback decides
            explain(value, kind, now_us(), DEFAULT_MAX_SKEW_US)
        return None
    except Rejected as exc:
        return exc.reason


def letter_id(reason: str, value: bytes, size: int) -> tuple[str, int, str]:
    """What identifies a dead letter: reason, original size, digest of the kept head."""
    return reason, size, hashlib.sha1(value[:DEAD_LETTER_MAX]).hexdigest()


def received_letter(record: Any) -> tuple[str, int, str]:
    headers = {k: v.decode() for k, v in record.headers}
    size = int(headers.get("original_size", len(record.value)))
    assert (size > DEAD_LETTER_MAX) == (headers.get("truncated") == "true")
    return letter_id(headers["reason"], record.value, size)


def assert_in_source_order(records: list[Any], partitions: int) -> None:
    """A source partition's rejects share one dead-letter partition, in source order."""
    offsets: dict[tuple[str, int], list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        headers = {k: v.decode() for k, v in record.headers}
        source = (headers["source_topic"], int(headers["source_partition"]))
        assert record.partition == source[1] % partitions, headers
        offsets.setdefault(source, []).append(int(headers["source_offset"]))
    assert all(found == sorted(found) for found in offsets.values())


def classify(fuzzed: list[Message]) -> tuple[Counter[tuple[str, int, str]], list[Any]]:
    """Expected dead letters, and the fuzzed messages that are valid after all (an unknown
    field, a null optional one), which must then be counted."""
    letters: Counter[tuple[str, int, str]] = Counter()
    accepted = []
    for kind, key, value in fuzzed:
        reason = verdict(kind, value)
        if reason is None:
            assert b"\n" not in value
            event = orjson.loads(value)
            if event.get("type") is None:  # a topic implies it; a file line must say it
                value = orjson.dumps(event | {"type": kind})
            accepted.append(((key or b"").decode(), value))
        else:
            letters[letter_id(reason, value, len(value))] += 1
    return letters, accepted


def ancient(valid: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Valid events from 1970, 2001 and 45 days ago: late once the watermark is known."""
    stamps = (0, 10**15, now_us() - 45 * DAY_US)
    return [(rep_id, orjson.dumps(orjson.loads(value) | {
        "event_id": f"ancient-{i}", "occurred_at": format_timestamp(stamps[i % 3])}))
        for i, (rep_id, value) in enumerate(valid[:30])]


def rejected_by_reason(text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for (name, labels), value in samples(text).items():
        if name == "salespulse_events_rejected_total":
            counts[dict(labels)["reason"]] += int(value)
    return counts


def test_fuzzed_input_is_dead_lettered_and_valid_input_counted(
        make_world: Callable[..., World]) -> None:
    world = make_world(topic_config={"max.message.bytes": str(BIG)})
    worker = world.worker().start()
    valid = generated(5000, days=2, reps=30, seed=21) + odd_label_events(150)
    fuzzer = Fuzzer(valid, seed=21)
    fuzzed = [*fuzzer.messages(FUZZED), *(fuzzer.oversized(n) for n in (1_000_001, 3_000_000)),
              fuzzer.oversized(10 * 1024 * 1024)]
    letters, accepted = classify(fuzzed)
    third = len(valid) // 3
    world.publish(valid[:third])
    world.wait_caught_up([worker], 120, "the valid warm-up traffic")
    rss_before = worker.rss_mb()
    world.send_raw(fuzzed, max_request_size=BIG)
    world.publish(valid[third:])
    world.wait_caught_up([worker], 300, "the fuzzed traffic")
    rss_after = worker.rss_mb()
    late = ancient(valid)
    world.publish(late)
    [text] = world.wait_caught_up([worker], 120, "the ancient events")

    assert worker.alive and "Traceback" not in worker.log_path.read_text()
    path = write_lines(world.workdir / "valid.jsonl",
                       valid[:third] + accepted + valid[third:] + late)
    report = assert_equals_replay(text, path)
    assert report["events"]["late"] == len(late)
    assert counter_total(text, "salespulse_events_late_total") == len(late)
    reasons: Counter[str] = Counter()
    for (reason, _, _), count in letters.items():
        reasons[reason] += count
    assert rejected_by_reason(text) == reasons
    received = world.dead_letters(sum(letters.values()))
    assert Counter(map(received_letter, received)) == letters
    assert_in_source_order(received, world.partitions)
    for odd in ODD_IDS:
        escaped = odd.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        assert f'rep_id="{escaped}"' in text
    started = time.monotonic()
    worker.scrape()
    scrape_ms = (time.monotonic() - started) * 1000
    print(f"fuzz: {len(fuzzed)} messages, rejected by reason {dict(sorted(reasons.items()))}, "
          f"{len(accepted)} fuzzed but valid, RSS {rss_before:.0f} -> {rss_after:.0f} MiB, "
          f"scrape {scrape_ms:.0f} ms")
    assert rss_after - rss_before < 200
