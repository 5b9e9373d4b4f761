"""promtool unit tests (`promtool test rules`) generated from the catalog.

alerts.test.yml holds, for every alert, cases that fire and cases that must not;
recording.test.yml (recordingtests.py) checks every KPI rule against the catalog.
"""

from __future__ import annotations

from typing import Any

from streams.catalog import (
    ALERTS,
    KPI_BY_NAME,
    MEASURES,
    PIPELINE,
    PIPELINE_ALERTS,
    Alert,
    team_kpi_values,
)
from streams.render import alerts, pages, yamltext
from streams.render.cases import Case, Rows, cases_for
from streams.render.promql import number
from streams.render.recordingtests import recording_tests
from streams.render.testseries import RULE_FILES, SCRAPED, constant, measure_series, minutes, series

TESTS_DIR = "prometheus/tests"
TEAM = "team-a"
TARGET_METRIC = PIPELINE["team_revenue_target"].sample
QUOTA_METRIC = PIPELINE["rep_weekly_quota"].sample


def expected(
    alert: Alert,
    labels: dict[str, str],
    value: float,
    rows: Rows | None = None,
    targets: dict[str, float] | None = None,
    quotas: dict[str, float] | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """The alert promtool must see: labels, and annotations rendered from the case."""
    return {
        "exp_labels": {**labels, **alerts.labels(alert)},
        "exp_annotations": {
            "summary": alerts.expected_summary(alert, value, labels, threshold),
            "description": alerts.description(alert),
            **_page(alert, labels, rows or {}, targets or {}, quotas or {}),
        },
    }


def _page(
    alert: Alert,
    labels: dict[str, str],
    rows: Rows,
    targets: dict[str, float],
    quotas: dict[str, float],
) -> dict[str, str]:
    """The page annotations (pages.py) computed from the case's rows."""
    if alert.scope == "pipeline":
        return pages.expected_annotations(alert, labels, lambda measures: 0.0)
    window, team = alert.window, labels["team_id"]
    mine = [
        v
        for (rep, t, w), v in rows.items()
        if w == window and t == team and (alert.scope == "team" or rep == labels.get("rep_id"))
    ]
    team_rows: dict[str, dict[str, float]] = {}
    for (_, t, w), values in rows.items():
        if t == team:
            total = team_rows.setdefault(w, {m.name: 0.0 for m in MEASURES})
            for name, v in values.items():
                total[name] += v
    magic = None
    if alert.scope == "team":
        magic = team_kpi_values(targets.get(team), team_rows)["magic_number"]
    team_value = ""
    if alert.relative_to_team:
        kpi = KPI_BY_NAME[alert.kpi]
        value = kpi.in_base_units(team_rows[window])
        team_value = "" if value is None else alerts.format_value(alerts.unit_of(alert), value)
    return pages.expected_annotations(
        alert,
        labels,
        lambda measures: sum(row.get(m, 0.0) for row in mine for m in measures),
        team_value,
        quotas.get(labels.get("rep_id", "")),
        magic,
    )


def _group(
    alert: Alert,
    case: str,
    input_series: list[dict[str, str]],
    at: int,
    exp_alerts: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "name": f"{alert.name}: {case}",
        "interval": "1m",
        "input_series": input_series,
        "alert_rule_test": [
            {"eval_time": f"{at}m", "alertname": alert.name, "exp_alerts": exp_alerts}
        ],
    }


def kpi_alert_group(alert: Alert, case: Case) -> dict[str, Any]:
    at = minutes(alert.for_) + 5
    points = at + 5
    input_series = measure_series(case.rows, points)
    input_series += [
        series(TARGET_METRIC, {"team_id": team}, constant(target, points))
        for team, target in case.targets.items()
    ]
    input_series += [
        series(QUOTA_METRIC, {"rep_id": rep}, constant(quota, points))
        for rep, quota in case.quotas.items()
    ]
    exp: list[dict[str, Any]] = []
    if case.subject is not None and case.value is not None:
        rep, team = case.subject
        labels = {"team_id": team, "window": alert.window}
        if alert.scope == "rep":
            labels["rep_id"] = rep
        exp.append(expected(alert, labels, case.value, case.rows, case.targets, case.quotas))
    return _group(alert, case.name, input_series, at, exp)


def pipeline_groups(alert: Alert) -> list[dict[str, Any]]:
    """Per pipeline signal: a case that fires, and the cases that must not."""
    at = minutes(alert.for_) + 5
    points = at + 5
    t = alert.threshold
    lag, last = PIPELINE["consumer_lag"].sample, PIPELINE["last_processed_timestamp_seconds"]
    labels: dict[str, str] = {}
    quiet: list[tuple[str, list[dict[str, str]]]]
    if alert.kpi == "stalled_seconds":
        at = minutes(f"{int(t)}s") + at + 1
        points = at + 5
        waiting = series(lag, {"topic": "sales.touches", "partition": "0"}, constant(5, points))
        stuck = series(last.sample, {}, constant(60, points))  # processed once, at 1m
        fire = ([stuck, waiting], float(at * 60 - 60))
        quiet = [
            (
                "nothing waiting (a quiet night)",
                [
                    stuck,
                    series(lag, {"topic": "sales.touches", "partition": "0"}, constant(0, points)),
                ],
            ),
            (
                "exactly at the threshold",
                [series(last.sample, {}, f"{number(-t)}+60x{points}"), waiting],
            ),
        ]
    elif alert.kpi == "consumer_lag":
        labels = {"topic": "sales.touches", "partition": "0"}
        fire = ([series(lag, labels, constant(2 * t + 1, points))], 2 * t + 1)
        quiet = [
            ("exactly at the threshold", [series(lag, labels, constant(t, points))]),
            ("healthy", [series(lag, labels, constant(0, points))]),
        ]
    elif alert.kpi == "dead_letters":
        labels = {"reason": "invalid_json", "topic": "sales.touches"}
        rejected = PIPELINE["events_rejected"].sample
        span = minutes(alert.window)
        at = span + minutes(alert.for_) + 2  # a full window, then `for`
        points = at + 5
        fire = ([series(rejected, labels, f"0+1x{points}")], float(span))  # one a minute
        quiet = [
            ("a few, not a stream", [series(rejected, labels, f"0+0.5x{points}")]),
            ("healthy (old dead letters)", [series(rejected, labels, constant(t + 3, points))]),
        ]
    elif alert.kpi == "dead_letter_share":
        rejected, processed = PIPELINE["events_rejected"].sample, PIPELINE["events_processed"]
        span = minutes(alert.window)
        at = span + minutes(alert.for_) + 2
        points = at + 5
        bad = {"reason": "invalid_json", "topic": "sales.touches"}

        def flow(dead: int, good: int) -> list[dict[str, str]]:
            return [
                series(rejected, bad, f"0+{dead}x{points}"),
                series(processed.sample, {"type": "touch"}, f"0+{good}x{points}"),
            ]

        fire = (flow(10, 90), 0.1)  # 10% dead-lettered
        quiet = [("a few among many", flow(1, 99)), ("healthy", flow(0, 100))]
    elif alert.kpi == "worker_up":
        fire = ([series("up", {}, constant(0, points))], 0.0)
        quiet = [
            ("exactly at the threshold", [series("up", {}, constant(1, points))]),
            ("no target at all", []),
        ]
    else:
        raise ValueError(f"{alert.name}: no promtool cases for signal {alert.kpi!r}")
    out_labels = {**labels, **(SCRAPED if alert.kpi == "worker_up" else {})}
    return [_group(alert, "fires", fire[0], at, [expected(alert, out_labels, fire[1])])] + [
        _group(alert, name, inputs, at, []) for name, inputs in quiet
    ]


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
    rows: Rows = {
        ("r-1", "team-a", alert.window): low,
        ("r-2", "team-b", alert.window): low,
        ("r-3", "team-b", alert.window): high,
        ("r-4", "team-c", alert.window): low,
    }
    goal = PIPELINE["goal"].sample
    goals = [
        ({"scope": "team", "team_id": "team-b", "field": "threshold"}, 0.5),
        ({"scope": "rep", "rep_id": "r-3", "field": "threshold"}, 0.9),
        ({"scope": "team", "team_id": "team-c", "field": "min_sample"}, 20.0),
    ]
    input_series = measure_series(rows, points) + [
        series(goal, {"kpi": alert.kpi, **labels}, constant(value, points))
        for labels, value in goals
    ]
    fired = [("r-1", "team-a", 0.6, alert.threshold), ("r-3", "team-b", 0.8, 0.9)]
    exp = [
        expected(alert, labels, value, rows, threshold=goal_)
        for rep, team, value, goal_ in fired
        for labels in [{"rep_id": rep, "team_id": team, "window": alert.window}]
    ]
    return _group(
        alert,
        "goals of a team, of a rep, a team's minimum sample, the default",
        input_series,
        at,
        exp,
    )


def render_promtool_tests() -> dict[str, str]:
    return {
        f"{TESTS_DIR}/recording.test.yml": yamltext.dump(recording_tests()),
        f"{TESTS_DIR}/alerts.test.yml": yamltext.dump(alert_tests()),
    }
