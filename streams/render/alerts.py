"""Alert rules from the catalog's ALERTS and PIPELINE_ALERTS: expressions and annotations.

Summaries are Prometheus templates in a sales manager's words; `expected_summary` renders
the same text in Python (mirroring Go's formatting) for the generated promtool tests.
"""

from __future__ import annotations

import math
import re
from typing import Any

from streams.catalog import (
    ALERTS,
    PIPELINE_ALERTS,
    SIGNALS,
    UNITS,
    Alert,
)
from streams.render import pages
from streams.render.promql import (
    LEVELS,
    by,
    goal_record,
    kpi_record,
    measures_total,
    number,
    selector,
)

# Go template snippets that print $value per unit, and their Python mirrors below.
VALUE_TEMPLATES = {
    "ratio": "{{ $value | humanizePercentage }}",
    "currency": '{{ $value | printf "%.2f" }}',
    "days": "{{ $value | humanizeDuration }}",  # recorded in seconds
    "count": '{{ $value | printf "%.1f" }}',
    "score": '{{ $value | printf "%.0f" }}',
    "duration": "{{ $value | humanizeDuration }}",
    "messages": '{{ $value | printf "%.0f" }}',
    "bool": "{{ $value }}",
}
_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
_OP_WORDS = {"<": "below", ">": "above"}
GUARD_WORDS = {"deals_won deals_lost": "deals closed",
               "meetings_held meetings_no_show": "meetings held or missed"}


def unit_of(alert: Alert) -> str:
    if alert.scope == "pipeline":
        return SIGNALS[alert.kpi].unit
    return UNITS[alert.kpi]


def level_of(alert: Alert) -> str:
    return "rep_window" if alert.scope == "rep" else "team_window"


def window_words(window: str) -> str:
    """'7d' -> '7 days', '1h' -> 'hour'."""
    match = re.fullmatch(r"(\d+)([smhdw])", window)
    if not match:
        raise ValueError(f"bad window {window!r}")
    count, unit = int(match[1]), _UNIT_WORDS[match[2]]
    return unit if count == 1 else f"{count} {unit}s"


def duration_words(seconds: float) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size and seconds % size == 0:
            return window_words(f"{int(seconds // size)}{unit}")
    return window_words(f"{int(seconds)}s")


def threshold_words(alert: Alert, threshold: float | None = None) -> str:
    """The threshold in words (the catalog's default unless given)."""
    value = alert.threshold if threshold is None else threshold
    unit = unit_of(alert)
    if alert.relative_to_team or unit == "ratio":
        return f"{value * 100:g}%"
    if unit == "duration":
        return duration_words(value)
    return number(value)


def goal_template(alert: Alert) -> str:
    level = level_of(alert)
    ids = LEVELS[level][:-1]  # the labels of the goal record besides the window
    matchers = ",".join(f'{name}=\\"%s\\"' for name in ids)
    args = " ".join(f"$labels.{name}" for name in ids)
    query = (f'printf "{goal_record(level, alert.kpi, "threshold")}{{{matchers},'
             f'window=\\"{alert.window}\\"}}" {args} | query')
    percent = alert.relative_to_team or unit_of(alert) == "ratio"
    value = ('{{ . | first | value | humanizePercentage }}' if percent
             else '{{ . | first | value | printf "%g" }}')
    return f"{{{{ with {query} }}}}{value}{{{{ end }}}}"


def guard_words(alert: Alert) -> str:
    key = " ".join(alert.guard)
    return GUARD_WORDS.get(key, " or ".join(m.replace("_", " ") for m in alert.guard))


def _summary(alert: Alert, value: str, labels: dict[str, str], threshold: str) -> str:
    text = alert.summary.format(value=value, threshold=threshold,
                                window=window_words(alert.window) if alert.window else "",
                                **{k: v for k, v in labels.items() if k != "window"})
    if alert.scope == "rep":
        return f"Rep {labels['rep_id']} (team {labels['team_id']}) {text}."
    if alert.scope == "team":
        return f"Team {labels['team_id']} {text}."
    return text[0].upper() + text[1:] + "."


def summary_template(alert: Alert) -> str:
    names = ("rep_id", "team_id", *(SIGNALS[alert.kpi].labels if alert.scope == "pipeline"
                                     else ()))
    labels = {name: f"{{{{ $labels.{name} }}}}" for name in names}
    threshold = (threshold_words(alert) if alert.scope == "pipeline"
                 else goal_template(alert))
    return _summary(alert, VALUE_TEMPLATES[unit_of(alert)], labels, threshold)


