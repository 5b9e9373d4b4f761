"""Which windows a deployment exports on /metrics (SALESPULSE_EXPORT_WINDOWS).

Every exported window is one sample per rep and measure, so dropping the windows no rule
reads is the lever on scrape time and Prometheus series. The windows the alert rules and
team KPIs read cannot be dropped: their alerts would go silent.
"""

from __future__ import annotations

from streams.catalog.alerts import ALERTS
from streams.catalog.kpis import REPS_AT_QUOTA, TEAM_KPIS
from streams.catalog.measures import WINDOW_BY_NAME, WINDOWS, Window


def rule_readers() -> dict[str, list[str]]:
    """window -> the alerts and team KPIs whose rules read it."""
    readers: dict[str, list[str]] = {}
    for alert in ALERTS:
        readers.setdefault(alert.window, []).append(alert.name)
    for kpi in TEAM_KPIS:
        for window in sorted({ref.window for ref in (kpi.numerator, *kpi.denominator)
                              if ref.window}):
            readers.setdefault(window, []).append(kpi.name)
    readers.setdefault(REPS_AT_QUOTA.window, []).append(REPS_AT_QUOTA.name)
    return readers


def export_windows(names: str) -> tuple[Window, ...]:
    """The windows of a comma-separated list, in catalog order (all of them when empty);
    ValueError naming an unknown window or a window the rules read that is left out."""
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    if not wanted:
        return WINDOWS
    unknown = sorted(wanted - set(WINDOW_BY_NAME))
    if unknown:
        raise ValueError(f"unknown window {', '.join(unknown)}; the windows are "
                         f"{', '.join(w.name for w in WINDOWS)}")
    for window, readers in rule_readers().items():
        if window not in wanted:
            raise ValueError(f"leaves out {window}, which {', '.join(sorted(readers))} read: "
                             f"add it (only windows no rule reads can be dropped)")
    return tuple(w for w in WINDOWS if w.name in wanted)
