"""Items 1-3: baselines, the real worker and the Quix Streams peer draining the same topics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.common import Run, cpu_seconds, run_child, say
from bench.dataset import merged_topic, source_topics
from bench.worker import first_message_time, start, wait_drained

TIMEOUT_S = 1800.0


def drain_child(run: Run, name: str, module: str, topics: list[str], expected: int,
                *extra: str) -> dict[str, Any]:
    """One consumer child over `topics` in its own group, from the earliest offset."""
    say(f"{name}: draining {expected:,} messages")
    group = run.group(name)
    args = ["--bootstrap", run.bootstrap, "--topics", ",".join(topics), "--group", group,
            "--expected", str(expected), "--state-dir", str(run.workdir / group), *extra]
    result = run_child(module, args, TIMEOUT_S, run.log(name))
    say(f"{name}: {result['rate']:,.0f} events/s ({result['count']:,} in "
        f"{result['seconds']:.1f}s)")
    return result


def worker_drain(run: Run, prefix: str, expected: int, partitions: int,
                 name: str = "worker") -> dict[str, Any]:
    """The real worker (all KPIs, changelog on) from its first processed message to its last."""
    say(f"{name}: draining {expected:,} messages")
    group = run.group(name)
    worker = start(run.bootstrap, prefix, run.workdir, group, partitions)
    try:
        first = first_message_time(worker)
        cpu = cpu_seconds(worker.proc.pid)  # type: ignore[union-attr]
        count, last = wait_drained(worker, run.bootstrap, group, source_topics(prefix),
                                   expected, TIMEOUT_S)
        cpu = cpu_seconds(worker.proc.pid) - cpu  # type: ignore[union-attr]
    finally:
        worker.stop()
    seconds = last - first
    say(f"{name}: {count / seconds:,.0f} events/s ({count:,} in {seconds:.1f}s, "
        f"{cpu:.1f} CPU s)")
    return {"count": count, "seconds": seconds, "rate": count / seconds, "cpu_seconds": cpu,
            "rate_per_cpu_second": count / cpu}


def best(measure: Callable[[], dict[str, Any]], repeat: int) -> dict[str, Any]:
    """The fastest of `repeat` runs, with every run's rate."""
    runs = [measure() for _ in range(repeat)]
    top = max(runs, key=lambda r: r["rate"])
    return {**top, "runs": [round(r["rate"]) for r in runs]}


def measure(run: Run, prefix: str, messages: int, partitions: int,
            repeat: int = 1) -> dict[str, Any]:
    """Every subject over the same `messages`, one after the other on the same broker."""
    five, merged = source_topics(prefix), [merged_topic(prefix)]
    subjects: dict[str, Callable[[], dict[str, Any]]] = {
        "aiokafka_json": lambda: drain_child(run, "aiokafka_json", "bench.raw_consumer", five,
                                             messages, "--decoder", "json"),
        "aiokafka_orjson": lambda: drain_child(run, "aiokafka_orjson", "bench.raw_consumer",
                                               five, messages, "--decoder", "orjson"),
        "faust_noop": lambda: drain_child(run, "faust_noop", "bench.faust_noop", five,
                                          messages),
        "worker": lambda: worker_drain(run, prefix, messages, partitions),
        # the same events with no key: ~3/4 of them re-keyed through the re-keyed topic
        "worker_keyless": lambda: worker_drain(run, f"{prefix}-keyless", messages, partitions,
                                               "worker_keyless"),
        "quix_noop": lambda: drain_child(run, "quix_noop", "bench.quix_peer", merged,
                                         messages, "--mode", "noop"),
        "quix_hopping": lambda: drain_child(run, "quix_hopping", "bench.quix_peer", merged,
                                            messages, "--mode", "hopping"),
        "quix_tumbling": lambda: drain_child(run, "quix_tumbling", "bench.quix_peer", merged,
                                             messages, "--mode", "tumbling"),
    }
    return {name: best(fn, repeat) for name, fn in subjects.items()}
