"""Goals, the printed table and the results JSON of one bench run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
GiB = 2**30
MiB = 2**20


def _get(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def _ratio(a: Any, b: Any) -> float | None:
    return a / b if a and b else None


def ratios(r: dict[str, Any]) -> dict[str, float | None]:
    worker = _get(r, "throughput.worker.rate")
    return {name: _ratio(worker, _get(r, f"throughput.{name}.rate"))
            for name in ("faust_noop", "aiokafka_json", "aiokafka_orjson", "quix_hopping",
                         "quix_tumbling", "quix_noop", "worker_keyless")}


def full_scale(r: dict[str, Any], key: str) -> tuple[Any, str]:
    """A history figure at 6M events: measured when the run was --full, else extrapolated."""
    measured = {"rss_bytes": _get(r, "history.rss_bytes"),
                "recovery_seconds": _get(r, "history.recovery.seconds")}[key]
    if _get(r, "history.events") and _get(r, "history.events") >= 6_000_000:
        return measured, "measured"
    return _get(r, f"history_full_scale.{key}"), "extrapolated"


def goals(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue #5 with the figure that decides it and whether it is met."""
    rate = ratios(r)
    rss, rss_how = full_scale(r, "rss_bytes")
    recovery, rec_how = full_scale(r, "recovery_seconds")
    rows = [
        ("worker >= 1.0x Faust do-nothing", rate["faust_noop"], lambda v: v >= 1.0, "x"),
        ("worker >= 2x Quix Streams hopping count", rate["quix_hopping"], lambda v: v >= 2.0,
         "x"),
        ("worker >= 1.0x Quix Streams tumbling 1h count (issue 15)", rate["quix_tumbling"],
         lambda v: v >= 1.0, "x"),
        ("engine >= 100k events/s per core", _get(r, "engine.replay.rate_per_cpu_second"),
         lambda v: v >= 100_000, "events/CPU-s"),
        ("engine >= 0.5x plain json.loads of the same lines (issue 15)",
         _ratio(_get(r, "engine.replay.rate_per_cpu_second"),
                _get(r, "engine.replay.json_loads_rate_per_cpu_second")),
         lambda v: v >= 0.5, "x"),
        ("p99 produce-to-metrics < 1 s at 2k/s (scraped every 15 s)",
         _get(r, "latency.visible_p99"),
         lambda v: v < 1.0, "s"),
        (f"RSS < 1 GiB, 30 days x 1,000 reps ({rss_how})", rss and rss / GiB,
         lambda v: v < 1.0, "GiB"),
        (f"recovery < 60 s ({rec_how})", recovery, lambda v: v < 60, "s"),
        ("scrape < 250 ms at 1,000 reps (HTTP)", _get(r, "history.http_scrape.median_seconds"),
         lambda v: v < 0.25, "s"),
        ("render < 250 ms at 10,000 reps, every window (issue 15)",
         _get(r, "scrape.reps_10000.median_seconds"), lambda v: v < 0.25, "s"),
    ]
    return [{"goal": name, "value": value, "unit": unit,
             "met": None if value is None else bool(test(value))}
            for name, value, test, unit in rows]


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "B":
        return f"{value / MiB:,.0f} MiB"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value:.3f} s"
    return f"{value:,.0f}{(' ' + unit) if unit else ''}"


