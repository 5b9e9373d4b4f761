"""Run a real `salespulse worker` process against the local broker, and talk to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.dev.localkafka import create_topics, free_port
from streams.settings import TOPIC_DEFAULTS
from tests.support.poll import until


def topic_env(prefix: str) -> dict[str, str]:
    """Topic names of one isolated test world."""
    env = {f"SALESPULSE_TOPIC_{kind.upper()}": f"{prefix}.{name}"
           for kind, name in TOPIC_DEFAULTS.items()}
    env["SALESPULSE_TOPIC_DEADLETTER"] = f"{prefix}.sales.deadletter"
    env["SALESPULSE_TOPIC_REKEYED"] = f"{prefix}.sales.rekeyed"
    return env


class WorkerProcess:
    """A worker subprocess with its own web port; logs go to a file for post-mortems."""

    def __init__(self, bootstrap: str, prefix: str, workdir: Path, partitions: int = 4,
                 extra_env: dict[str, str] | None = None, host: str = "127.0.0.1",
                 admin: dict[str, Any] | None = None) -> None:
        """`admin`: kafka-python options to create the topics with (e.g. SCRAM)."""
        self.host, self.port = host, free_port()
        self.log_path = workdir / f"worker-{self.port}.log"
        self.env = {**os.environ, **topic_env(prefix),
                    "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SALESPULSE_APP_ID": prefix,
                    "SALESPULSE_PARTITIONS": str(partitions),
                    "SALESPULSE_DATA_DIR": str(workdir / f"data-{self.port}"),
                    "SALESPULSE_COMMIT_INTERVAL": "0.5", **(extra_env or {})}
        self.topics = [v for k, v in self.env.items() if k.startswith("SALESPULSE_TOPIC_")]
        create_topics(bootstrap, self.topics, partitions, **(admin or {}))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def start(self, timeout: float = 90) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(self.port),
             "--web-host", self.host, "-l", "info"], env=self.env, stdout=log,
            stderr=subprocess.STDOUT)
        if timeout:
            self.wait_for(lambda: self.scrape() is not None, timeout, "the worker's /metrics")
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the worker process, in MiB."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc status")

    def scrape(self, as_of: str | None = None, timeout: float = 5) -> str | None:
        """The /metrics body; None when it does not answer within `timeout` seconds."""
        url = self.url + (f"?as_of={as_of}" if as_of else "")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read().decode()
        except OSError:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n"
                                   + self.log_tail()) from None
            return None

    def wait_for(self, ready: Callable[[], Any], timeout: float, what: str) -> Any:
        return until(ready, timeout, what, self.log_tail)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM: the exit code, or None when the worker had not exited `timeout` seconds
        later (it is then killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stop(self) -> None:
        self.terminate(30)
