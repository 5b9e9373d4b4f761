"""Real Prometheus and Alertmanager processes on loopback, and a webhook receiver."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from streams.dev.localkafka import free_port
from tests.support.poll import until

INSTALL_HINT = ("install the Debian packages: apt-get install prometheus "
                "prometheus-alertmanager (scripts/setup.sh alerting does it)")


def binary(*names: str) -> str:
    """The first of `names` on PATH; a clear error (never a skip) when none is."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(f"none of {names} found on PATH: {INSTALL_HINT}")


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
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

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


class Webhook:
    """Alertmanager webhook receiver: keeps every (path, payload) it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook._lock:
                    hook.received.append((self.path.strip("/"), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def alerts(self, receiver: str | None = None) -> list[dict[str, Any]]:
        """Every alert delivered (to `receiver`, the last part of the URL path)."""
        with self._lock:
            return [alert for path, payload in self.received
                    if receiver is None or path == receiver for alert in payload["alerts"]]

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
