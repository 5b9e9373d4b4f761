"""Every measurement of issue #5 in one run on one local Kafka broker."""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import engine, history, latency, report, throughput
from bench.common import Run, run_child, say
from bench.dataset import produce
from streams.catalog.export import measure_readers
from streams.dev.localkafka import KAFKA_VERSION, LocalKafka

PACKAGES = ("faust-streaming", "aiokafka", "quixstreams", "confluent-kafka", "kafka-python",
            "orjson", "msgspec", "prometheus-client", "py-spy")
STAGES = ("throughput", "engine", "latency", "latency_hammered", "history", "scrape")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--events", type=int, default=500_000, help="throughput set (default 500k)")
    p.add_argument("--history-events", type=int, default=300_000,
                   help="30-day history the worker holds (default 300k; --full: 6M)")
    p.add_argument("--full", action="store_true", help="the worker holds all 6M events")
    p.add_argument("--engine-events", type=int, default=1_000_000)
    p.add_argument("--full-events", type=int, default=6_000_000,
                   help="engine-alone memory at this size (default 6M)")
    p.add_argument("--latency-seconds", type=float, default=60)
    p.add_argument("--repeat", type=int, default=1, help="best of N per throughput subject")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--only", nargs="+", choices=STAGES, default=list(STAGES))
    args = p.parse_args(argv)
    if args.full:
        args.history_events = args.full_events
    return args


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                  .splitlines() if line.startswith("model name")), platform.processor())
    return {"cores": os.cpu_count(), "cpu": model, "platform": platform.platform(),
            "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "load_average_at_start": os.getloadavg()}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "kafka_broker": KAFKA_VERSION}
    for name in PACKAGES:
        found[name] = version(name)
    return found


def code_state() -> dict[str, Any]:
    """Which worker was measured: HEAD, files changed since, a hash of streams/ as run."""
    root = Path(__file__).resolve().parents[1]

    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    digest = hashlib.sha256()
    for path in sorted((root / "streams").rglob("*.py")):
        digest.update(path.read_bytes())
    return {"git_head": git("rev-parse", "HEAD"),
            "uncommitted": git("status", "--porcelain", "streams").splitlines(),
            "streams_sha256": digest.hexdigest()}


LEAN_WINDOWS = "7d,30d"  # the windows the alert rules read: SALESPULSE_EXPORT_WINDOWS's least
RULE_MEASURES = ",".join(sorted(measure_readers()))  # SALESPULSE_EXPORT_MEASURES's least
SCRAPES = {"reps_1000": (1000, "", ""), "reps_10000": (10_000, "", ""),
           "reps_10000_lean": (10_000, LEAN_WINDOWS, ""),
           "reps_10000_leanest": (10_000, LEAN_WINDOWS, RULE_MEASURES)}


def scrape(run: Run) -> dict[str, Any]:
    out = {}
    for name, (reps, windows, measures) in SCRAPES.items():
        say(f"scrape: rendering /metrics for {reps:,} reps, windows {windows or 'all'}, "
            f"measures {'those the rules read' if measures else 'all'}")
        out[name] = run_child("bench.scrape", ["--reps", str(reps), "--windows", windows,
                                               "--measures", measures], 900,
                              run.log(f"scrape-{name}"))
    return out


def stages(run: Run, args: argparse.Namespace, results: dict[str, Any]
           ) -> dict[str, Callable[[], Any]]:
    def tput() -> Any:
        world = f"{run.stamp}-tput"
        results["throughput_set"] = produce(run.bootstrap, world, args.events, 1000, 20, 3.5,
                                            args.partitions, merged=True)
        results["keyless_set"] = produce(run.bootstrap, f"{world}-keyless", args.events, 1000,
                                         20, 3.5, args.partitions, keyed=False)
        return throughput.measure(run, world, args.events, args.partitions, args.repeat)

    return {
        "throughput": tput,
        "engine": lambda: engine.measure(run, args.engine_events, args.full_events,
                                         args.history_events),
        "latency": lambda: latency.measure(run, f"{run.stamp}-lat", args.partitions,
                                           seconds=args.latency_seconds),
        "latency_hammered": lambda: latency.measure(run, f"{run.stamp}-lath", args.partitions,
                                                    seconds=args.latency_seconds,
                                                    gap=latency.HAMMER_GAP_S),
        "history": lambda: history.measure(run, f"{run.stamp}-hist", args.history_events,
                                           args.partitions),
        "scrape": lambda: scrape(run),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{stamp}-"))
    doc: dict[str, Any] = {"stamp": stamp, "machine": machine(), "versions": versions(),
                           "code": code_state(),
                           "config": vars(args), "workdir": str(workdir), "results": {},
                           "errors": {}}
    results = doc["results"]
    started = time.monotonic()
    with LocalKafka(data_dir=workdir / "kafka", heap="1g") as kafka:
        run = Run(kafka.bootstrap, workdir / "kafka", workdir, stamp.lower())
        for name, stage in stages(run, args, results).items():
            if name not in args.only:
                continue
            try:
                results[name] = stage()
            except Exception as exc:  # one failed stage must not lose the others
                traceback.print_exc()
                doc["errors"][name] = f"{type(exc).__name__}: {exc}"[:2000]
    shutil.rmtree(workdir / "kafka", ignore_errors=True)  # GBs of topics; the logs stay
    if {"history", "engine"} <= results.keys():
        results["history_full_scale"] = history.extrapolate(results["history"],
                                                            results["engine"])
    results["ratios"] = report.ratios(results)
    doc["goals"] = report.goals(results)
    doc["code_at_end"] = code_state()  # others may edit streams/ while the bench runs
    doc["duration_seconds"] = round(time.monotonic() - started)
    path = report.write(doc)
    print(report.table(doc))
    print(f"\nresults: {path} (and {path.parent / 'latest.json'}); logs in {workdir}")
    return 1 if doc["errors"] else 0
