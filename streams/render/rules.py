"""Prometheus rule files: KPI recording rules and the alert rules, as YAML text."""

from __future__ import annotations

from typing import Any

from streams.catalog import KPIS, MEASURES, TEAM_KPIS
from streams.render import alerts, yamltext
from streams.render.promql import LEVELS, kpi_expr, kpi_record, measure_sum_record, team_kpi_expr

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
