"""recording.test.yml: every KPI rule, per rep and per team and for every window,
checked against the catalog's own Python formulas; an empty denominator leaves no sample."""

from __future__ import annotations

from typing import Any

from streams.catalog import (
    KPIS,
    MEASURES,
    PIPELINE,
    QUOTA_ATTAINMENT,
    REPS_AT_QUOTA,
    TEAM_KPIS,
    WINDOW_BY_NAME,
    WINDOWS,
    team_kpi_values,
)
from streams.render.cases import Rows
from streams.render.promql import kpi_record
from streams.render.testseries import RULE_FILES, constant, measure_series, series

TEAM = "team-a"
TARGET_METRIC = PIPELINE["team_revenue_target"].sample
QUOTA_METRIC = PIPELINE["rep_weekly_quota"].sample


def _sample_rows() -> Rows:
    """Two reps in one team with every measure non-zero, and a quiet rep in another."""
    rows: Rows = {}
    for r, rep in enumerate(("r-1", "r-2")):
        for w, window in enumerate(WINDOWS):
            rows[(rep, TEAM, window.name)] = {
                m.name: float(1 + (i * 7 + w * 3 + r * 5) % 13) for i, m in enumerate(MEASURES)
            }
    for window in WINDOWS:
        rows[("r-quiet", "team-quiet", window.name)] = {m.name: 0.0 for m in MEASURES}
    return rows


def _sample(record: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"labels": f"{record}{{{inner}}}", "value": value}


def _quota_exprs(rows: Rows, quotas: dict[str, float]) -> list[dict[str, Any]]:
    """Attainment per rep and window, and each team's share of reps at quota (30d)."""
    record = kpi_record("rep_window", QUOTA_ATTAINMENT.name)
    attained = {
        key: QUOTA_ATTAINMENT.value(
            values[QUOTA_ATTAINMENT.measure], quotas.get(key[0]), WINDOW_BY_NAME[key[2]].seconds
        )
        for key, values in rows.items()
    }
    share = REPS_AT_QUOTA
    by_team: dict[str, list[float | None]] = {}
    for (_, team, window), value in attained.items():
        if window == share.window:
            by_team.setdefault(team, []).append(value)
    team_record = kpi_record("team_window", share.name)
    return [
        {
            "expr": record,
            "eval_time": "2m",
            "exp_samples": [
                _sample(record, {"rep_id": rep, "team_id": team, "window": window}, value)
                for (rep, team, window), value in attained.items()
                if value is not None
            ],
        },
        {
            "expr": team_record,
            "eval_time": "2m",
            "exp_samples": [
                _sample(team_record, {"team_id": team, "window": share.window}, value)
                for team, values in by_team.items()
                if (value := share.value(values)) is not None
            ],
        },
    ]


def recording_tests() -> dict[str, Any]:
    rows, target = _sample_rows(), 50_000.0
    teams: dict[tuple[str, str], dict[str, float]] = {}
    for (_, team, window), values in rows.items():
        total = teams.setdefault((team, window), {})
        for name, v in values.items():
            total[name] = total.get(name, 0.0) + v
    exprs = []
    for kpi in KPIS:
        rep_samples = [
            _sample(
                kpi_record("rep_window", kpi.name),
                {"rep_id": rep, "team_id": team, "window": window},
                value,
            )
            for (rep, team, window), values in rows.items()
            if (value := kpi.in_base_units(values)) is not None
        ]  # type: ignore[misc]
        team_samples = [
            _sample(kpi_record("team_window", kpi.name), {"team_id": team, "window": window}, value)
            for (team, window), values in teams.items()
            if (value := kpi.in_base_units(values)) is not None
        ]  # type: ignore[misc]
        exprs.append(
            {
                "expr": kpi_record("rep_window", kpi.name),
                "eval_time": "2m",
                "exp_samples": rep_samples,
            }
        )
        exprs.append(
            {
                "expr": kpi_record("team_window", kpi.name),
                "eval_time": "2m",
                "exp_samples": team_samples,
            }
        )
    team_values = team_kpi_values(
        target, {w: row for (team, w), row in teams.items() if team == TEAM}
    )
    for team_kpi in TEAM_KPIS:
        value = team_values[team_kpi.name]
        assert value is not None, team_kpi.name
        record = kpi_record("team_window", team_kpi.name)
        exprs.append(
            {
                "expr": record,
                "eval_time": "2m",
                "exp_samples": [
                    _sample(record, {"team_id": TEAM, "window": team_kpi.window}, value)
                ],
            }
        )
    quotas = {"r-1": 3.0, "r-2": 7.0, "r-quiet": 10.0}  # over 30d r-1 is at quota, r-2 not
    exprs += _quota_exprs(rows, quotas)
    input_series = measure_series(rows, 5)
    input_series += [
        series(TARGET_METRIC, {"team_id": team}, constant(target, 5))
        for team in (TEAM, "team-quiet")
    ]
    input_series += [
        series(QUOTA_METRIC, {"rep_id": rep}, constant(quota, 5)) for rep, quota in quotas.items()
    ]
    return {
        "rule_files": RULE_FILES,
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": "every KPI per rep and per team, every window; none for a quiet team",
                "interval": "1m",
                "input_series": input_series,
                "promql_expr_test": exprs,
            }
        ],
    }
