"""promtool unit tests (`promtool test rules`) generated from the catalog.

recording.test.yml checks every KPI rule, per rep and per team and for every window,
against the catalog's own Python formulas, and that an empty denominator leaves no
sample. alerts.test.yml holds, for every alert, cases that fire and cases that must not.
"""

from __future__ import annotations

import re
from typing import Any

from streams.catalog import (
    ALERTS,
    JOB,
    KPIS,
    MEASURES,
    PIPELINE,
    PIPELINE_ALERTS,
    QUOTA_ATTAINMENT,
    REPS_AT_QUOTA,
    TEAM_KPIS,
    WINDOW_BY_NAME,
    WINDOWS,
    Alert,
    team_kpi_values,
)
from streams.render import alerts, runbook_url, yamltext
from streams.render.cases import Case, Rows, cases_for
from streams.render.promql import kpi_record, number
from streams.render.rules import ALERTS_FILE, RECORDING_FILE

TESTS_DIR = "prometheus/tests"
RULE_FILES = [f"../rules/{RECORDING_FILE.rsplit('/', 1)[1]}",
              f"../rules/{ALERTS_FILE.rsplit('/', 1)[1]}"]
SCRAPED = {"instance": "worker-1:6066", "job": JOB}
TEAM = "team-a"
TARGET_METRIC = PIPELINE["team_revenue_target"].sample
QUOTA_METRIC = PIPELINE["rep_weekly_quota"].sample