def expected_summary(alert: Alert, value: float, labels: dict[str, str],
                     threshold: float | None = None) -> str:
    """The summary Prometheus renders for `value` and `labels` where the goal is
    `threshold` (default: the catalog's), for promtool tests."""
    goal = threshold_words(alert) if alert.scope == "pipeline" else goal_words(
        alert, alert.threshold if threshold is None else threshold)
    return _summary(alert, format_value(unit_of(alert), value), labels, goal)


def goal_words(alert: Alert, threshold: float) -> str:
    """Python mirror of goal_template."""
    if alert.relative_to_team or unit_of(alert) == "ratio":
        return format_value("ratio", threshold)
    return f"{threshold:g}"


def format_value(unit: str, value: float) -> str:
    """Python mirror of VALUE_TEMPLATES (Go's %.4g, %.Nf and humanizeDuration)."""
    if unit == "ratio":
        return f"{value * 100:.4g}%"
    if unit in ("duration", "days"):  # days are recorded in seconds
        return _humanize_duration(value)
    fmt = {"currency": "%.2f", "days": "%.1f", "count": "%.1f", "score": "%.0f",
           "messages": "%.0f"}.get(unit)
    return fmt % value if fmt else f"{value:g}"


def _humanize_duration(v: float) -> str:
    if math.isnan(v) or math.isinf(v) or v == 0 or abs(v) < 1:
        raise ValueError("only whole durations of a second or more are mirrored")
    sign, v = ("-", -v) if v < 0 else ("", v)
    total = int(v)
    days, hours = total // 86400, total // 3600 % 24
    minutes, seconds = total // 60 % 60, total % 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{v:.4g}s"


def description(alert: Alert) -> str:
    if alert.scope == "pipeline":
        return (f"Pipeline alert (ops): {_signal_expr(alert)} "
                f"{alert.op} {number(alert.threshold)} for {alert.for_}."
                + (" KPI alerts are held back while it fires." if alert.inhibits_kpis else ""))
    who = "the rep's" if alert.scope == "rep" else "the team's"
    what = alert.kpi.replace("_", " ")
    bound = (f"its goal (default {threshold_words(alert)}"
             + (" of the team's value)" if alert.relative_to_team else ")"))
    guard = (f", with at least its minimum sample (default {number(alert.guard_min)}) "
             f"{guard_words(alert)}" if alert.guard else "")
    return (f"Fires when {who} {what} over the last {window_words(alert.window)} is "
            f"{_OP_WORDS[alert.op]} {bound}{guard}, for {alert.for_}. Seed: {alert.seed}.")


def _signal_expr(alert: Alert) -> str:
    return SIGNALS[alert.kpi].expr.replace("{window}", alert.window)


def expr(alert: Alert) -> str:
    if alert.scope == "pipeline":
        bound = f"{alert.op} {number(alert.threshold)}"
        return f"(\n{_signal_expr(alert)}\n)\n{bound}"
    level = level_of(alert)
    value = selector(kpi_record(level, alert.kpi), window=alert.window)
    goal = selector(goal_record(level, alert.kpi, "threshold"), window=alert.window)
    if alert.relative_to_team:
        team = selector(kpi_record("team_window", alert.kpi), window=alert.window)
        text = (f"{value}\n{alert.op}\n({goal}\n * on (team_id, window) group_left ()\n"
                f" {team})")
    else:
        text = f"{value}\n{alert.op}\n{goal}"
    if alert.guard:
        guard = measures_total(level, alert.guard, window=alert.window)
        least = selector(goal_record(level, alert.kpi, "min_sample"), window=alert.window)
        text += f"\nand on ({by(level)})\n({guard}\n>=\n{least})"
    return text


def labels(alert: Alert) -> dict[str, str]:
    """The rule's own labels (the expression adds team_id, rep_id, window, ...)."""
    return {"severity": alert.severity,
            "component": "pipeline" if alert.scope == "pipeline" else "kpi"}


def alert_labels(alert: Alert) -> tuple[str, ...]:
    """Every label a firing alert carries, besides alertname."""
    kept = SIGNALS[alert.kpi].labels if alert.scope == "pipeline" else LEVELS[level_of(alert)]
    return tuple(sorted({*kept, *labels(alert)}))


def rule(alert: Alert, for_override: str | None = None) -> dict[str, Any]:
    return {
        "alert": alert.name,
        "expr": expr(alert),
        "for": for_override or alert.for_,
        "labels": labels(alert),
        "annotations": {
            "summary": summary_template(alert),
            "description": description(alert),
            **pages.page_annotations(alert, VALUE_TEMPLATES[unit_of(alert)]),
        },
    }


def alert_groups(for_override: str | None = None) -> list[dict[str, Any]]:
    return [
        {"name": "salespulse-kpi-alerts", "rules": [rule(a, for_override) for a in ALERTS]},
        {"name": "salespulse-pipeline-alerts",
         "rules": [rule(a, for_override) for a in PIPELINE_ALERTS]},
    ]
