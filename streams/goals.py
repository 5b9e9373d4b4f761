"""Goals: what sales ops set per team and rep in one YAML file (see docs/goals.md).

Every alert threshold and minimum sample has a catalog default; the file may override
it for everyone (`defaults`), per team and per rep (a rep's goal beats its team's, which
beats the default). Teams carry their weekly revenue target (the magic number), reps
their weekly revenue quota. A bad file is one error naming the file, line and key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streams.catalog import ALERTS, KPI_BY_NAME, UNITS, Alert

GOAL_ALERTS = {a.kpi: a for a in ALERTS}  # one alert per KPI: its threshold is the goal
TOP_KEYS = ("defaults", "teams", "reps")
TEAM_KEYS = ("weekly_revenue_target", "goals")
REP_KEYS = ("weekly_quota", "goals")
GOAL_KEYS = ("threshold", "min_sample")


class GoalsError(ValueError):
    """A goals file that cannot be used; the message names the file, line and key."""


@dataclass(frozen=True)
class Goal:
    threshold: float
    min_sample: float


@dataclass(frozen=True)
class Goals:
    """Overrides of the catalog's goals: per KPI, a threshold and/or a minimum sample."""

    defaults: dict[str, dict[str, float]] = field(default_factory=dict)
    teams: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    reps: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)  # team -> weekly revenue target
    quotas: dict[str, float] = field(default_factory=dict)  # rep -> weekly revenue quota

    def goal(self, kpi: str, team_id: str | None = None, rep_id: str | None = None) -> Goal:
        """The goal that applies: the rep's, else its team's, else the default."""
        alert = GOAL_ALERTS[kpi]
        found = {"threshold": alert.threshold, "min_sample": alert.guard_min}
        layers = [self.defaults.get(kpi, {}), self.teams.get(team_id or "", {}).get(kpi, {}),
                  self.reps.get(rep_id or "", {}).get(kpi, {})]
        for layer in layers:
            found.update(layer)
        return Goal(found["threshold"], found["min_sample"])

    def overrides(self) -> Iterator[tuple[str, str, str, str, float]]:
        """(scope, id, kpi, field, value) of every goal the file sets; scope is "default",
        "team" or "rep" (the id is "" for the default)."""
        for kpi, values in self.defaults.items():
            for name, value in values.items():
                yield "default", "", kpi, name, value
        for scope, by_id in (("team", self.teams), ("rep", self.reps)):
            for group_id, goals in by_id.items():
                for kpi, values in goals.items():
                    for name, value in values.items():
                        yield scope, group_id, kpi, name, value


def load(path: str | Path) -> Goals:
    """Read and check a goals file; GoalsError on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GoalsError(f"{path}: cannot read the goals file: {exc.strerror}") from None
    return parse(text, str(path))


def parse(text: str, name: str = "goals.yml") -> Goals:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise GoalsError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return _Reader(name).goals(root)


class _Reader:
    """Walks the YAML nodes, so that every error can name its line."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, node: yaml.Node, key: str, problem: str) -> GoalsError:
        return GoalsError(f"{self.name}:{node.start_mark.line + 1}: {key}: {problem}")

    def mapping(self, node: yaml.Node | None, key: str, allowed: tuple[str, ...] | None
                ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if node is None or isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return {}
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "must be a mapping (name: value lines)")
        out = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            if allowed is not None and name not in allowed:
                raise self.fail(key_node, f"{key}.{name}" if key else name,
                                f"unknown key; expected one of {', '.join(allowed)}")
            out[name] = (key_node, value_node)
        return out

    def number(self, node: yaml.Node, key: str, low: float, high: float | None = None,
               above: bool = False) -> float:
        value: Any = None
        if isinstance(node, yaml.ScalarNode) and node.tag in (
                "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
            value = yaml.safe_load(node.value)
        if not isinstance(value, int | float) or value != value:
            raise self.fail(node, key, f"must be a number, got {node.value!r}")
        too_low = value <= low if above else value < low
        if too_low or high is not None and value > high:
            bound = (f"between {low:g} and {high:g}" if high is not None else
                     f"{'above' if above else 'at least'} {low:g}")
            raise self.fail(node, key, f"must be {bound}, got {value:g}")
        return float(value)

    def goals(self, root: yaml.Node | None) -> Goals:
        top = self.mapping(root, "", TOP_KEYS)
        goals = Goals(defaults=self.kpi_goals(top.get("defaults"), "defaults"))
        for team, (_, node) in self.mapping(top.get("teams", (None, None))[1], "teams",
                                            None).items():
            entry = self.mapping(node, f"teams.{team}", TEAM_KEYS)
            if "weekly_revenue_target" in entry:
                goals.targets[team] = self.number(entry["weekly_revenue_target"][1],
                                                  f"teams.{team}.weekly_revenue_target", 0,
                                                  above=True)
            goals.teams[team] = self.kpi_goals(entry.get("goals"), f"teams.{team}.goals")
        for rep, (_, node) in self.mapping(top.get("reps", (None, None))[1], "reps",
                                           None).items():
            entry = self.mapping(node, f"reps.{rep}", REP_KEYS)
            if "weekly_quota" in entry:
                goals.quotas[rep] = self.number(entry["weekly_quota"][1],
                                                f"reps.{rep}.weekly_quota", 0, above=True)
            goals.reps[rep] = self.kpi_goals(entry.get("goals"), f"reps.{rep}.goals")
        return goals

    def kpi_goals(self, pair: tuple[yaml.Node, yaml.Node] | None, key: str
                  ) -> dict[str, dict[str, float]]:
        """{kpi: {"threshold": ..., "min_sample": ...}}; a bare number is a threshold."""
        out: dict[str, dict[str, float]] = {}
        for kpi, (key_node, node) in self.mapping(pair and pair[1], key, None).items():
            alert = GOAL_ALERTS.get(kpi)
            if alert is None:
                raise self.fail(key_node, f"{key}.{kpi}", "unknown KPI; goals can be set for "
                                + ", ".join(sorted(GOAL_ALERTS)))
            fields = ({"threshold": (key_node, node)} if isinstance(node, yaml.ScalarNode)
                      else self.mapping(node, f"{key}.{kpi}", GOAL_KEYS))
            values = {}
            if "threshold" in fields:
                values["threshold"] = self.threshold(alert, fields["threshold"][1],
                                                     f"{key}.{kpi}.threshold")
            if "min_sample" in fields:
                values["min_sample"] = self.number(fields["min_sample"][1],
                                                   f"{key}.{kpi}.min_sample", 0)
            out[kpi] = values
        return out

    def threshold(self, alert: Alert, node: yaml.Node, key: str) -> float:
        if alert.relative_to_team:  # a factor of the team's value
            return self.number(node, key, 0, above=True)
        if alert.kpi in KPI_BY_NAME and UNITS[alert.kpi] == "ratio":  # a rate: 0..1
            return self.number(node, key, 0, 1)
        return self.number(node, key, 0)
