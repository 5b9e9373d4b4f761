"""The real worker on the real broker: /metrics equals replay, bad input is dead-lettered."""

from __future__ import annotations

import gzip
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from streams.catalog import ALERTS, PIPELINE_ALERTS, WINDOWS
from streams.cli import main
from streams.dev.generator import Generator, spaced, stream
from streams.dev.localkafka import LocalKafka, free_port
from streams.dev.produce import publish
from streams.events import (
    REASONS,
    RECORD_REASONS,
    Rejected,
    format_timestamp,
    parse_event,
    parse_timestamp,
)
from streams.render.pages import runbook_url
from streams.replay import replay, to_json
from streams.replay_text import cell
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
    series = {(dict(labels)["reason"], dict(labels)["topic"]): v
              for (name, labels), v in samples(text).items()
              if name == "salespulse_events_rejected_total"}
    # every reason on every topic exists from the start, so increase() sees a first one
    assert set(series) == {(reason, topic) for reason in [*REASONS, *RECORD_REASONS]
                           for topic in world["settings"].topics.values()}
    rejected: Counter[str] = Counter()
    for (reason, _), value in series.items():
        rejected[reason] += int(value)
    assert rejected.pop("type_mismatch") == 1
    assert +rejected == events["rejected"]


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


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _base(world: dict) -> str:
    return world["worker"].url.removesuffix("/metrics")


def test_kpis_page_is_the_replay_json_at_the_same_instant(world: dict) -> None:
    as_of = format_timestamp(time.time_ns() // 1000 + HOUR_US)
    status, body = _get(f"{_base(world)}/kpis?as_of={as_of}")
    assert status == 200
    live = orjson.loads(body)
    report = _replay_at(world["path"], parse_timestamp(as_of))
    assert live["as_of"] == report["as_of"] == as_of
    assert live["reps"] == report["reps"] and live["teams"] == report["teams"]
    assert len(live["reps"]) == 12 * len(WINDOWS)
    events, replayed = live["events"], report["events"]
    assert [events[k] for k in ("applied", "duplicates", "late")] == \
        [replayed[k] for k in ("applied", "duplicates", "late")]
    # the worker also saw the reply published to the touch topic (type_mismatch)
    assert events["rejected"] == dict(Counter(replayed["rejected"]) + Counter(type_mismatch=1))


def test_kpis_page_keeps_one_window_and_names_bad_parameters(world: dict) -> None:
    status, body = _get(f"{_base(world)}/kpis?window=30d")
    doc = orjson.loads(body)
    assert status == 200 and doc["reps"] and doc["teams"]
    assert {r["window"] for r in doc["reps"] + doc["teams"]} == {"30d"}
    status, body = _get(f"{_base(world)}/kpis?window=2w")
    assert status == 400 and b"window must be one of 1h, 24h, 7d, 30d; got '2w'" in body
    status, body = _get(f"{_base(world)}/kpis?as_of=yesterday")
    assert status == 400 and b"as_of must be an RFC 3339 instant" in body


def test_salespulse_kpis_prints_the_live_table(world: dict,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    as_of = format_timestamp(time.time_ns() // 1000 + HOUR_US)
    assert main(["kpis", "--url", _base(world), "--as-of", as_of, "--window", "24h",
                 "--wide"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"KPIs over the last 24h as of {as_of}\n")
    report = _replay_at(world["path"], parse_timestamp(as_of))
    teams = {r["team_id"] for r in report["teams"]}
    assert all(f"team {team}" in out for team in teams)
    team = next(r for r in report["teams"] if r["window"] == "24h")
    lines = out.splitlines()
    start = next(i for i, x in enumerate(lines) if f"team {team['team_id']}" in x)
    reply = next(x for x in lines[start:] if x.startswith("reply rate "))
    assert reply.split()[2] == cell("ratio", team["kpis"]["reply_rate"])  # the team's column
    assert "Events: " in out and "1 type_mismatch" in out


def test_salespulse_kpis_without_a_worker_is_one_clear_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis", "--url", f"http://127.0.0.1:{free_port()}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no worker answers at" in err and "--url" in err


def test_runbook_page_has_an_anchor_for_every_alert(world: dict) -> None:
    status, body = _get(f"{_base(world)}/runbook")
    assert status == 200
    page = body.decode()
    for alert in ALERTS + PIPELINE_ALERTS:
        assert f'id="{alert.name.lower()}"' in page, alert.name
        assert runbook_url(alert.name).endswith(f"/runbook#{alert.name.lower()}")
