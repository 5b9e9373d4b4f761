"""What a page carries besides its summary: the counts behind the ratio, the team's value
for a peer alert, and links to the board and the runbook (bases set in alerting/teams.yml).

Each annotation is a Go template that queries Prometheus where the alert fires; the
Python mirror renders the same text from a test case's numbers (promtool tests)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from streams.catalog import KPI_BY_NAME, METRIC_PREFIX, QUOTA_ATTAINMENT, WINDOW_BY_NAME, Alert
from streams.render.promql import kpi_record, measure_sum_record

TEAMS_PATH = Path(__file__).resolve().parents[2] / "alerting" / "teams.yml"
DEFAULT_LINKS = {"runbook": "http://127.0.0.1:6066/runbook", "grafana": "http://127.0.0.1:3000"}
BOARDS = {"rep": "salespulse-rep", "team": "salespulse-team", "pipeline": "salespulse-pipeline"}
Sums = Callable[[tuple[str, ...]], float]  # summed measures of the rep (or team) in the window


@cache
def _team_map() -> dict[str, Any]:
    return (yaml.safe_load(TEAMS_PATH.read_text()) if TEAMS_PATH.exists() else None) or {}


def links() -> dict[str, str]:
    """Where people reach the runbook and Grafana (`links` in alerting/teams.yml)."""
    return {**DEFAULT_LINKS, **(_team_map().get("links") or {})}


def currency_symbol() -> str:
    """How the boards show revenue (`currency_symbol` in alerting/teams.yml)."""
    return str(_team_map().get("currency_symbol", "$"))


def runbook_url(alert_name: str) -> str:
    return f"{links()['runbook']}#{alert_name.lower()}"


def board_url(alert: Alert, labels: dict[str, str] | None = None) -> str:
    """The alert's board, its team and rep selected: a Go template, or with `labels`
    filled in (the mirror)."""
    base = f"{links()['grafana']}/d/{BOARDS[alert.scope]}"
    if alert.scope == "pipeline":
        return base
    ids = ("team", "rep") if alert.scope == "rep" else ("team",)
    query = "&".join(
        f"var-{name}=" + (labels[f"{name}_id"] if labels else f"{{{{ $labels.{name}_id }}}}")
        for name in ids
    )
    return f"{base}?{query}&var-window={alert.window}"


def _query(expr: str, label: str, fmt: str) -> str:
    """A Go template printing `expr` where the alert fires; each `%s` in it is the alert's
    rep (or team)."""
    quoted = expr.replace('"', '\\"').replace("%s", "%[1]s")
    return (
        f'{{{{ with printf "{quoted}" $labels.{label} | query }}}}'
        f'{{{{ . | first | value | printf "{fmt}" }}}}{{{{ end }}}}'
    )


def _sum(alert: Alert, measures: tuple[str, ...]) -> str:
    """PromQL: a sum of measures of the alert's rep (or team) in its window."""
    if alert.scope == "rep":
        return " + ".join(
            f'sum({METRIC_PREFIX}{m}{{rep_id="%s", window="{alert.window}"}})' for m in measures
        )
    return " + ".join(
        f'{measure_sum_record(m)}{{team_id="%s", window="{alert.window}"}}' for m in measures
    )


def _counts(alert: Alert) -> list[tuple[str, tuple[str, ...] | str, str]]:
    """(words, measures summed or a PromQL expression, printf format) behind the KPI."""
    kpi = KPI_BY_NAME.get(alert.kpi)
    if kpi is not None:
        top = tuple(m for m, sign in kpi.numerator if sign > 0)
        return [
            (" + ".join(top), top, "%.0f"),
            (" + ".join(kpi.denominator), kpi.denominator, "%.0f"),
        ]
    if alert.kpi == QUOTA_ATTAINMENT.name:
        days = WINDOW_BY_NAME[alert.window].seconds // 86400
        return [
            (QUOTA_ATTAINMENT.measure, (QUOTA_ATTAINMENT.measure,), "%.0f"),
            (
                f"quota over {alert.window}",
                f'max(salespulse_rep_weekly_quota{{rep_id="%s"}}) * {days} / 7',
                "%.0f",
            ),
        ]
    magic = kpi_record("team_window", "magic_number") + '{team_id="%s"}'
    return [
        ("first_appointments_booked", ("first_appointments_booked",), "%.0f"),
        ("magic_number", magic, "%.1f"),
    ]


def page_annotations(alert: Alert, value_template: str) -> dict[str, str]:
    """A page's links, and for a KPI alert the counts behind it and (peer alerts) the
    team's value, printed with `value_template` (the summary's format of the KPI)."""
    notes = {"runbook_url": runbook_url(alert.name), "dashboard": board_url(alert)}
    if alert.scope == "pipeline":
        return notes
    label = "rep_id" if alert.scope == "rep" else "team_id"
    notes["counts"] = ", ".join(
        f"{words} "
        + _query(_sum(alert, source) if isinstance(source, tuple) else source, label, fmt)
        for words, source, fmt in _counts(alert)
    )
    if alert.relative_to_team:
        team = f'{kpi_record("team_window", alert.kpi)}{{team_id="%s", window="{alert.window}"}}'
        quoted = team.replace('"', '\\"')
        value = value_template.replace("$value", ". | first | value")
        notes["team_value"] = (
            f'{{{{ with printf "{quoted}" $labels.team_id | query }}}}{value}{{{{ end }}}}'
        )
    return notes


def expected_annotations(
    alert: Alert,
    labels: dict[str, str],
    sums: Sums,
    formatted_team_value: str = "",
    quota: float | None = None,
    magic: float | None = None,
) -> dict[str, str]:
    """What `page_annotations` renders where the alert fires, from the case's numbers."""
    notes = {"runbook_url": runbook_url(alert.name), "dashboard": board_url(alert, labels)}
    if alert.scope == "pipeline":
        return notes
    parts = []
    for words, source, fmt in _counts(alert):
        if isinstance(source, tuple):
            value = sums(source)
        elif alert.kpi == QUOTA_ATTAINMENT.name:
            value = (quota or 0) * (WINDOW_BY_NAME[alert.window].seconds // 86400) / 7
        else:
            value = magic or 0
        parts.append(f"{words} {fmt % value}")
    notes["counts"] = ", ".join(parts)
    if alert.relative_to_team:
        notes["team_value"] = formatted_team_value
    return notes
