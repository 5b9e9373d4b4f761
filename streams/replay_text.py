"""A human table of one window's KPIs: each team, then its reps, side by side."""

from __future__ import annotations

from typing import Any

from streams.catalog import KPIS, QUOTA_ATTAINMENT, TEAM_KPIS, Kpi, QuotaKpi
from streams.engine import Row, kpis
from streams.events import format_timestamp
from streams.goals import GOAL_ALERTS, Goals
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


COLUMNS: tuple[Kpi | QuotaKpi, ...] = (*KPIS, QUOTA_ATTAINMENT)
MISS = "!"  # after a rep's KPI that misses its goal


def _line(name: str, values: dict[str, float | None], missed: frozenset[str] = frozenset()
          ) -> str:
    cells = [(_cell(k.unit, values.get(k.name)) + (MISS if k.name in missed else ""))
             .rjust(max(len(k.label), 7)) for k in COLUMNS]
    return f"{name[:NAME_WIDTH]:<{NAME_WIDTH}} " + " ".join(cells)


def missed_goals(row: Row, values: dict[str, float | None], team: dict[str, float | None],
                 goals: Goals) -> frozenset[str]:
    """The KPIs of a rep row that miss their goal (with the goal's minimum sample)."""
    measures = row.measures()
    missed = set()
    for kpi, alert in GOAL_ALERTS.items():
        value, goal = values.get(kpi), goals.goal(kpi, row.team_id, row.group_id)
        if value is None or sum(measures[m] for m in alert.guard) < goal.min_sample:
            continue
        bound: float | None = goal.threshold
        if alert.relative_to_team:  # a factor of the team's value
            peers = team.get(kpi)
            bound = None if peers is None else goal.threshold * peers
        if bound is not None and (value < bound if alert.op == "<" else value > bound):
            missed.add(kpi)
    return frozenset(missed)


def to_table(result: ReplayResult, window: str, goals: Goals | None = None) -> str:
    snap, goals = result.snapshot, goals or Goals()
    header = f"{'team / rep':<{NAME_WIDTH}} " + " ".join(
        k.label.rjust(max(len(k.label), 7)) for k in COLUMNS)
    lines = [f"KPIs over the last {window} as of {format_timestamp(snap.as_of)} "
             f"(- = no data for the denominator, {MISS} = misses its goal)", "", header]
    for team in (r for r in snap.teams if r.window == window):
        team_values = kpis(team.measures())
        lines.append(_line(team.group_id, team_values)
                     + _team_only(snap.team_kpis(team.group_id)))
        for rep in snap.reps:
            if rep.window == window and rep.team_id == team.group_id:
                values = snap.rep_kpis(rep)
                missed = missed_goals(rep, values, team_values, goals)
                lines.append(_line("  " + rep.group_id, values, missed))
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
