"""A human table of one window's KPIs, from the replay JSON (replay, or a worker's /kpis).

One block per team: a row per KPI, named in words, the team's value and then each rep's.
Blocks wider than the terminal are split into several, each repeating the KPI names.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

from streams.catalog import KPIS, QUOTA_ATTAINMENT, REPS_AT_QUOTA, TEAM_KPIS
from streams.goals import GOAL_ALERTS, Goals

MISS = "!"  # after a rep's KPI that misses its goal
NO_VALUE = "-"
GAP = 2
Row = dict[str, Any]  # one row of the replay JSON: ids, window, measures, kpis


def _words(name: str) -> str:
    """A KPI's name as a manager reads it: `avg_sales_cycle_days` is sales cycle (days)."""
    words = name.removeprefix("avg_").replace("_", " ")
    if words.endswith(" days"):
        words = words.removesuffix(" days") + " (days)"
    return "NPS" if words == "nps" else words


# (KPI name, unit, what a manager reads); team-only KPIs carry their fixed window
LINES: tuple[tuple[str, str, str], ...] = (
    *((k.name, k.unit, _words(k.name)) for k in KPIS),
    (QUOTA_ATTAINMENT.name, QUOTA_ATTAINMENT.unit, _words(QUOTA_ATTAINMENT.name)),
    *((k.name, k.unit, f"{k.label.lower()} ({k.window}, team)") for k in TEAM_KPIS),
    (REPS_AT_QUOTA.name, REPS_AT_QUOTA.unit,
     f"{REPS_AT_QUOTA.label} ({REPS_AT_QUOTA.window}, team)"),
)
LABEL_WIDTH = max(len(words) for _, _, words in LINES)


def cell(unit: str, value: float | None) -> str:
    if value is None:
        return NO_VALUE
    if unit == "ratio":
        return f"{100 * value:.0f}%"
    if unit == "currency":
        return f"{value:,.0f}"
    return f"{value:.1f}"


def missed_goals(rep: Row, team: Row, goals: Goals) -> frozenset[str]:
    """The KPIs of a rep row that miss their goal (with the goal's minimum sample)."""
    values, measures = rep["kpis"], rep["measures"]
    missed = set()
    for kpi, alert in GOAL_ALERTS.items():
        value, goal = values.get(kpi), goals.goal(kpi, rep["team_id"], rep["rep_id"])
        if value is None or sum(measures[m] for m in alert.guard) < goal.min_sample:
            continue
        bound: float | None = goal.threshold
        if alert.relative_to_team:  # a factor of the team's value
            peers = team["kpis"].get(kpi)
            bound = None if peers is None else goal.threshold * peers
        if bound is not None and (value < bound if alert.op == "<" else value > bound):
            missed.add(kpi)
    return frozenset(missed)


def _columns(team: Row, reps: list[Row], goals: Goals) -> list[tuple[str, list[str]]]:
    """(heading, one cell per line) for the team and each of its reps."""
    out = [(f"team {team['team_id']}", [cell(u, team["kpis"].get(n)) for n, u, _ in LINES])]
    team_only = {k.name for k in TEAM_KPIS} | {REPS_AT_QUOTA.name}
    for rep in reps:
        missed = missed_goals(rep, team, goals)
        out.append((rep["rep_id"], [
            "" if name in team_only else
            cell(unit, rep["kpis"].get(name)) + (MISS if name in missed else "")
            for name, unit, _ in LINES]))
    return out


def _blocks(columns: list[tuple[str, list[str]]], width: int | None) -> Iterator[list[str]]:
    """The columns laid out in blocks no wider than `width` (None: one block)."""
    sized = [(max(len(head), *(len(c) for c in cells)) + GAP, head, cells)
             for head, cells in columns]
    start = 0
    while start < len(sized):
        used, end = LABEL_WIDTH, start
        while end < len(sized) and (width is None or end == start
                                    or used + sized[end][0] <= width):
            used += sized[end][0]
            end += 1
        chunk = sized[start:end]
        yield ([" " * LABEL_WIDTH + "".join(head.rjust(w) for w, head, _ in chunk)]
               + [words.ljust(LABEL_WIDTH) + "".join(cells[i].rjust(w) for w, _, cells in chunk)
                  for i, (_, _, words) in enumerate(LINES)])
        start = end


LEGEND = (
    "Legend: rates in % of their denominator; revenue in the events' currency",
    f"  {NO_VALUE}  no value: nothing in the KPI's denominator in this window",
    f"  {MISS}  the rep misses its goal (its alert's threshold, or docs/goals.md)",
)


def events_line(counts: dict[str, Any]) -> str:
    rejected = counts["rejected"]
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(rejected.items()) if n)
    return (f"Events: {counts['applied']:,} applied, {counts['duplicates']:,} duplicates, "
            f"{counts['late']:,} late, {sum(rejected.values()):,} rejected"
            + (f" ({reasons})" if reasons else "")
            + f", {counts.get('after_as_of', 0):,} after as-of")


def to_table(doc: dict[str, Any], window: str, goals: Goals | None = None,
             width: int | None = 0) -> str:
    """`width` 0: the terminal's; None: no limit (--wide)."""
    if width == 0:
        width = shutil.get_terminal_size((120, 24)).columns
    lines = [f"KPIs over the last {window} as of {doc['as_of']}"]
    teams = [t for t in doc["teams"] if t["window"] == window]
    for team in teams:
        reps = [r for r in doc["reps"]
                if r["window"] == window and r["team_id"] == team["team_id"]]
        for block in _blocks(_columns(team, reps, goals or Goals()), width):
            lines += ["", *block]
    if not teams:
        lines += ["", "No events in this window."]
    lines += ["", *LEGEND, events_line(doc["events"])]
    return "\n".join(line.rstrip() for line in lines) + "\n"
