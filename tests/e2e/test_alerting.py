"""Real broker, worker, Prometheus and Alertmanager: a breach pages only its team's manager,
and every Grafana panel's query returns data."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from streams.catalog import ALERTS, PIPELINE_ALERTS, WINDOWS
from streams.dev.localkafka import LocalKafka
from streams.dev.produce import publish
from streams.render import promconfig, yamltext
from streams.render.alertmanager import OUTPUT as AM_OUTPUT
from streams.render.alertmanager import (
    TEAMS_FILE,
    load_routing,
    render_alertmanager,
    with_webhooks,
)
from streams.render.alerts import alert_labels, expected_summary
from streams.render.dashboards import DASHBOARDS_DIR, panel_queries
from streams.render.pages import runbook_url
from streams.render.rules import render_rules
from streams.settings import Settings
from tests.e2e import stack as st
from tests.e2e.scenario import FIRST_APPOINTMENTS, odd_messages, rep_events
from tests.support.metrics import samples
from tests.support.poll import until
from tests.support.worker import WorkerProcess, topic_env

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BREACH = next(a for a in ALERTS if a.name == "SalesAppointmentToNextStepLow")
DEAD_LETTERS = next(a for a in PIPELINE_ALERTS if a.name == "SalespulseDeadLetters")
COUNTERS = ("processed", "duplicate", "late", "rejected")
AM_TIMING = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}


def _consumed(worker: WorkerProcess) -> float:
    text = worker.scrape() or ""
    return sum(v for (name, _), v in samples(text).items()
               if name in {f"salespulse_events_{c}_total" for c in COUNTERS})


def _wait(what: str, ready: Any, timeout: float, logs: list[Any]) -> Any:
    return until(ready, timeout, what,
                 lambda: "\n\n".join(f"--- {d.name} ---\n{d.log_tail()}" for d in logs))


def _am_alerts(am: st.Daemon, **labels: str) -> list[dict[str, Any]]:
    """The alerts Alertmanager holds with these labels, and their state."""
    query = urllib.parse.urlencode([("filter", f'{k}="{v}"') for k, v in labels.items()])
    with urllib.request.urlopen(f"{am.url}/api/v2/alerts?{query}", timeout=10) as response:
        return json.load(response)  # type: ignore[no-any-return]


def _goals_file(team_a: str, team_b: str, goals: dict[str, float] | None = None) -> str:
    """Both teams' weekly targets, appointment-to-next-step goals per team, and quotas
    both reps exceed (2,500 won against 100 a week)."""
    lines = ["teams:"]
    for team in (team_a, team_b):
        lines += [f"  {team}:", "    weekly_revenue_target: 100"]
        if goals and team in goals:
            lines += ["    goals:", f"      {BREACH.kpi}: {goals[team]}"]
    lines += ["reps:"] + [f"  {rep}: {{weekly_quota: 100}}" for rep in ("r-breach", "r-healthy")]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def world(kafka: LocalKafka, webhook: st.Webhook,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """Team B's healthy rep before Prometheus starts, then team A's rep who books one next
    step after six first appointments, and enough dead letters to page ops."""
    workdir = tmp_path_factory.mktemp("alerting")
    routing = load_routing(ROOT / TEAMS_FILE)
    (team_a, receiver_a), (team_b, receiver_b) = list(routing.teams.items())[:2]
    prefix = f"e2e{time.time_ns()}"
    goals = workdir / "goals.yml"
    goals.write_text(_goals_file(team_a, team_b))
    worker = WorkerProcess(kafka.bootstrap, prefix, workdir, partitions=2,
                           extra_env={"SALESPULSE_GOALS": str(goals)})
    settings = Settings.from_env({**topic_env(prefix), "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap})
    daemons: list[st.Daemon] = []
    try:
        worker.start()
        now = time.time_ns() // 1000
        first = rep_events("r-healthy", team_b, now, 5)
        publish(settings, first)
        worker.wait_for(lambda: _consumed(worker) >= len(first), 60, "team B's events")

        rule_files = []
        for path, text in render_rules(for_override="0s").items():
            rule_files.append(workdir / Path(path).name)
            rule_files[-1].write_text(text)
        am_file = workdir / "alertmanager.yml"
        am_file.write_text(render_alertmanager(with_webhooks(  # pages at any hour here
            routing, lambda name: f"{webhook.url}/{name}", AM_TIMING),
            business_hours=False)[AM_OUTPUT])
        daemons.append(st.alertmanager(am_file, workdir).start())
        prom_file = workdir / "prometheus.yml"
        prom_file.write_text(yamltext.dump(promconfig.config(
            workers=[f"127.0.0.1:{worker.port}"], alertmanagers=(f"127.0.0.1:{daemons[0].port}",),
            rule_files=[str(p) for p in rule_files], interval="1s", self_scrape=None)))
        daemons.append(st.prometheus(prom_file, workdir).start())
        # Scraped before team A's events, so rate() over them sees the increase.
        _wait("the first scrape of the worker", lambda: st.query(
            daemons[1], 'up{job="salespulse"} == 1 and on () salespulse_reps > 0'), 30, daemons)

        now = time.time_ns() // 1000
        breach = rep_events("r-breach", team_a, now, 1) + odd_messages(
            "r-healthy", team_b, now, bad=int(DEAD_LETTERS.threshold) + 1)
        publish(settings, breach)
        worker.wait_for(lambda: _consumed(worker) >= len(first) + len(breach), 60,
                        "team A's events")
        yield SimpleNamespace(team_a=team_a, team_b=team_b, receiver_a=receiver_a,
                              receiver_b=receiver_b, ops=routing.ops_receiver, rep_a="r-breach",
                              rep_b="r-healthy", am=daemons[0], prom=daemons[1],
                              daemons=daemons, worker=worker, routing=routing, goals=goals,
                              rule_files=rule_files)
    finally:
        for daemon in reversed(daemons):
            daemon.stop()
        worker.stop()


def test_breach_pages_team_a_manager_with_labels_and_summary(world: SimpleNamespace,
                                                             webhook: st.Webhook) -> None:
    def paged() -> list[dict[str, Any]]:
        return [a for a in webhook.alerts(world.receiver_a)
                if a["labels"]["alertname"] == BREACH.name and a["status"] == "firing"]

    alert = _wait(f"{BREACH.name} at {world.receiver_a}", paged, 90, world.daemons)[0]
    assert alert["labels"] == {
        "alertname": BREACH.name, "team_id": world.team_a, "rep_id": world.rep_a,
        "window": BREACH.window, "severity": BREACH.severity, "component": "kpi"}
    assert set(alert["labels"]) == {"alertname", *alert_labels(BREACH)}
    summary = alert["annotations"]["summary"]
    assert summary == expected_summary(BREACH, 1 / FIRST_APPOINTMENTS,
                                       {"rep_id": world.rep_a, "team_id": world.team_a})
    assert "16.67%" in summary and "65%" in summary and world.rep_a in summary
    assert alert["annotations"]["runbook_url"] == runbook_url(BREACH.name)


def test_nothing_reaches_team_b(world: SimpleNamespace, webhook: st.Webhook) -> None:
    # Team B's rep is evaluated (its KPI exists), and the ops receiver has heard from
    # Alertmanager, so silence at team B's receiver is not just a slow pipeline.
    rate = st.query(world.prom, 'rep_window:salespulse_appointment_to_next_step_rate:ratio'
                                f'{{rep_id="{world.rep_b}", window="7d"}}')
    assert rate and float(rate[0]["value"][1]) == 5 / 6
    _wait("any notification at the ops receiver", lambda: webhook.alerts(world.ops), 60,
          world.daemons)
    _wait("team A's page", lambda: webhook.alerts(world.receiver_a), 90, world.daemons)
    # Nothing to send for team B: no alert of its team in Prometheus or Alertmanager.
    assert st.query(world.prom, f'ALERTS{{team_id="{world.team_b}"}}') == []
    assert _am_alerts(world.am, team_id=world.team_b) == []
    assert webhook.alerts(world.receiver_b) == []
    assert [a for a in webhook.alerts() if a["labels"].get("team_id") == world.team_b] == []
    firing_a = {a["labels"]["alertname"] for a in webhook.alerts(world.receiver_a)}
    assert firing_a == {BREACH.name}


def test_pipeline_alerts_page_ops(world: SimpleNamespace, webhook: st.Webhook) -> None:
    def dead_letters() -> list[dict[str, Any]]:
        return [a for a in webhook.alerts(world.ops)
                if a["labels"]["alertname"] == "SalespulseDeadLetters"]

    alert = _wait("SalespulseDeadLetters at ops", dead_letters, 60, world.daemons)[0]
    assert alert["labels"]["reason"] == "invalid_json"
    assert alert["labels"]["component"] == "pipeline"
    assert all(a["labels"]["component"] == "pipeline" for a in webhook.alerts(world.ops))


def _fill(expr: str, world: SimpleNamespace, window: str) -> str:
    values = {"team": world.team_a, "rep": world.rep_a, "window": window,
              "__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
    return re.sub(r"\$(\w+)", lambda m: values[m[1]], expr)


def _boards() -> list[tuple[str, dict[str, Any]]]:
    paths = sorted((ROOT / DASHBOARDS_DIR).glob("*.json"))
    assert len(paths) == 3, paths
    return [(p.stem, json.loads(p.read_text())) for p in paths]


def test_every_grafana_panel_returns_data(world: SimpleNamespace) -> None:
    # Wait for the breach alert to fire in Prometheus: the alert panels read ALERTS.
    _wait("ALERTS firing", lambda: st.query(
        world.prom, f'ALERTS{{alertstate="firing", rep_id="{world.rep_a}"}}'), 60,
        world.daemons)
    queries = [(f"{name} / {title} [{window}]", _fill(expr, world, window))
               for name, board in _boards() for title, expr in panel_queries(board)
               for window in ([w.name for w in WINDOWS] if "$window" in expr else ["-"])]
    assert len(queries) > 50

    def empty() -> list[str]:
        out = []
        for panel, expr in queries:
            values = [float(r["value"][1]) for r in st.query(world.prom, expr)]
            if not values or any(math.isnan(v) or math.isinf(v) for v in values):
                out.append(f"{panel}: {expr} -> {values}")
        return out

    # rate() needs two scrapes of a series: some panels fill a scrape or two later.
    last: list[list[str]] = [[]]

    def filled() -> bool:
        last[0] = empty()
        return not last[0]

    with contextlib.suppress(TimeoutError):
        until(filled, 30, "every panel's data")
    assert not last[0], "panels without data:\n" + "\n".join(last[0])


def test_template_variables_list_the_team_and_rep(world: SimpleNamespace) -> None:
    for name, board in _boards():
        for variable in board.get("templating", {}).get("list", []):
            if variable["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"])
            assert match, variable["query"]
            selector = _fill(match[1], world, "7d")
            url = (f"{world.prom.url}/api/v1/label/{match[2]}/values?"
                   + urllib.parse.urlencode({"match[]": selector}))
            with urllib.request.urlopen(url, timeout=10) as response:
                values = json.load(response)["data"]
            expected = {"rep_id": world.rep_a, "window": "7d"}.get(match[2], world.team_a)
            assert expected in values, (name, variable["name"], values)


def _post_alerts(am: st.Daemon, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(f"{am.url}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _firing(world: SimpleNamespace, rep: str) -> list[dict[str, Any]]:
    return st.query(world.prom, f'ALERTS{{alertname="{BREACH.name}", alertstate="firing", '
                                f'rep_id="{rep}"}}')


def test_a_changed_team_goal_pages_or_clears_that_team_only(
        world: SimpleNamespace, webhook: st.Webhook) -> None:
    """Team B's rep books 5 next steps after 6 first appointments (83%): a team B goal of
    90% pages team B's manager; a team A goal of 10% clears team A's rep (17%). Nothing is
    regenerated or restarted: the rules read the goals the worker exports."""
    rules = {path: path.read_bytes() for path in world.rule_files}
    _wait("team A's alert", lambda: _firing(world, world.rep_a), 60, world.daemons)
    assert not _firing(world, world.rep_b)
    world.goals.write_text(_goals_file(world.team_a, world.team_b,
                                       {world.team_b: 0.9, world.team_a: 0.1}))
    _wait("team B's rep paged at team B's receiver", lambda: [
        a for a in webhook.alerts(world.receiver_b)
        if a["labels"]["rep_id"] == world.rep_b and a["status"] == "firing"], 60, world.daemons)
    _wait("team A's alert to clear", lambda: not _firing(world, world.rep_a), 60,
          world.daemons)
    [page] = [a for a in webhook.alerts(world.receiver_b) if a["status"] == "firing"]
    assert "the target is 90%" in page["annotations"]["summary"]
    world.goals.write_text(_goals_file(world.team_a, world.team_b))  # back to the defaults
    _wait("team A's alert again", lambda: _firing(world, world.rep_a), 60, world.daemons)
    _wait("team B's alert to clear", lambda: not _firing(world, world.rep_b), 60,
          world.daemons)
    assert {path: path.read_bytes() for path in world.rule_files} == rules


def test_a_broken_pipeline_holds_back_kpi_alerts(world: SimpleNamespace,
                                                 webhook: st.Webhook) -> None:
    """Runs last: while the (posted) WorkerDown fires, no KPI alert is delivered."""
    team_c, receiver_c = list(world.routing.teams.items())[2]
    down = {"labels": {"alertname": "SalespulseWorkerDown", "component": "pipeline",
                       "severity": "critical", "instance": "127.0.0.1:9", "job": "salespulse"}}
    kpi = {"labels": {"alertname": "SalesShowRateLow", "component": "kpi", "severity": "warning",
                      "team_id": team_c, "rep_id": "r-c", "window": "7d"}}
    _post_alerts(world.am, [down, kpi])
    _wait("SalespulseWorkerDown at ops", lambda: [
        a for a in webhook.alerts(world.ops)
        if a["labels"]["alertname"] == "SalespulseWorkerDown"], 30, world.daemons)
    [held] = _wait("the KPI alert held back by the inhibition", lambda: [
        a for a in _am_alerts(world.am, alertname="SalesShowRateLow", team_id=team_c)
        if a["status"]["inhibitedBy"]], 30, world.daemons)
    assert held["status"]["state"] == "suppressed"
    assert webhook.alerts(receiver_c) == []
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _post_alerts(world.am, [{**down, "endsAt": now}, kpi])
    delivered = _wait(f"SalesShowRateLow at {receiver_c} once the pipeline is back",
                      lambda: webhook.alerts(receiver_c), 30, world.daemons)
    assert delivered[0]["labels"]["team_id"] == team_c


def test_managers_are_paged_only_in_their_business_hours(tmp_path: Path) -> None:
    """The generated time intervals in a real Alertmanager: one team's hours are now (every
    day, all day), the other's on a weekday three days away; ops hear pipeline alerts at
    any hour."""
    routing = load_routing(ROOT / TEAMS_FILE)
    (open_team, open_rcv), (closed_team, closed_rcv) = list(routing.teams.items())[:2]
    away = time.strftime("%A", time.gmtime(time.time() + 3 * 86400)).lower()
    hours = {open_team: {"timezone": "UTC", "weekdays": "sunday:saturday",
                        "times": "00:00-24:00"},
             closed_team: {"timezone": "UTC", "weekdays": away, "times": "00:00-24:00"}}
    with st.Webhook() as hook:
        paging = with_webhooks(dataclasses.replace(routing, hours=hours),
                               lambda name: f"{hook.url}/{name}", AM_TIMING)
        config = tmp_path / "alertmanager.yml"
        config.write_text(render_alertmanager(paging)[AM_OUTPUT])
        am = st.alertmanager(config, tmp_path).start()
        try:
            kpi = {"alertname": "SalesShowRateLow", "component": "kpi", "severity": "warning",
                   "window": "7d"}
            _post_alerts(am, [
                {"labels": {**kpi, "team_id": open_team, "rep_id": "r-open"}},
                {"labels": {**kpi, "team_id": closed_team, "rep_id": "r-closed"}},
                {"labels": {"alertname": "SalespulseDeadLetters", "component": "pipeline",
                            "severity": "warning", "reason": "invalid_json", "topic": "t"}}])
            _wait("the open team's page", lambda: hook.alerts(open_rcv), 30, [am])
            _wait("the ops page", lambda: hook.alerts(routing.ops_receiver), 30, [am])
            # Alertmanager holds the closed team's alert (it would be sent once the hours
            # begin), but the group that reached the open team in the same second did not
            # reach its manager.
            assert [a["labels"]["rep_id"] for a in _am_alerts(am, team_id=closed_team)] == [
                "r-closed"]
            assert hook.alerts(closed_rcv) == []
        finally:
            am.stop()
