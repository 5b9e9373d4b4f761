"""Items 6-7 and the HTTP half of 8: a worker holding 30 days of 1,000 reps (its memory, its
changelog, one real scrape), then a fresh worker rebuilding that state from the changelog."""

from __future__ import annotations

import statistics
import time
from typing import Any

import psutil

from bench.changelog import changelog
from bench.common import Run, http_get, say
from bench.dataset import produce, source_topics
from bench.profile import record, stop_profile, summarise
from bench.throughput import TIMEOUT_S
from bench.worker import BenchWorker, first_message_time, start, wait_drained
from streams.events import format_timestamp
from streams.worker.memory import TRIM_EVERY_S

RECOVERY_TIMEOUT_S = 900.0
SETTLE_S = TRIM_EVERY_S + 5


def settled_rss(worker: BenchWorker) -> int:
    """RSS once the worker has run its periodic heap trim (streams/memory.py) after a
    burst: what it holds rather than the garbage of the burst."""
    time.sleep(SETTLE_S)
    return int(psutil.Process(worker.proc.pid).memory_info().rss)  # type: ignore[union-attr]


def measure_lines(body: bytes) -> list[bytes]:
    """The per-rep measure samples of a /metrics body, in order."""
    return [line for line in body.splitlines() if b'rep_id="' in line and line[:1] != b"#"]


def http_scrape(url: str, times: int = 5) -> dict[str, Any]:
    """Median wall time and size of real GET /metrics of a running worker."""
    seconds, size = [], 0
    for _ in range(times):
        t0 = time.perf_counter()
        size = len(http_get(url) or b"")
        seconds.append(time.perf_counter() - t0)
    return {"median_seconds": statistics.median(seconds), "min_seconds": min(seconds),
            "bytes": size}


def recover(run: Run, prefix: str, group: str, partitions: int, as_of: str,
            expected: list[bytes]) -> dict[str, Any]:
    """Start a fresh worker in the same group; time until /metrics equals `expected`."""
    worker = BenchWorker(run.bootstrap, prefix, run.workdir, partitions,
                         extra_env={"SALESPULSE_APP_ID": group})
    worker.start(RECOVERY_TIMEOUT_S)
    served = time.time()
    raw = run.workdir / "worker-recovery.pyspy.txt"
    spy = record(worker.proc.pid, RECOVERY_TIMEOUT_S, raw)  # type: ignore[union-attr]
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    differing = -1
    try:
        while time.monotonic() < deadline:
            lines = measure_lines((worker.scrape(as_of) or "").encode())
            if lines == expected:
                ready = time.time()
                rss = psutil.Process(worker.proc.pid).memory_info().rss  # type: ignore[union-attr]
                stop_profile(spy)
                return {"seconds": ready - worker.started, "after_metrics_up": ready - served,
                        "correct": True, "rss_bytes_when_correct": rss,
                        "rss_bytes": settled_rss(worker), "samples": len(lines),
                        "profile": summarise(raw)}
            differing = len(set(expected) ^ set(lines))
            time.sleep(0.5)
    finally:
        stop_profile(spy)
        worker.stop()
    return {"seconds": None, "correct": False, "differing_samples": differing}


def measure(run: Run, prefix: str, events: int, partitions: int, reps: int = 1000,
            days: float = 30) -> dict[str, Any]:
    """Fill a world with `days` of history, drain it into a (profiled) worker, then recover."""
    world = produce(run.bootstrap, prefix, events, reps, 20, days, partitions)
    group = run.group("history")
    say(f"history: a worker drains {events:,} events (profiled with py-spy)")
    worker = start(run.bootstrap, prefix, run.workdir, group, partitions)
    raw = run.workdir / "worker-drain.pyspy.txt"
    spy = record(worker.proc.pid, TIMEOUT_S, raw)  # type: ignore[union-attr]
    try:
        first = first_message_time(worker)
        count, last = wait_drained(worker, run.bootstrap, group, source_topics(prefix), events,
                                   TIMEOUT_S)
        stop_profile(spy)
        rss = psutil.Process(worker.proc.pid).memory_info().rss  # type: ignore[union-attr]
        rss_settled = settled_rss(worker)
        as_of = format_timestamp(time.time_ns() // 1000 + 60_000_000)
        expected = measure_lines((worker.scrape(as_of) or "").encode())
        scrape = http_scrape(worker.url)
    finally:
        worker.stop()  # SIGTERM: the last flush and commit happen here
    say(f"history: {count / (last - first):,.0f} events/s while profiled; RSS "
        f"{rss / 2**20:,.0f} MiB at the end of the drain, {rss_settled / 2**20:,.0f} MiB "
        f"{SETTLE_S:.0f} s later; {len(expected):,} measure samples")
    log = changelog(run, group, partitions)
    say(f"history: changelog {log['records']:,} records, {log['bytes'] / 2**20:,.0f} MiB; "
        "recovering in a fresh worker")
    recovery = recover(run, prefix, group, partitions, as_of, expected)
    say(f"history: recovery {recovery}")
    return {"events": events, "reps": reps, "days": days, "produce": world,
            "drain_rate_profiled": count / (last - first), "rss_bytes": rss_settled,
            "rss_bytes_end_of_drain": rss,
            "changelog": log, "http_scrape": scrape, "recovery": recovery,
            "profile": summarise(raw)}


def extrapolate(history: dict[str, Any], engine: dict[str, Any]) -> dict[str, Any]:
    """Full-scale estimates from a smaller history: the worker's RSS grows as the engine's
    does between the worker's history size and full scale; changelog and recovery grow
    with the events."""
    full = engine["replay_full"]
    small = engine.get("replay_history_size") or engine["replay"]
    if history["events"] == full["messages"]:  # --full: measured, nothing to add
        small = {"rss_bytes": full["rss_bytes"]}
    factor = full["messages"] / history["events"]
    recovery = history["recovery"].get("seconds")
    return {"events": full["messages"], "factor": factor,
            "rss_bytes": history["rss_bytes"] + full["rss_bytes"] - small["rss_bytes"],
            "changelog_bytes": history["changelog"]["bytes"] * factor,
            "changelog_records": history["changelog"]["records"] * factor,
            "recovery_seconds": recovery * factor if recovery is not None else None}
