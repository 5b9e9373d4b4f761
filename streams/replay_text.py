"""A human table of one window's KPIs: each team, then its reps, side by side."""

from __future__ import annotations

from typing import Any

from streams.catalog import KPIS, Kpi
from streams.engine import Row, kpis
from streams.events import format_timestamp
from streams.replay import ReplayResult

NAME_WIDTH = 18


def _cell(kpi: Kpi, value: float | None) -> str:
    if value is None:
        return "-"
    if kpi.unit == "ratio":
        return f"{100 * value:.0f}%"
    if kpi.unit == "currency":
        return f"{value:,.0f}"
    return f"{value:.1f}"


def _line(name: str, row: Row) -> str:
    values = kpis(row.measures())
    cells = [_cell(k, values[k.name]).rjust(max(len(k.label), 7)) for k in KPIS]
    return f"{name[:NAME_WIDTH]:<{NAME_WIDTH}} " + " ".join(cells)


def to_table(result: ReplayResult, window: str) -> str:
    snap = result.snapshot
    header = f"{'team / rep':<{NAME_WIDTH}} " + " ".join(
        k.label.rjust(max(len(k.label), 7)) for k in KPIS)
    lines = [f"KPIs over the last {window} as of {format_timestamp(snap.as_of)} "
             "(- = no data for the denominator)", "", header]
    for team in (r for r in snap.teams if r.window == window):
        extra = snap.team_kpis(team.group_id)
        lines.append(_line(team.group_id, team) + _magic(extra))
        lines += [_line("  " + rep.group_id, rep) for rep in snap.reps
                  if rep.window == window and rep.team_id == team.group_id]
    counts: dict[str, Any] = result.engine.counts.as_dict()
    rejected = sum(counts["rejected"].values())
    lines += ["", f"events: {counts['applied']} applied, {counts['duplicates']} duplicates, "
                  f"{counts['late']} late, {rejected} rejected, {result.after_as_of} after as-of"]
    return "\n".join(lines) + "\n"


def _magic(extra: dict[str, float | None]) -> str:
    magic, ratio = extra["magic_number"], extra["activity_ratio"]
    if magic is None:
        return ""
    activity = "-" if ratio is None else f"{100 * ratio:.0f}%"
    return f"   magic number {magic:.1f}/week, activity {activity}"
