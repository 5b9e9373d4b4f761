"""Read the engine as of T: per-rep and per-team measure rows and their KPIs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import add
from typing import Any

from streams.catalog import (
    KPIS,
    MEASURES,
    QUOTA_ATTAINMENT,
    REPS_AT_QUOTA,
    WINDOW_BY_NAME,
    WINDOWS,
    Window,
    team_kpi_values,
)
from streams.engine.core import Engine
from streams.engine.windows import start_bucket

_SCALED = [(i, m.scale) for i, m in enumerate(MEASURES) if m.scale != 1]


@dataclass(frozen=True)
class Row:
    """One group (a rep or a team) over one window: the raw measure vector."""

    group_id: str
    team_id: str
    window: str
    vector: tuple[Any, ...]

    def measures(self) -> dict[str, Any]:
        values = list(self.vector)
        for i, scale in _SCALED:
            values[i] = values[i] / scale if values[i] else 0
        return {m.name: v for m, v in zip(MEASURES, values, strict=True)}


def kpis(measures: dict[str, Any]) -> dict[str, float | None]:
    return {k.name: k.value(measures) for k in KPIS}


@dataclass(frozen=True)
class Snapshot:
    """Every window of every active rep and team, as of T (microseconds)."""

    as_of: int
    reps: list[Row]
    teams: list[Row]
    team_targets: dict[str, float]
    quotas: dict[str, float] = field(default_factory=dict)  # rep -> weekly revenue quota

    def rep_kpis(self, row: Row) -> dict[str, float | None]:
        """The KPIs of a rep row: ratios of its measures, and its quota attainment."""
        measures = row.measures()
        return kpis(measures) | {QUOTA_ATTAINMENT.name: self.attainment(row, measures)}

    def attainment(self, row: Row, measures: dict[str, Any] | None = None) -> float | None:
        revenue = (measures or row.measures())[QUOTA_ATTAINMENT.measure]
        return QUOTA_ATTAINMENT.value(revenue, self.quotas.get(row.group_id),
                                      WINDOW_BY_NAME[row.window].seconds)

    def team_kpis(self, team_id: str) -> dict[str, float | None]:
        """The catalog's team-only KPIs: the same for every window row of the team."""
        values = team_kpi_values(self.team_targets.get(team_id),
                                 {r.window: r.measures() for r in self.teams
                                  if r.group_id == team_id})
        share = REPS_AT_QUOTA
        values[share.name] = share.value([self.attainment(r) for r in self.reps
                                          if r.team_id == team_id and r.window == share.window])
        return values


def rep_totals(engine: Engine, as_of: int, windows: tuple[Window, ...] = WINDOWS
               ) -> Iterator[tuple[str, str, str, list[Any]]]:
    """(rep_id, team_id, window, raw measure vector) of every active rep and window as of
    T. The vector is the rep's running total: read it before the engine takes more events."""
    starts = [(w.name, w.step == 60, start_bucket(w, as_of)) for w in windows]
    for rep in engine.active_reps(as_of):
        for name, is_minute, start in starts:
            yield rep.rep_id, rep.team_id, name, rep.totals_from(name, is_minute, start)


def take_snapshot(engine: Engine, as_of: int, targets: dict[str, float] | None = None,
                  quotas: dict[str, float] | None = None) -> Snapshot:
    """Every row as of T; weekly targets and quotas from the engine's config unless given
    (the worker's goals file may change while it runs)."""
    rep_rows: list[Row] = []
    team_sums: dict[tuple[str, str], list[Any]] = {}
    for rep_id, team_id, window, vector in rep_totals(engine, as_of):
        rep_rows.append(Row(rep_id, team_id, window, tuple(vector)))
        key = (team_id, window)
        total = team_sums.get(key)
        team_sums[key] = list(vector) if total is None else list(map(add, total, vector))
    order = {w.name: i for i, w in enumerate(WINDOWS)}
    team_rows = [Row(team, team, window, tuple(vector)) for (team, window), vector
                 in sorted(team_sums.items(), key=lambda kv: (kv[0][0], order[kv[0][1]]))]
    config = engine.config
    return Snapshot(as_of, rep_rows, team_rows,
                    config.team_targets if targets is None else targets,
                    config.quotas if quotas is None else quotas)
