"""`salespulse demo`: the product on one machine, no Docker: a Kafka broker (unless one is
configured), the worker with goals.yml, Prometheus with the generated rules, Alertmanager
with the generated routing, a console pager, a week of history and live demo traffic, in
which one rep loses most of their deals, so a manager is paged within a minute or two.

Ctrl-C (or SIGTERM) stops everything and exits 0. Demo rules fire without their `for:`
wait and managers are paged at any hour; the shipped files keep both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import orjson

from streams.dev.daemons import INSTALL_HINT, Daemon, alertmanager, answers, binary, prometheus
from streams.dev.generator import Generator, spaced, stream
from streams.dev.localkafka import LocalKafka, LocalKafkaError, create_topics
from streams.dev.pager import console_pager
from streams.dev.produce import publish
from streams.dev.wait import until
from streams.events import format_timestamp
from streams.render import promconfig, yamltext
from streams.render.alertmanager import OUTPUT as ROUTING
from streams.render.alertmanager import (
    TEAMS_FILE,
    load_routing,
    render_alertmanager,
    with_webhooks,
)
from streams.render.rules import render_rules
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
REPS, TEAMS = 20, 4
SKILL = (1.4, 1.8)  # reps on their goals, mostly: the pages that come are worth reading
BREACH_REP, BREACH_TEAM = "r-0042", "team-02"  # wins 1 of 6 deals: below the 65% goal
DAY_US = 86_400_000_000
PAGING = {"group_wait": "5s", "group_interval": "30s", "repeat_interval": "4h"}


class DemoError(Exception):
    """Why the demo cannot start, in one line that says what to do."""


def run(rate: float = 20.0, web_port: int | None = None) -> int:
    # SIGTERM (a timeout, a supervisor) cleans up like Ctrl-C: nothing may outlive the demo.
    # Ctrl-C too when started with SIGINT ignored (a script's background job), where
    # Python installs no handler: the worker would stop alone and the demo call it a crash.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.default_int_handler)
    try:
        with ExitStack() as stack:
            return _run(stack, rate, web_port)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndemo: stopped", file=sys.stderr)
        return 0


def _run(stack: ExitStack, rate: float, web_port: int | None) -> int:
    env = dict(os.environ)
    if web_port:
        env["SALESPULSE_WEB_PORT"] = str(web_port)
    if (ROOT / "goals.yml").is_file():
        env.setdefault("SALESPULSE_GOALS", str(ROOT / "goals.yml"))
    settings = Settings.from_env(env)
    _check_ready(settings)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="salespulse-demo-")))
    env.setdefault("SALESPULSE_DATA_DIR", str(workdir / "worker-data"))
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        _say("starting a local Apache Kafka broker...")
        try:
            kafka = stack.enter_context(LocalKafka())
        except LocalKafkaError as exc:
            raise DemoError(f"Kafka did not start: {exc}") from None
        env["KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap
        settings = Settings.from_env(env)
    create_topics(settings.bootstrap_servers, sorted({*settings.event_topics,
                                                      settings.dead_letter_topic}),
                  settings.partitions)
    pager = stack.enter_context(console_pager())
    am = _start(stack, alertmanager(_routing(workdir, pager.url), workdir))
    procs: list[subprocess.Popen[bytes]] = []
    stack.callback(_stop_all, procs)
    worker_url = f"http://{settings.web_host}:{settings.web_port}"
    _say("starting the worker...")
    procs.append(_spawn(["worker", "-l", "warn"], env, workdir / "worker.log"))
    until(lambda: _answers(f"{worker_url}/metrics", procs[0], workdir / "worker.log"), 180,
          "the worker's /metrics")
    prom = _start(stack, prometheus(_prometheus_config(workdir, settings, am), workdir))
    _say("publishing a week of history...")
    publish(settings, _history())
    procs.append(_spawn(["generate", "--rate", str(rate), "--reps", str(REPS), "--teams",
                         str(TEAMS), "--skill", ",".join(map(str, SKILL)), "--progress", "0"],
                        env, workdir / "generator.log"))
    _show_urls(worker_url, prom, am, settings.bootstrap_servers, workdir)
    while all(p.poll() is None for p in procs):
        time.sleep(0.5)
    name, failed = next((n, p) for n, p in zip(("worker", "generate"), procs, strict=True)
                        if p.poll() is not None)
    _say(f"`salespulse {name}` exited with {failed.returncode}; stopping (its log was in "
         f"{workdir})")
    return 1


def _check_ready(settings: Settings) -> None:
    try:
        binary("prometheus")
        binary("prometheus-alertmanager", "alertmanager")
    except RuntimeError:
        raise DemoError(f"Prometheus and Alertmanager are missing: {INSTALL_HINT}, or run "
                        "`make demo`, which installs them") from None
    with socket.socket() as probe:
        try:
            probe.bind((settings.web_host, settings.web_port))
        except OSError:
            raise DemoError(f"port {settings.web_port} on {settings.web_host} is busy (another "
                            "worker or demo?): pass --web-port N (or set "
                            "SALESPULSE_WEB_PORT)") from None


def _say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A salespulse command whose output goes to its log, off the console."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", *args], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def _answers(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise DemoError(f"the worker exited with {proc.returncode}:\n{tail}")
    return answers(url)


def _start(stack: ExitStack, daemon: Daemon) -> Daemon:
    stack.callback(daemon.stop)
    try:
        return daemon.start(timeout=60)
    except (RuntimeError, TimeoutError) as exc:
        raise DemoError(f"{daemon.name} did not start: {exc}") from None


def _routing(workdir: Path, pager_url: str) -> Path:
    """alerting/teams.yml's routes, every receiver the console pager, at any hour."""
    routing = with_webhooks(load_routing(ROOT / TEAMS_FILE),
                            lambda name: f"{pager_url}/{name}", PAGING)
    path = workdir / "alertmanager.yml"
    path.write_text(render_alertmanager(routing, business_hours=False)[ROUTING])
    return path


