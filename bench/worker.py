"""The real `salespulse worker` as a bench subject: start it, wait for it, read its counters."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaAdminClient

from bench.common import consumed, gauge, http_get
from tests.support.worker import WorkerProcess

FAST_POLL_S = 0.02


class BenchWorker(WorkerProcess):
    """The test harness's worker process, logging warnings only."""

    def start(self, timeout: float = 120) -> BenchWorker:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--web-port",
                 str(self.port), "-l", "warn"], env=self.env, stdout=log,
                stderr=subprocess.STDOUT)
        self.started = time.time()
        self.wait_for(lambda: self.scrape() is not None, timeout, "the worker's /metrics")
        return self


def start(bootstrap: str, prefix: str, workdir: Path, app_id: str, partitions: int,
          commit_interval: str = "1.0") -> BenchWorker:
    """A worker on the world `prefix` in consumer group `app_id`, with the default commit."""
    worker = BenchWorker(bootstrap, prefix, workdir, partitions,
                         extra_env={"SALESPULSE_APP_ID": app_id,
                                    "SALESPULSE_COMMIT_INTERVAL": commit_interval})
    return worker.start()


def first_message_time(worker: WorkerProcess, timeout: float = 120) -> float:
    """Poll fast while the engine is empty (cheap scrapes); the wall time just before the
    first processed message (the last poll that still saw none)."""
    deadline = time.monotonic() + timeout
    before = time.time()
    while time.monotonic() < deadline:
        sent = time.time()
        body = http_get(worker.url)
        if body is not None and consumed(body) > 0:
            return before
        before = sent
        time.sleep(FAST_POLL_S)
    raise TimeoutError(f"no message processed in {timeout}s:\n{worker.log_tail()}")


def committed(bootstrap: str, group: str, topics: list[str]) -> int:
    """Offsets the group has committed on `topics`, summed (asked of the broker, so the
    worker spends nothing on it: a /metrics render at 1,000 reps costs ~0.2 s of its loop)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    finally:
        admin.close()
    return sum(max(0, meta.offset) for tp, meta in offsets.items() if tp.topic in topics)


def wait_drained(worker: WorkerProcess, bootstrap: str, group: str, topics: list[str],
                 expected: int, timeout: float) -> tuple[int, float]:
    """Wait until the group committed all `expected` messages, then read the worker's
    counters once; (messages dealt with, wall time of the last one)."""
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        if worker.proc is not None and worker.proc.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{worker.log_tail()}")
        done = committed(bootstrap, group, topics)
        body = http_get(worker.url) if done >= expected else None
        if body is not None and consumed(body) >= expected:
            return consumed(body), gauge(body, "salespulse_last_processed_timestamp_seconds") or 0
        time.sleep(0.5)
    raise TimeoutError(f"{done:,} of {expected:,} messages committed after {timeout:.0f}s:\n"
                       f"{worker.log_tail()}")
