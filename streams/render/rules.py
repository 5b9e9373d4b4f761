"""Prometheus rule files: KPI recording rules and the alert rules, as YAML text."""

from __future__ import annotations

from typing import Any

from streams.catalog import (
    ALERTS,
    KPIS,
    MEASURES,
    QUOTA_ATTAINMENT,
    REPS_AT_QUOTA,
    TEAM_KPIS,
    WINDOWS,
)
from streams.render import alerts, yamltext
from streams.render.promql import (
    LEVELS,
    goal_expr,
    goal_record,
    kpi_expr,
    kpi_record,
    measure_sum_record,
    quota_expr,
    share_expr,
    team_kpi_expr,
)

RECORDING_FILE = "prometheus/rules/salespulse-recording.yml"
ALERTS_FILE = "prometheus/rules/salespulse-alerts.yml"


def recording_rules() -> list[dict[str, str]]:
    """In dependency order: one group evaluates its rules in sequence, so each rule sees
    the samples the rules above it recorded at the same instant."""
    rules = [{"record": measure_sum_record(m.name),
              "expr": f"sum by (team_id, window) ({m.metric})"} for m in MEASURES]
    for level in LEVELS:
        rules += [{"record": kpi_record(level, k.name), "expr": kpi_expr(level, k)}
                  for k in KPIS]
    rules += [{"record": kpi_record("team_window", k.name), "expr": team_kpi_expr(k)}
              for k in TEAM_KPIS]
    rules.append({"record": kpi_record("rep_window", QUOTA_ATTAINMENT.name),
                  "expr": quota_expr(tuple((w.name, w.seconds) for w in WINDOWS))})
    rules.append({"record": kpi_record("team_window", REPS_AT_QUOTA.name),
                  "expr": share_expr(REPS_AT_QUOTA)})
    return rules + goal_rules()


def goal_rules() -> list[dict[str, str]]:
    """Per KPI alert, the threshold (and minimum sample) that applies to each rep or team:
    the goals file's, read from the workers at every evaluation, so an edited goal counts
    without regenerating a rule."""
    rules = []
    for alert in ALERTS:
        level = "rep_window" if alert.scope == "rep" else "team_window"
        fields = [("threshold", alert.threshold)]
        if alert.guard:
            fields.append(("min_sample", alert.guard_min))
        rules += [{"record": goal_record(level, alert.kpi, name),
                   "expr": goal_expr(level, alert.kpi, alert.window, name, default)}
                  for name, default in fields]
    return rules


def recording_groups() -> list[dict[str, Any]]:
    return [{"name": "salespulse-kpis", "rules": recording_rules()}]


def render_rules(for_override: str | None = None) -> dict[str, str]:
    """{path: text} of both rule files; `for_override` (e.g. "0s") is for short test runs
    only: the committed files keep the catalog's durations."""
    return {
        RECORDING_FILE: yamltext.dump({"groups": recording_groups()}),
        ALERTS_FILE: yamltext.dump({"groups": alerts.alert_groups(for_override)}),
    }