def minutes(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smh])", duration)
    if not match:
        raise ValueError(f"bad duration {duration!r}")
    seconds = int(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2]]
    return -(-seconds // 60)


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted({**SCRAPED, **labels}.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def constant(value: float, points: int) -> str:
    return f"{number(value)}x{points}"


def measure_series(rows: Rows, points: int) -> list[dict[str, str]]:
    out = []
    for (rep, team, window), values in rows.items():
        for measure, value in values.items():
            out.append(series(f"salespulse_{measure}",
                              {"rep_id": rep, "team_id": team, "window": window},
                              constant(value, points)))
    return out


def expected(alert: Alert, labels: dict[str, str], value: float) -> dict[str, Any]:
    return {"exp_labels": {**labels, **alerts.labels(alert)},
            "exp_annotations": {"summary": alerts.expected_summary(alert, value, labels),
                                "description": alerts.description(alert),
                                "runbook_url": runbook_url(alert.name)}}


def _group(alert: Alert, case: str, input_series: list[dict[str, str]], at: int,
           exp_alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": f"{alert.name}: {case}", "interval": "1m", "input_series": input_series,
            "alert_rule_test": [{"eval_time": f"{at}m", "alertname": alert.name,
                                 "exp_alerts": exp_alerts}]}


def kpi_alert_group(alert: Alert, case: Case) -> dict[str, Any]:
    at = minutes(alert.for_) + 5
    points = at + 5
    input_series = measure_series(case.rows, points)
    input_series += [series(TARGET_METRIC, {"team_id": team}, constant(target, points))
                     for team, target in case.targets.items()]
    input_series += [series(QUOTA_METRIC, {"rep_id": rep}, constant(quota, points))
                     for rep, quota in case.quotas.items()]
    exp: list[dict[str, Any]] = []
    if case.subject is not None and case.value is not None:
        rep, team = case.subject
        labels = {"team_id": team, "window": alert.window}
        if alert.scope == "rep":
            labels["rep_id"] = rep
        exp.append(expected(alert, labels, case.value))
    return _group(alert, case.name, input_series, at, exp)


def pipeline_groups(alert: Alert) -> list[dict[str, Any]]:
    """Fires / at the threshold / healthy, per pipeline signal."""
    t, wait = alert.threshold, minutes(alert.for_) + 5
    fire: tuple[str, float]  # (input values, the value the alert then reports)
    if alert.kpi == "seconds_since_last_processed":
        name, labels = PIPELINE["last_processed_timestamp_seconds"].sample, {}
        at = minutes(f"{int(t)}s") + wait + 1
        fire = (constant(60, at + 5), float(at * 60 - 60))  # processed once, at 1m
        exact = f"{number(-t)}+60x{at + 5}"  # always exactly t seconds ago
        healthy = f"0+60x{at + 5}"
    elif alert.kpi == "consumer_lag":
        name, labels = PIPELINE["consumer_lag"].sample, {"topic": "sales.touches",
                                                         "partition": "0"}
        at = wait
        fire, exact, healthy = (constant(2 * t + 1, at + 5), 2 * t + 1), constant(t, at + 5), \
            constant(0, at + 5)
    elif alert.kpi == "dead_letters":
        name, labels = PIPELINE["events_rejected"].sample, {"reason": "invalid_json",
                                                            "topic": "sales.touches"}
        span = minutes(alert.window)
        at = max(wait, 2 * span)
        fire = (f"{number(t)}+1x{at + 5}", float(span))  # one a minute: `span` per window
        exact, healthy = constant(t, at + 5), constant(t + 3, at + 5)  # old dead letters
    elif alert.kpi == "worker_up":
        name, labels, at = "up", {}, wait
        fire, exact, healthy = (constant(0, at + 5), 0.0), constant(1, at + 5), \
            constant(1, at + 5)
    else:
        raise ValueError(f"{alert.name}: no promtool cases for signal {alert.kpi!r}")
    out_labels = {**labels, **(SCRAPED if alert.kpi == "worker_up" else {})}
    groups = [
        _group(alert, "fires", [series(name, labels, fire[0])], at,
               [expected(alert, out_labels, fire[1])]),
        _group(alert, "exactly at the threshold", [series(name, labels, exact)], at, []),
        _group(alert, "healthy", [series(name, labels, healthy)], at, []),
    ]
    wait_for, span = minutes(alert.for_), minutes(alert.window or "0s")
    # A first dead letter creates its counter series at 1, which increase() cannot see; the
    # `unless ... offset` clause does, for one window: testable when `for` is shorter.
    if alert.kpi == "dead_letters" and wait_for + 1 < span:
        born = at - wait_for - 1
        new = f"_x{born} 1x{at - born + 5}"
        groups.append(_group(alert, "fires on a new counter series",
                             [series(name, labels, new)], at, [expected(alert, labels, 1.0)]))
    return groups


def alert_tests() -> dict[str, Any]:
    groups = [kpi_alert_group(a, c) for a in ALERTS for c in cases_for(a, TEAM)]
    groups.append(goal_group(next(a for a in ALERTS if a.kpi == GOALS_SHOWN_BY)))
    groups += [g for a in PIPELINE_ALERTS for g in pipeline_groups(a)]
    return {"rule_files": RULE_FILES, "evaluation_interval": "1m", "tests": groups}


GOALS_SHOWN_BY = "close_ratio"  # the alert whose cases show goals from the goals file


def goal_group(alert: Alert) -> dict[str, Any]:
    """Goals from the workers override the catalog: a team's threshold (team-b, lower: its
    rep does not fire), a rep's (r-3, higher than its team's: fires), a team's minimum
    sample (team-c, raised: its rep has too few deals), none (team-a: the default)."""
    at = minutes(alert.for_) + 5
    points = at + 5
    low = {"deals_won": 6.0, "deals_lost": 4.0}  # 60%: below the default of 65%
    high = {"deals_won": 8.0, "deals_lost": 2.0}  # 80%
    rows: Rows = {("r-1", "team-a", alert.window): low, ("r-2", "team-b", alert.window): low,
                  ("r-3", "team-b", alert.window): high, ("r-4", "team-c", alert.window): low}
    goal = PIPELINE["goal"].sample
    goals = [({"scope": "team", "team_id": "team-b", "field": "threshold"}, 0.5),
             ({"scope": "rep", "rep_id": "r-3", "field": "threshold"}, 0.9),
             ({"scope": "team", "team_id": "team-c", "field": "min_sample"}, 20.0)]
    input_series = measure_series(rows, points) + [
        series(goal, {"kpi": alert.kpi, **labels}, constant(value, points))
        for labels, value in goals]
    fired = [("r-1", "team-a", 0.6, alert.threshold), ("r-3", "team-b", 0.8, 0.9)]
    exp = [{"exp_labels": {**labels, **alerts.labels(alert)},
            "exp_annotations": {"summary": alerts.expected_summary(alert, value, labels, goal_),
                                "description": alerts.description(alert),
                                "runbook_url": runbook_url(alert.name)}}
           for rep, team, value, goal_ in fired
           for labels in [{"rep_id": rep, "team_id": team, "window": alert.window}]]
    return _group(alert, "goals of a team, of a rep, a team's minimum sample, the default",
                  input_series, at, exp)


def _sample_rows() -> Rows:
    """Two reps in one team with every measure non-zero, and a quiet rep in another."""
    rows: Rows = {}
    for r, rep in enumerate(("r-1", "r-2")):
        for w, window in enumerate(WINDOWS):
            rows[(rep, TEAM, window.name)] = {
                m.name: float(1 + (i * 7 + w * 3 + r * 5) % 13) for i, m in enumerate(MEASURES)}
    for window in WINDOWS:
        rows[("r-quiet", "team-quiet", window.name)] = {m.name: 0.0 for m in MEASURES}
    return rows


def _sample(record: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"labels": f"{record}{{{inner}}}", "value": value}


def _quota_exprs(rows: Rows, quotas: dict[str, float]) -> list[dict[str, Any]]:
    """Attainment per rep and window, and each team's share of reps at quota (30d)."""
    record = kpi_record("rep_window", QUOTA_ATTAINMENT.name)
    attained = {key: QUOTA_ATTAINMENT.value(values[QUOTA_ATTAINMENT.measure], quotas.get(key[0]),
                                            WINDOW_BY_NAME[key[2]].seconds)
                for key, values in rows.items()}
    share = REPS_AT_QUOTA
    by_team: dict[str, list[float | None]] = {}
    for (_, team, window), value in attained.items():
        if window == share.window:
            by_team.setdefault(team, []).append(value)
    team_record = kpi_record("team_window", share.name)
    return [{"expr": record, "eval_time": "2m", "exp_samples": [
                _sample(record, {"rep_id": rep, "team_id": team, "window": window}, value)
                for (rep, team, window), value in attained.items() if value is not None]},
            {"expr": team_record, "eval_time": "2m", "exp_samples": [
                _sample(team_record, {"team_id": team, "window": share.window}, value)
                for team, values in by_team.items()
                if (value := share.value(values)) is not None]}]


def recording_tests() -> dict[str, Any]:
    rows, target = _sample_rows(), 50_000.0
    teams: dict[tuple[str, str], dict[str, float]] = {}
    for (_, team, window), values in rows.items():
        total = teams.setdefault((team, window), {})
        for name, v in values.items():
            total[name] = total.get(name, 0.0) + v
    exprs = []
    for kpi in KPIS:
        rep_samples = [_sample(kpi_record("rep_window", kpi.name),
                               {"rep_id": rep, "team_id": team, "window": window}, value)
                       for (rep, team, window), values in rows.items()
                       if (value := kpi.in_base_units(values)) is not None]  # type: ignore[misc]
        team_samples = [_sample(kpi_record("team_window", kpi.name),
                                {"team_id": team, "window": window}, value)
                        for (team, window), values in teams.items()
                        if (value := kpi.in_base_units(values)) is not None]  # type: ignore[misc]
        exprs.append({"expr": kpi_record("rep_window", kpi.name), "eval_time": "2m",
                      "exp_samples": rep_samples})
        exprs.append({"expr": kpi_record("team_window", kpi.name), "eval_time": "2m",
                      "exp_samples": team_samples})
    team_values = team_kpi_values(target, {w: row for (team, w), row in teams.items()
                                           if team == TEAM})
    for team_kpi in TEAM_KPIS:
        value = team_values[team_kpi.name]
        assert value is not None, team_kpi.name
        record = kpi_record("team_window", team_kpi.name)
        exprs.append({"expr": record, "eval_time": "2m", "exp_samples": [
            _sample(record, {"team_id": TEAM, "window": team_kpi.window}, value)]})
    quotas = {"r-1": 3.0, "r-2": 7.0, "r-quiet": 10.0}  # over 30d r-1 is at quota, r-2 not
    exprs += _quota_exprs(rows, quotas)
    input_series = measure_series(rows, 5)
    input_series += [series(TARGET_METRIC, {"team_id": team}, constant(target, 5))
                     for team in (TEAM, "team-quiet")]
    input_series += [series(QUOTA_METRIC, {"rep_id": rep}, constant(quota, 5))
                     for rep, quota in quotas.items()]
    return {"rule_files": RULE_FILES, "evaluation_interval": "1m", "tests": [
        {"name": "every KPI per rep and per team, every window; none for a quiet team",
         "interval": "1m", "input_series": input_series, "promql_expr_test": exprs}]}


def render_promtool_tests() -> dict[str, str]:
    return {f"{TESTS_DIR}/recording.test.yml": yamltext.dump(recording_tests()),
            f"{TESTS_DIR}/alerts.test.yml": yamltext.dump(alert_tests())}
