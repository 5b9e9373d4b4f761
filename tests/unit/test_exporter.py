"""The /metrics body: one gauge per measure and rep window, escaped labels, exact values."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streams.catalog import ALERTS, MEASURES, WINDOWS
from streams.catalog.export import measure_readers
from streams.settings import Settings, SettingsError
from streams.worker.pipeline import Pipeline
from tests.support.metrics import measure_samples, samples

NOW = 1_795_500_000.0  # seconds


def _touch(rep_id: str, team_id: str, n: int, seconds_ago: float = 60) -> bytes:
    return orjson.dumps({"event_id": f"t{n}", "type": "touch", "rep_id": rep_id,
                         "team_id": team_id, "prospect_id": f"p{n}", "channel": "call",
                         "outcome": "connected", "occurred_at": _rfc3339(NOW - seconds_ago)})


def _rfc3339(seconds: float) -> str:
    from streams.events import format_timestamp

    return format_timestamp(int(seconds * 1e6))


def _pipeline(**env: str) -> Pipeline:
    # one partition: every rep's home, so no message here is re-keyed (test_pipeline.py)
    return Pipeline(Settings.from_env({"SALESPULSE_PARTITIONS": "1", **env}), clock=lambda: NOW)


@pytest.mark.parametrize("rep_id", ['quote"d', "back\\slash", "new\nline", "ü-日本-😀", "r 1"])
def test_label_values_round_trip_through_the_text_format(rep_id: str) -> None:
    pipeline = _pipeline()
    assert pipeline.handle("sales.touches", 0, 0, None, _touch(rep_id, f"team {rep_id}", 1)) is None
    scraped = measure_samples(pipeline.scrape().decode())
    assert scraped[("touches", rep_id, f"team {rep_id}", "7d")] == 1
    assert scraped[("calls_connected", rep_id, f"team {rep_id}", "1h")] == 1


def test_every_measure_and_window_is_exported_per_rep() -> None:
    pipeline = _pipeline()
    for n, rep in enumerate(("a", "b", "c")):
        pipeline.handle("sales.touches", 0, n, None, _touch(rep, "t", n))
    scraped = measure_samples(pipeline.scrape().decode())
    assert len(scraped) == 3 * len(WINDOWS) * len(MEASURES)
    assert sum(v for (m, _, _, w), v in scraped.items() if m == "touches" and w == "1h") == 3


def test_a_deployment_exports_only_its_windows() -> None:
    full, lean = _pipeline(), _pipeline(SALESPULSE_EXPORT_WINDOWS="30d, 7d")
    for pipeline in (full, lean):
        for n, rep in enumerate(("a", "b")):
            pipeline.handle("sales.touches", 0, n, None, _touch(rep, "t", n))
    everything = measure_samples(full.scrape().decode())
    kept = measure_samples(lean.scrape().decode())
    assert kept == {key: v for key, v in everything.items() if key[3] in ("7d", "30d")}
    assert len(kept) == 2 * 2 * len(MEASURES)


def test_a_window_the_alert_rules_read_cannot_be_dropped() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SALESPULSE_EXPORT_WINDOWS": "1h,24h,30d"})
    assert str(refused.value).startswith("SALESPULSE_EXPORT_WINDOWS=1h,24h,30d leaves out 7d")
    weekly = [a.name for a in ALERTS if a.window == "7d"]
    assert weekly and all(name in str(refused.value) for name in weekly)
    with pytest.raises(SettingsError, match="unknown window 2d; the windows are 1h, 24h, 7d"):
        Settings.from_env({"SALESPULSE_EXPORT_WINDOWS": "7d,30d,2d"})


def test_a_deployment_exports_only_its_measures() -> None:
    required = sorted(measure_readers())
    full, lean = _pipeline(), _pipeline(SALESPULSE_EXPORT_MEASURES=",".join(required))
    for pipeline in (full, lean):
        for n, rep in enumerate(("a", "b")):
            pipeline.handle("sales.touches", 0, n, None, _touch(rep, "t", n))
    everything = measure_samples(full.scrape().decode())
    kept = measure_samples(lean.scrape().decode())
    assert kept == {key: v for key, v in everything.items() if key[0] in required}
    assert kept[("prospects_touched", "a", "t", "7d")] == 1
    assert len(kept) == 2 * len(WINDOWS) * len(required) < len(everything)


def test_a_measure_an_alert_reads_cannot_be_dropped() -> None:
    without_no_shows = ",".join(m.name for m in MEASURES if m.name != "meetings_no_show")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SALESPULSE_EXPORT_MEASURES": without_no_shows})
    assert "leaves out meetings_no_show, which SalesShowRateLow read" in str(refused.value)
    with pytest.raises(SettingsError, match="unknown measure emails; the measures are touches"):
        Settings.from_env({"SALESPULSE_EXPORT_MEASURES": "emails"})


def test_the_measures_kept_are_every_one_the_alert_rules_read() -> None:
    """Resolve each alert rule (expression and annotations) through the recording rules
    down to the worker's series: exactly the measures the worker refuses to drop."""
    rules = {path.name: yaml.safe_load(path.read_text())
             for path in Path("prometheus/rules").glob("*.yml")}
    recorded = {r["record"]: r["expr"] for group in rules["salespulse-recording.yml"]["groups"]
                for r in group["rules"]}
    exported = {m.metric: m.name for m in MEASURES}

    def measures(text: str) -> set[str]:
        found = set()
        for name in set(re.findall(r"[a-z_]+:salespulse_[a-z_]+:[a-z_]+|salespulse_[a-z_]+",
                                   text)):
            if name in recorded:
                found |= measures(recorded[name])
            elif name in exported:
                found.add(exported[name])
        return found

    read = set()
    for group in rules["salespulse-alerts.yml"]["groups"]:
        for rule in group["rules"]:
            read |= measures(rule["expr"] + " ".join(rule["annotations"].values()))
    assert read == set(measure_readers())


