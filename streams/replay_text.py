"""A human table of one window's KPIs: each team, then its reps, side by side."""

from __future__ import annotations

from typing import Any

from streams.catalog import KPIS, TEAM_KPIS
from streams.engine import Row, kpis
from streams.events import format_timestamp
from streams.replay import ReplayResult

NAME_WIDTH = 18


def _cell(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{100 * value:.0f}%"
    if unit == "currency":
        return f"{value:,.0f}"
    return f"{value:.1f}"


def _line(name: str, row: Row) -> str:
    values = kpis(row.measures())
    cells = [_cell(k.unit, values[k.name]).rjust(max(len(k.label), 7)) for k in KPIS]
    return f"{name[:NAME_WIDTH]:<{NAME_WIDTH}} " + " ".join(cells)


def to_table(result: ReplayResult, window: str) -> str:
    snap = result.snapshot
    header = f"{'team / rep':<{NAME_WIDTH}} " + " ".join(
        k.label.rjust(max(len(k.label), 7)) for k in KPIS)
    lines = [f"KPIs over the last {window} as of {format_timestamp(snap.as_of)} "
             "(- = no data for the denominator)", "", header]
    for team in (r for r in snap.teams if r.window == window):
        lines.append(_line(team.group_id, team) + _team_only(snap.team_kpis(team.group_id)))
        lines += [_line("  " + rep.group_id, rep) for rep in snap.reps
                  if rep.window == window and rep.team_id == team.group_id]
    counts: dict[str, Any] = result.engine.counts.as_dict()
    rejected = sum(counts["rejected"].values())
    lines += ["", f"events: {counts['applied']} applied, {counts['duplicates']} duplicates, "
                  f"{counts['late']} late, {rejected} rejected, {result.after_as_of} after as-of"]
    return "\n".join(lines) + "\n"


def _team_only(values: dict[str, float | None]) -> str:
    """The team-only KPIs that have a value (they need a revenue target)."""
    shown = [f"{k.label.lower()} {_cell(k.unit, values[k.name])}" for k in TEAM_KPIS
             if values[k.name] is not None]
    return "   " + ", ".join(shown) if shown else ""
