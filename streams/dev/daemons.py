"""Real Prometheus and Alertmanager processes on loopback (the demo and the tests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from streams.dev.localkafka import free_port
from streams.dev.wait import until

INSTALL_HINT = ("install the Debian packages: apt-get install prometheus "
                "prometheus-alertmanager (scripts/setup.sh alerting does it)")


def binary(*names: str) -> str:
    """The first of `names` on PATH; a clear error (never a skip) when none is."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(f"none of {names} found on PATH: {INSTALL_HINT}")


def answers(url: str) -> bool:
    """`url` answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Daemon:
    """A server process with a log file, ready once `ready_path` answers 200."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path) -> None:
        self.name, self.argv, self.port = name, argv, port
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/-/ready", timeout: float = 30) -> Daemon:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        try:
            until(lambda: self._ready(ready_path), timeout, f"{self.name} to be ready",
                  self.log_tail, every=0.2)
        except TimeoutError:
            self.stop()
            raise
        return self

    def _ready(self, path: str) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                               + self.log_tail())
        return answers(self.url + path)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def prometheus(config: Path, workdir: Path) -> Daemon:
    port = free_port()
    return Daemon("prometheus", [
        binary("prometheus"), f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], port, workdir)


def alertmanager(config: Path, workdir: Path) -> Daemon:
    port = free_port()
    return Daemon("alertmanager", [
        binary("prometheus-alertmanager", "alertmanager"), f"--config.file={config}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        "--log.level=warn"], port, workdir)


def query(prom: Daemon, expr: str) -> list[dict[str, Any]]:
    """An instant query; raises on a PromQL error."""
    url = f"{prom.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise AssertionError(f"query failed: {expr}\n{body}")
    return body["data"]["result"]  # type: ignore[no-any-return]