def test_windows_roll_with_the_clock() -> None:
    clock = [NOW]
    pipeline = Pipeline(Settings.from_env({"SALESPULSE_PARTITIONS": "1"}),
                        clock=lambda: clock[0])
    pipeline.handle("sales.touches", 0, 0, None, _touch("a", "t", 1, seconds_ago=30))
    clock[0] += 2 * 3600
    scraped = measure_samples(pipeline.scrape().decode())
    assert scraped[("touches", "a", "t", "1h")] == 0
    assert scraped[("touches", "a", "t", "24h")] == 1


def test_rejections_are_counted_and_returned_as_dead_letters() -> None:
    pipeline = _pipeline()
    letter = pipeline.handle("sales.touches", 2, 41, b"k", b'{"type": "touch"')
    assert letter is not None and letter.reason == "invalid_json" and letter.value == \
        b'{"type": "touch"'
    assert dict(letter.headers())["source_offset"] == b"41"
    body = samples(pipeline.scrape().decode())
    assert body[("salespulse_events_rejected_total",
                 (("reason", "invalid_json"), ("topic", "sales.touches")))] == 1


def test_the_rep_cap_dead_letters_new_reps() -> None:
    pipeline = _pipeline(SALESPULSE_MAX_REPS="2")
    reasons = [pipeline.handle("sales.touches", 0, n, None, _touch(f"r{n}", "t", n))
               for n in range(4)]
    assert [r and r.reason for r in reasons] == [None, None, "rep_limit", "rep_limit"]
    assert pipeline.handle("sales.touches", 0, 9, None, _touch("r1", "t", 9)) is None


def test_no_ids_but_rep_and_team_in_labels() -> None:
    pipeline = _pipeline()
    pipeline.handle("sales.touches", 0, 0, None, _touch("a", "t", 1))
    labels = {name for (_, pairs) in samples(pipeline.scrape().decode()) for name, _ in pairs}
    assert labels <= {"rep_id", "team_id", "window", "type", "reason", "topic", "partition",
                      "le", "version", "python", "faust", "kpi", "field", "scope"}


def test_a_batch_scrapes_like_one_message_at_a_time() -> None:
    """handle_many (the worker's fetch) == handle per message: samples and dead letters."""
    from streams.dev.generator import Generator, spaced, stream

    start = int((NOW - 3 * 86400) * 1e6)
    offsets: Counter[tuple[str, int]] = Counter()
    messages = []
    for n, (_, raw) in enumerate(stream(Generator(reps=12, seed=4), spaced(
            start, 20_000_000, 3000, seed=4), bad_ratio=0.02, dup_ratio=0.03)):
        tp = ("sales.touches" if b'"touch"' in raw else "sales.replies", n % 3)
        messages.append((*tp, offsets[tp], None, raw, ()))
        offsets[tp] += 1
    messages += [messages[5], messages[40]]  # redelivered: skipped by position
    one, many = _pipeline(SALESPULSE_MAX_REPS="9"), _pipeline(SALESPULSE_MAX_REPS="9")
    letters_one = [letter for m in messages if (letter := one.handle(*m)) is not None]
    letters_many = [letter for at in range(0, len(messages), 250)
                    for letter in many.handle_many(messages[at:at + 250])]
    assert letters_many == letters_one
    reasons = {getattr(letter, "reason", "re-keyed") for letter in letters_one}
    assert reasons >= {"rep_limit", "type_mismatch", "re-keyed"}

    def own(text: str) -> dict[Any, float]:  # not the process' own (memory, CPU)
        return {k: v for k, v in samples(text).items() if not k[0].startswith("process_")}

    assert own(many.scrape().decode()) == own(one.scrape().decode())


def test_no_message_past_a_hole_is_applied() -> None:
    """Offsets apply in order: one past a hole is left for a rewind, one below the
    position is already in the state; a hole confirmed empty is stepped over."""
    pipeline = _pipeline()
    touch = [_touch("a", "t", n) for n in range(4)]
    pipeline.handle("sales.touches", 0, 0, None, touch[0])
    pipeline.handle("sales.touches", 0, 2, None, touch[2])  # @1 did not come
    assert pipeline.offsets.rewinds == {("sales.touches", 0): 1}
    assert pipeline.offsets.positions[("sales.touches", 0)] == 1
    pipeline.offsets.rewinds.clear()
    for offset in (1, 0, 2):  # read again from the position: @0 is redelivered
        pipeline.handle("sales.touches", 0, offset, None, touch[offset])
    pipeline.offsets.skip_hole(("sales.touches", 0), 5)  # @3 and @4: transaction markers, say
    pipeline.handle("sales.touches", 0, 5, None, touch[3])
    assert not pipeline.offsets.rewinds
    text = pipeline.scrape().decode()
    assert measure_samples(text)[("touches", "a", "t", "24h")] == 4
    assert samples(text)[("salespulse_events_redelivered_total", ())] == 1


def test_the_pipeline_metrics_are_exactly_the_catalogs() -> None:
    """Every name the alert rules, boards and promtool cases use comes from the catalog:
    the exporter registers those and no other."""
    from streams.catalog import PIPELINE_METRICS
    from streams.worker.metrics import PipelineMetrics

    registry = PipelineMetrics().registry
    exported = {(family.name, family.type) for family in registry.collect()
                if not family.name.startswith("process_")}  # prometheus-client's own
    assert exported == {(m.metric, m.kind) for m in PIPELINE_METRICS}