T = "throughput."
ROWS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("1. aiokafka consumer + json.loads", ((T + "aiokafka_json.rate", "ev/s"),)),
    ("1. aiokafka consumer + orjson", ((T + "aiokafka_orjson.rate", "ev/s"),)),
    ("1. Faust agent doing nothing (json Record)", ((T + "faust_noop.rate", "ev/s"),)),
    ("2. salespulse worker, all KPIs, changelog on", ((T + "worker.rate", "ev/s"),)),
    ("2.   worker / Faust do-nothing", (("ratios.faust_noop", "x"),)),
    ("2.   worker / aiokafka json", (("ratios.aiokafka_json", "x"),)),
    ("2.   worker events per CPU-second", ((T + "worker.rate_per_cpu_second", "ev/s"),)),
    ("2. worker, the same events with no key (re-keyed)", ((T + "worker_keyless.rate", "ev/s"),)),
    ("2.   keyed / keyless", (("ratios.worker_keyless", "x"),)),
    ("3. Quix Streams hopping 1d/1h count per rep", ((T + "quix_hopping.rate", "ev/s"),)),
    ("3.   worker / Quix hopping count", (("ratios.quix_hopping", "x"),)),
    ("3. Quix Streams tumbling 1h count per rep", ((T + "quix_tumbling.rate", "ev/s"),)),
    ("3.   worker / Quix tumbling count", (("ratios.quix_tumbling", "x"),)),
    ("3. Quix Streams doing nothing", ((T + "quix_noop.rate", "ev/s"),)),
    ("4. engine alone, replay (wall)", (("engine.replay.rate", "ev/s"),)),
    ("4. engine alone, per CPU-second (per core)",
     (("engine.replay.rate_per_cpu_second", "ev/s"),)),
    ("4. plain json.loads of the same lines, per CPU-second",
     (("engine.replay.json_loads_rate_per_cpu_second", "ev/s"),)),
    ("5. produce->applied p50 / p99 (worker histogram)",
     (("latency.applied_p50", "s"), ("latency.applied_p99", "s"))),
    ("5. produce->visible p50 / p99 (+ scrape render)",
     (("latency.visible_p50", "s"), ("latency.visible_p99", "s"))),
    ("5. same, /metrics hammered every ~0.6 s",
     (("latency_hammered.visible_p50", "s"), ("latency_hammered.visible_p99", "s"))),
    ("5.   hammered, probes' first scrape showing them",
     (("latency_hammered.probe_p50", "s"), ("latency_hammered.probe_p99", "s"))),
    ("6. history the worker holds (events)", (("history.events", ""),)),
    ("6. worker RSS holding it (after its heap trim)", (("history.rss_bytes", "B"),)),
    ("6.   the same at the end of the drain", (("history.rss_bytes_end_of_drain", "B"),)),
    ("6. worker RSS at 6M events (extrapolated)", (("history_full_scale.rss_bytes", "B"),)),
    ("6. engine alone RSS at 6M events (replay)", (("engine.replay_full.rss_bytes", "B"),)),
    ("6. changelog bytes / records",
     (("history.changelog.bytes", "B"), ("history.changelog.records", ""))),
    ("7. recovery to correct /metrics", (("history.recovery.seconds", "s"),)),
    ("7.   recovered worker RSS when correct / after its heap trim",
     (("history.recovery.rss_bytes_when_correct", "B"), ("history.recovery.rss_bytes", "B"))),
    ("7. recovery at 6M events (extrapolated)",
     (("history_full_scale.recovery_seconds", "s"),)),
    ("8. render 1,000 reps (median) / body",
     (("scrape.reps_1000.median_seconds", "s"), ("scrape.reps_1000.bytes", "B"))),
    ("8. render 10,000 reps (median) / body",
     (("scrape.reps_10000.median_seconds", "s"), ("scrape.reps_10000.bytes", "B"))),
    ("8. the same, windows 7d and 30d only (SALESPULSE_EXPORT_WINDOWS)",
     (("scrape.reps_10000_lean.median_seconds", "s"), ("scrape.reps_10000_lean.bytes", "B"))),
    ("8. the same, and only the measures the rules read (SALESPULSE_EXPORT_MEASURES)",
     (("scrape.reps_10000_leanest.median_seconds", "s"),
      ("scrape.reps_10000_leanest.bytes", "B"))),
    ("8. gzip level 1 of the 10,000-rep body: every window / the leanest",
     (("scrape.reps_10000.gzip_seconds", "s"), ("scrape.reps_10000_leanest.gzip_seconds", "s"))),
    ("8. peak RSS holding 1,000 / 10,000 reps (30 events each) and rendering",
     (("scrape.reps_1000.peak_rss_bytes", "B"), ("scrape.reps_10000.peak_rss_bytes", "B"))),
    ("8. HTTP GET /metrics of the worker, 1,000 reps",
     (("history.http_scrape.median_seconds", "s"),)),
)


def rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines of the printed table."""
    return [(label, " / ".join(_fmt(_get(r, path), unit) for path, unit in cells))
            for label, cells in ROWS]


def table(doc: dict[str, Any]) -> str:
    r = doc["results"]
    lines = [f"{label:<52} {value}" for label, value in rows(r)]
    lines += ["", "goals:"]
    for g in doc["goals"]:
        mark = {True: "MET   ", False: "MISSED", None: "n/a   "}[g["met"]]
        value = _fmt(g["value"], g["unit"]) if g["unit"] != "GiB" else (
            "n/a" if g["value"] is None else f"{g['value']:.2f} GiB")
        lines.append(f"  {mark} {g['goal']}: {value}")
    return "\n".join(lines)


def write(doc: dict[str, Any]) -> Path:
    """bench/results/<timestamp>.json and latest.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, default=str) + "\n"
    path = RESULTS / f"{doc['stamp']}.json"
    path.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    return path
