"""`salespulse demo`: a local broker (unless one is configured), the worker and the demo
producer, until Ctrl-C; prints where /metrics is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack

from streams.dev.localkafka import LocalKafka, create_topics
from streams.settings import Settings


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: the worker exited with {proc.returncode}; see its log above")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"demo: {url} did not answer within {timeout:.0f}s")


def run(rate: float = 20.0) -> int:
    # SIGTERM (timeout, a supervisor) cleans up like Ctrl-C: nothing may outlive the demo.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    env = dict(os.environ)
    with ExitStack() as stack:
        if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
            print("demo: starting a local Apache Kafka broker...", file=sys.stderr)
            kafka = stack.enter_context(LocalKafka())
            env["KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap
        settings = Settings.from_env(env)
        create_topics(settings.bootstrap_servers, [*settings.topics.values(),
                                                   settings.dead_letter_topic],
                      settings.partitions)
        procs: list[subprocess.Popen[bytes]] = []
        stack.callback(_stop_all, procs)
        cli = [sys.executable, "-m", "streams.cli"]
        worker = subprocess.Popen([*cli, "worker", "-l", "warn"], env=env)
        procs.append(worker)
        url = f"http://{settings.web_host}:{settings.web_port}/metrics"
        _wait_for(url, worker)
        procs.append(subprocess.Popen([*cli, "generate", "--rate", str(rate), "--progress",
                                       "0"], env=env))
        print(f"\ndemo: Kafka at {settings.bootstrap_servers}; live KPIs at {url}\n"
              f"demo: try  curl -s {url} | grep 'salespulse_touches{{'   (Ctrl-C stops all)\n",
              file=sys.stderr, flush=True)
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(1)
            print("demo: a process exited; stopping the rest", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ndemo: stopping...", file=sys.stderr)
            return 0


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