def _prometheus_config(workdir: Path, settings: Settings, am: Daemon) -> Path:
    rules = []
    for name, text in render_rules(for_override="0s").items():
        rules.append(workdir / Path(name).name)
        rules[-1].write_text(text)
    path = workdir / "prometheus.yml"
    path.write_text(yamltext.dump(promconfig.config(
        workers=[f"{settings.web_host}:{settings.web_port}"],
        alertmanagers=(f"127.0.0.1:{am.port}",), rule_files=[str(p) for p in rules],
        interval="5s", self_scrape=None)))
    return path


def _history() -> list[tuple[str, bytes]]:
    """The demo reps' last week, and the rep who breaches: six deals closed in the last
    month, one won."""
    now = time.time_ns() // 1000
    count = 20_000
    past = list(stream(Generator(reps=REPS, teams=TEAMS, seed=11, skill=SKILL),
                       spaced(now - 7 * DAY_US, 7 * DAY_US // count, count, seed=11)))
    deals = []
    for i, stage in enumerate(("won", "lost", "lost", "lost", "lost", "lost")):
        at = format_timestamp(now - (25 - 4 * i) * DAY_US)
        deal = {"event_id": f"demo-breach-{i}", "type": "deal", "occurred_at": at,
                "rep_id": BREACH_REP, "team_id": BREACH_TEAM, "deal_id": f"demo-deal-{i}",
                "stage": stage, **({"amount": 4800} if stage == "won" else {})}
        deals.append((BREACH_REP, orjson.dumps(deal)))
    return past + deals


def _show_urls(worker: str, prom: Daemon, am: Daemon, kafka: str, workdir: Path) -> None:
    print(f"""
demo: running. Pages appear below as the console pager receives them (Ctrl-C stops all).
  live KPIs     {worker}/kpis     (or: salespulse kpis --url {worker})
  metrics       {worker}/metrics
  runbook       {worker}/runbook
  alerts        {_alerts_page(prom)}
  Alertmanager  {am.url}
  Kafka         {kafka}   (KAFKA_BOOTSTRAP_SERVERS={kafka} salespulse produce FILE)
  logs          {workdir}
""", file=sys.stderr, flush=True)


def _alerts_page(prom: Daemon) -> str:
    """Prometheus' alerts page; Debian's build has only the classic UI."""
    modern = f"{prom.url}/alerts"
    return modern if answers(modern) else f"{prom.url}/classic/alerts"


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
