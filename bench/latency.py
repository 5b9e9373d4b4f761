"""Item 5: produce at a steady rate with occurred_at = now while a worker runs; how long until
an event counts on /metrics (probe events, and the worker's own delay histogram)."""

from __future__ import annotations

import re
import statistics
import threading
import time
from typing import Any

import orjson

from bench.changelog import changelog
from bench.common import Run, http_get, say
from bench.dataset import new_producer, send, settings_for, source_topics
from bench.worker import start
from streams.dev.generator import Generator
from streams.dev.localkafka import create_topics
from streams.dev.produce import topic_for
from streams.events import format_timestamp

PROBE_EVERY = 100  # one probe event in this many messages (20/s at 2,000/s)
PROMETHEUS_GAP_S = 15.0  # the scrape_interval of prometheus/prometheus.yml
HAMMER_GAP_S = 0.5  # scrape again 0.5 s after each answer: probes resolved to ~0.6 s
_PROBE = re.compile(rb'^salespulse_touches\{rep_id="r-probe",[^}]*window="1h"\} (\S+)$', re.M)
_BUCKET = re.compile(rb'^salespulse_processing_delay_seconds_bucket\{le="([^"]+)"\} (\S+)$',
                     re.M)


def probe(i: int, now_us: int) -> bytes:
    return orjson.dumps({"event_id": f"probe-{i}", "type": "touch", "rep_id": "r-probe",
                         "team_id": "team-probe", "prospect_id": f"p-probe-{i}",
                         "channel": "email", "occurred_at": format_timestamp(now_us)})


def paced_producer(bootstrap: str, prefix: str, rate: float, seconds: float, reps: int,
                   sent: list[float]) -> None:
    """Send generated events stamped now at `rate`/s; probe i's send time goes to sent[i]."""
    settings = settings_for(bootstrap, prefix)
    producer, gen = new_producer(bootstrap), Generator(reps=reps, teams=20, seed=11)
    start_t, i = time.time(), 0
    while (now := time.time()) - start_t < seconds:
        if i % PROBE_EVERY == 0:
            sent.append(now)
            send(producer, settings.topics["touch"], b"r-probe", probe(len(sent), int(now * 1e6)))
        else:
            event = gen.event(int(now * 1e6))
            value = orjson.dumps(event)
            send(producer, topic_for(settings, value), event["rep_id"].encode(), value)
        producer.poll(0)
        i += 1
        if (ahead := start_t + i / rate - time.time()) > 0.002:
            time.sleep(ahead)
    producer.flush(30)


def poll(url: str, stop: threading.Event, seen: list[tuple[float, float, int]], gap: float
         ) -> None:
    """(sent, received, probe count) of each scrape until `stop`."""
    while not stop.is_set():
        sent = time.time()
        body = http_get(url, timeout=10) or b""
        match = _PROBE.search(body)
        seen.append((sent, time.time(), int(float(match[1])) if match else 0))
        stop.wait(gap)


def histogram(body: bytes) -> dict[float, float]:
    return {float(le): float(n) for le, n in _BUCKET.findall(body)}


def quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float | None:
    """histogram_quantile over the increase between two scrapes (linear within a bucket)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0
    if not total:
        return None
    rank, low, below = q * total, 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return low
            return low + (bound - low) * (rank - below) / max(count - below, 1e-9)
        low, below = bound, count
    return low


def probe_delays(sent: list[float], seen: list[tuple[float, float, int]], since: float
                 ) -> list[float]:
    """Per probe sent after `since`: the first scrape showing it, received, minus its send."""
    delays, j = [], 0
    for k, t_sent in enumerate(sent, 1):
        while j < len(seen) and seen[j][2] < k:
            j += 1
        if j == len(seen):
            break
        if t_sent >= since:
            delays.append(seen[j][1] - t_sent)
    return delays


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(run: Run, prefix: str, partitions: int, rate: float = 2000, seconds: float = 60,
            warmup: float = 15, reps: int = 1000, commit_interval: str = "1.0",
            gap: float = PROMETHEUS_GAP_S) -> dict[str, Any]:
    """A worker on an empty world, fed `rate` events/s for warmup + `seconds`, scraped
    every `gap` seconds (each /metrics render holds the worker's event loop)."""
    create_topics(run.bootstrap, source_topics(prefix), partitions)
    group = run.group("latency")
    worker = start(run.bootstrap, prefix, run.workdir, group, partitions, commit_interval)
    sent: list[float] = []
    seen: list[tuple[float, float, int]] = []
    say(f"latency: {rate:,.0f} events/s for {warmup:.0f}s warm-up + {seconds:.0f}s measured, "
        f"/metrics scraped every {gap:g}s")
    producer = threading.Thread(target=paced_producer, daemon=True,
                                args=(run.bootstrap, prefix, rate, warmup + seconds, reps, sent))
    stop = threading.Event()
    poller = threading.Thread(target=poll, args=(worker.url, stop, seen, gap), daemon=True)
    try:
        producer.start()
        time.sleep(warmup)
        since, before = time.time(), histogram(http_get(worker.url) or b"")
        poller.start()
        producer.join()
        time.sleep(3)  # the last probes reach /metrics
        stop.set()
        poller.join()
        after = histogram(http_get(worker.url) or b"")
    finally:
        worker.stop()
    log = changelog(run, group, partitions)
    delays = probe_delays(sent, seen, since)
    renders = [received - asked for asked, received, _ in seen]
    periods = [b[0] - a[0] for a, b in zip(seen, seen[1:], strict=False)]
    applied = {q: quantile(q, before, after) for q in (0.5, 0.99)}
    render = statistics.median(renders) if renders else 0.0
    doc = {"rate": rate, "seconds": seconds, "reps": reps, "scrape_gap": gap,
           "scrapes": len(seen), "probes": len(delays),
           "probe_p50": pct(delays, 0.5), "probe_p99": pct(delays, 0.99),
           "poll_period_median": statistics.median(periods) if periods else None,
           "scrape_under_load_median": render,
           "applied_p50": applied[0.5], "applied_p99": applied[0.99],
           "visible_p50": None if applied[0.5] is None else applied[0.5] + render,
           "visible_p99": None if applied[0.99] is None else applied[0.99] + render,
           "events_in_histogram": (after.get(float("inf"), 0) - before.get(float("inf"), 0)),
           "changelog": log, "changelog_bytes_per_event": log["bytes"] / max(len(sent), 1)
           / PROBE_EVERY}
    say(f"latency: visible p50 {doc['visible_p50']}, p99 {doc['visible_p99']} "
        f"(probes: p50 {doc['probe_p50']}, p99 {doc['probe_p99']})")
    return doc
