"""Which measures and windows a deployment exports on /metrics (SALESPULSE_EXPORT_MEASURES,
SALESPULSE_EXPORT_WINDOWS).

Every exported measure and window is one sample per rep, so dropping what no rule reads
is the lever on scrape time and Prometheus series. What the alert rules and team KPIs
read cannot be dropped: their alerts would go silent. A KPI whose measures are dropped
simply records nothing, and its panels show no data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from streams.catalog.alerts import ALERTS
from streams.catalog.kpis import (
    KPI_BY_NAME,
    QUOTA_ATTAINMENT,
    REPS_AT_QUOTA,
    TEAM_KPI_BY_NAME,
    TEAM_KPIS,
)
from streams.catalog.measures import MEASURES, WINDOWS, Measure, Window

Named = TypeVar("Named", Measure, Window)


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


def measures_of(kpi: str) -> set[str]:
    """The measures a KPI of any kind is computed from."""
    if kpi in KPI_BY_NAME:
        ratio = KPI_BY_NAME[kpi]
        return {name for name, _ in ratio.numerator} | set(ratio.denominator)
    if kpi in (QUOTA_ATTAINMENT.name, REPS_AT_QUOTA.name):
        return {QUOTA_ATTAINMENT.measure}
    team_kpi = TEAM_KPI_BY_NAME[kpi]
    found: set[str] = set()
    for ref in (team_kpi.numerator, *team_kpi.denominator):
        if ref.kind == "measure":
            found.add(ref.name)
        elif ref.kind in ("kpi", "team_kpi"):
            found |= measures_of(ref.name)
    return found


def measure_readers() -> dict[str, list[str]]:
    """measure -> the alerts (with their minimum samples) and team KPIs that read it."""
    readers: dict[str, list[str]] = {}
    for alert in ALERTS:
        for measure in sorted(measures_of(alert.kpi) | set(alert.guard)):
            readers.setdefault(measure, []).append(alert.name)
    for name in (*(k.name for k in TEAM_KPIS), REPS_AT_QUOTA.name):
        for measure in sorted(measures_of(name)):
            readers.setdefault(measure, []).append(name)
    return readers


def _select(kind: str, names: str, catalog: Sequence[Named],
            readers: dict[str, list[str]]) -> tuple[Named, ...]:
    """The entries of a comma-separated list, in catalog order (all of them when empty);
    ValueError naming an unknown entry or one the rules read that is left out."""
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    if not wanted:
        return tuple(catalog)
    unknown = sorted(wanted - {entry.name for entry in catalog})
    if unknown:
        raise ValueError(f"unknown {kind} {', '.join(unknown)}; the {kind}s are "
                         f"{', '.join(entry.name for entry in catalog)}")
    for name, read_by in readers.items():
        if name not in wanted:
            raise ValueError(f"leaves out {name}, which {', '.join(sorted(read_by))} read: "
                             f"add it (only {kind}s no rule reads can be dropped)")
    return tuple(entry for entry in catalog if entry.name in wanted)


def export_windows(names: str) -> tuple[Window, ...]:
    return _select("window", names, WINDOWS, rule_readers())


def export_measures(names: str) -> tuple[Measure, ...]:
    return _select("measure", names, MEASURES, measure_readers())


# Every exported rep, team and window has this series: the boards list them from it.
ALWAYS_EXPORTED: Measure = next(m for m in MEASURES if m.name in measure_readers())
