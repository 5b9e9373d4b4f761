"""The real worker on the real broker: /metrics equals replay, bad input is dead-lettered."""

from __future__ import annotations

import gzip
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from streams.dev.generator import Generator, spaced, stream
from streams.dev.localkafka import LocalKafka
from streams.dev.produce import publish
from streams.events import Rejected, format_timestamp, parse_event
from streams.replay import replay, to_json
from streams.settings import Settings
from tests.support.metrics import assert_same, measure_samples, replay_samples, samples
from tests.support.worker import WorkerProcess, topic_env

pytestmark = pytest.mark.integration
HOUR_US = 3_600_000_000


def _event_file(path: Path, now_us: int) -> list[tuple[str, bytes]]:
    """~3 days of generated traffic with bad lines and re-sends, plus one late event."""
    gen = Generator(reps=12, teams=3, seed=11)
    count = 2500
    step = 3 * 24 * HOUR_US * 8 // (10 * count)  # ends about 14 h before now
    messages = list(stream(gen, spaced(now_us - 3 * 24 * HOUR_US, step, count, seed=3),
                           0.02, 0.02))
    late = {"event_id": "late-1", "type": "nps", "rep_id": "r-0000", "team_id": "team-00",
            "occurred_at": format_timestamp(now_us - 45 * 24 * HOUR_US), "score": 10}
    messages.append(("r-0000", orjson.dumps(late)))
    path.write_bytes(b"".join(line + b"\n" for _, line in messages))
    return messages


def _counter_total(text: str, name: str) -> float:
    return sum(v for (n, _), v in samples(text).items() if n == name)


def _consumed(text: str | None) -> float:
    if text is None:
        return -1
    return sum(_counter_total(text, f"salespulse_events_{kind}_total")
               for kind in ("processed", "duplicate", "late", "rejected"))


@pytest.fixture(scope="module")
def world(kafka: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    workdir = tmp_path_factory.mktemp("worker")
    prefix = f"it{int(time.time())}"
    worker = WorkerProcess(kafka.bootstrap, prefix, workdir, partitions=3)
    worker.start()
    path = workdir / "events.jsonl"
    messages = _event_file(path, time.time_ns() // 1000)
    settings = Settings.from_env({**topic_env(prefix), "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap})
    mismatch = orjson.dumps({"event_id": "mm-1", "type": "reply", "occurred_at":
                             format_timestamp(time.time_ns() // 1000), "rep_id": "r-0001",
                             "team_id": "team-01", "prospect_id": "p", "channel": "email",
                             "sentiment": "positive"})
    publish(settings, messages)
    publish(settings, [("r-0001", mismatch)], topic=settings.topics["touch"])
    expected_messages = len(messages) + 1
    worker.wait_for(lambda: _consumed(worker.scrape()) >= expected_messages, 120,
                    f"{expected_messages} messages consumed")
    yield {"worker": worker, "path": path, "lines": [line for _, line in messages],
           "settings": settings,
           "mismatch": mismatch, "kafka": kafka}
    worker.stop()


def _replay_at(path: Path, as_of_us: int) -> dict:
    return orjson.loads(to_json(replay(path, as_of_us, progress=False)))


def test_metrics_equal_replay_at_the_scrape_instant(world: dict) -> None:
    text = world["worker"].scrape()
    as_of_us = round(_counter_total(text, "salespulse_snapshot_timestamp_seconds") * 1e6)
    report = _replay_at(world["path"], as_of_us)
    assert report["events"]["applied"] > 2000 and report["events"]["late"] == 1
    assert_same(measure_samples(text), replay_samples(report))


def test_windows_decay_as_time_passes(world: dict) -> None:
    later = time.time_ns() // 1000 + 2 * HOUR_US
    text = world["worker"].scrape(format_timestamp(later))
    scraped = measure_samples(text)
    assert_same(scraped, replay_samples(_replay_at(world["path"], later)))
    assert all(v == 0 for (_, _, _, window), v in scraped.items() if window == "1h")
    assert any(v > 0 for (_, _, _, window), v in scraped.items() if window == "24h")


def test_counters_match_the_contract(world: dict) -> None:
    text = world["worker"].scrape()
    report = _replay_at(world["path"], time.time_ns() // 1000)
    events = report["events"]
    assert _counter_total(text, "salespulse_events_processed_total") == events["applied"]
    assert _counter_total(text, "salespulse_events_duplicate_total") == events["duplicates"]
    assert _counter_total(text, "salespulse_events_late_total") == events["late"] == 1
    rejected = {dict(labels)["reason"]: v for (name, labels), v in samples(text).items()
                if name == "salespulse_events_rejected_total"}
    assert rejected.pop("type_mismatch") == 1
    assert rejected == events["rejected"]


def test_every_bad_message_is_in_the_dead_letter_topic(world: dict) -> None:
    expected = Counter()
    for line in world["lines"]:
        try:
            parse_event(line, now_us=time.time_ns() // 1000)
        except Rejected as exc:
            expected[(exc.reason, line)] += 1
    expected[("type_mismatch", world["mismatch"])] += 1
    consumer = KafkaConsumer(world["settings"].dead_letter_topic,
                             bootstrap_servers=world["kafka"].bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    got = Counter()
    for record in consumer:
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["source_topic"] in world["settings"].topics.values()
        assert int(headers["source_offset"]) >= 0 and headers["error"]
        got[(headers["reason"], record.value)] += 1
    consumer.close()
    assert got == expected


def test_metrics_pass_promtool_check_metrics(world: dict) -> None:
    """Prometheus' own linter of the exposition: names, units, types, help."""
    text = world["worker"].scrape()
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_metrics_come_gzipped_when_asked(world: dict) -> None:
    request = urllib.request.Request(world["worker"].url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        text = gzip.decompress(response.read()).decode()
    names = {name for name, _ in samples(text)}
    assert {"salespulse_touches", "salespulse_build_info", "process_resident_memory_bytes"} <= \
        names
