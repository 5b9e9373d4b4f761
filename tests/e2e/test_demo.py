"""`salespulse demo` as a newcomer runs it: its own Kafka, the worker, Prometheus,
Alertmanager and the console pager, until the breaching rep's manager is paged; then
Ctrl-C stops everything with exit 0."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.catalog import ALERTS
from streams.dev.daemons import answers
from streams.dev.demo import BREACH_REP, BREACH_TEAM
from streams.dev.localkafka import free_port
from tests.support.poll import until

pytestmark = pytest.mark.e2e
CLOSE_RATIO = next(a for a in ALERTS if a.name == "SalesCloseRatioLow")
# alerting/teams.yml routes team-02 to team-02-manager
PAGE = (f"PAGE {BREACH_TEAM}-manager: Rep {BREACH_REP} (team {BREACH_TEAM}) wins 16.67% of "
        "closed deals over the last 30 days; the target is 65%. (deals_won 1, deals_won + "
        "deals_lost 6)")


class Demo:
    """The demo in its own session (Ctrl-C reaches its whole process group, as in a
    terminal), its output collected line by line."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KAFKA_", "SALESPULSE_"))}
        env["SALESPULSE_DATA_DIR"] = str(tmp_path / "data")
        self.proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "demo", *args],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self.threads = [threading.Thread(target=self._read, args=(s, lines), daemon=True)
                        for s, lines in ((self.proc.stdout, self.out),
                                         (self.proc.stderr, self.err))]
        for thread in self.threads:
            thread.start()

    @staticmethod
    def _read(stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line.rstrip("\n"))

    def ctrl_c(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        code = self.proc.wait(90)
        for thread in self.threads:
            thread.join(10)
        return code

    def log(self) -> str:
        return "\n".join(["stdout:", *self.out, "stderr:", *self.err])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path, "--web-port", str(free_port()), "--rate", "20")
    yield running
    if running.proc.poll() is None:
        os.killpg(running.proc.pid, signal.SIGKILL)


def test_the_demo_pages_the_breaching_reps_manager_and_stops_cleanly(demo: Demo) -> None:
    until(lambda: PAGE in demo.out, 240, "the breach page on the console", demo.log)
    urls = dict(re.findall(r"^  (live KPIs|alerts|Alertmanager)\s+(\S+)", "\n".join(demo.err),
                           re.M))
    assert set(urls) == {"live KPIs", "alerts", "Alertmanager"}, demo.log()
    with urllib.request.urlopen(urls["live KPIs"] + "?window=30d", timeout=10) as response:
        reps = {r["rep_id"]: r for r in json.load(response)["reps"]}
    assert reps[BREACH_REP]["kpis"]["close_ratio"] == pytest.approx(1 / 6)
    assert reps[BREACH_REP]["kpis"]["close_ratio"] < CLOSE_RATIO.threshold
    assert answers(urls["alerts"]) and answers(urls["Alertmanager"])
    assert demo.ctrl_c() == 0, demo.log()
    assert not any("Traceback" in line for line in demo.out + demo.err), demo.log()
    assert demo.err[-1] == "demo: stopped"
    for url in urls.values():  # nothing outlives the demo
        assert not answers(url), url


def test_a_busy_port_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "streams.cli", "demo", "--web-port",
                               str(port)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and f"port {port}" in done.stderr, done.stderr
    assert "--web-port" in done.stderr and "SALESPULSE_WEB_PORT" in done.stderr
