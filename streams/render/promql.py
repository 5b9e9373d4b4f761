"""PromQL text for the catalog: recording rule names and the KPI ratio expressions.

Workers export additive per-rep gauges `salespulse_<measure>{rep_id,team_id,window}`; a
KPI is a sum of numerators over a sum of denominators, and the `> 0` filter on the
denominator leaves no sample (never NaN or Inf) when it is empty. Names follow the
`level:metric:operations` practice: `rep_window:` keeps (rep_id, team_id, window),
`team_window:` keeps (team_id, window).
"""

from __future__ import annotations

from streams.catalog import (
    METRIC_PREFIX,
    PIPELINE,
    QUOTA_ATTAINMENT,
    Kpi,
    Ref,
    RepShareKpi,
    TeamKpi,
    record_name,
)
from streams.catalog.kpis import WEEK_SECONDS

LEVELS: dict[str, tuple[str, ...]] = {
    "rep_window": ("rep_id", "team_id", "window"),
    "team_window": ("team_id", "window"),
}


def number(value: float) -> str:
    """A PromQL literal that parses back to exactly `value`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def by(level: str) -> str:
    return ", ".join(LEVELS[level])


def measure_sum_record(measure: str) -> str:
    """The recorded team total of a measure."""
    return f"team_window:{METRIC_PREFIX}{measure}:sum"


def kpi_record(level: str, kpi: str) -> str:
    return f"{level}:{METRIC_PREFIX}{record_name(kpi)}"


def selector(name: str, **labels: str) -> str:
    if not labels:
        return name
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def measure_total(level: str, measure: str, **labels: str) -> str:
    """The sum of one measure at a level: raw gauges per rep, the recorded sum per team."""
    if level == "team_window":
        return selector(measure_sum_record(measure), **labels)
    return f"sum by ({by(level)}) ({selector(METRIC_PREFIX + measure, **labels)})"


def measures_total(level: str, measures: tuple[str, ...], **labels: str) -> str:
    return " + ".join(measure_total(level, m, **labels) for m in measures)


def kpi_expr(level: str, kpi: Kpi) -> str:
    """scale * (signed numerator sum) / (denominator sum > 0)."""
    terms = []
    for i, (measure, sign) in enumerate(kpi.numerator):
        op = ("- " if sign < 0 else "") if i == 0 else ("- " if sign < 0 else "+ ")
        terms.append(op + measure_total(level, measure))
    numerator = "\n  ".join(terms)
    if len(terms) > 1:
        numerator = f"(\n  {numerator}\n)"
    if kpi.scale != 1:
        numerator = f"{number(kpi.scale)} * {numerator}"
    return f"{numerator}\n/\n({measures_total(level, kpi.denominator)} > 0)"  # base units


def team_kpi_expr(kpi: TeamKpi) -> str:
    """numerator / (product of the denominator terms > 0), matched on team_id; the result
    keeps the labels of the side with a window."""
    product = "\n  * ".join(ref_expr(ref) for ref in kpi.denominator)
    side = "group_right" if kpi.numerator.kind == "target" else "group_left"
    return (f"{ref_expr(kpi.numerator)}\n/ on (team_id) {side} ()\n"
            f"(\n  {product}\n  > 0\n)")


def ref_expr(ref: Ref) -> str:
    """A team KPI's input as a team-level series."""
    if ref.kind == "target":  # workers each export every configured target: max, not sum
        return f"max by (team_id) ({PIPELINE['team_revenue_target'].sample})"
    if ref.kind == "measure":
        return selector(measure_sum_record(ref.name), window=ref.window)
    return selector(kpi_record("team_window", ref.name), **({"window": ref.window}
                                                            if ref.window else {}))


# -- goals (docs/goals.md): each alert's threshold and minimum sample per rep and team ----

GOAL_FIELDS = {"threshold": "goal", "min_sample": "min_sample"}


def goal_record(level: str, kpi: str, field: str) -> str:
    metric = record_name(kpi).split(":")[0]
    return f"{level}:{METRIC_PREFIX}{metric}:{GOAL_FIELDS[field]}"


def goal_expr(level: str, kpi: str, window: str, field: str, default: float) -> str:
    """The goal of every rep (or team) with a value of the KPI in the window: the rep's
    own, else its team's, else the file's default, else the catalog's. Each layer is the
    KPI's series times 0 plus the goal, so the result has the KPI's labels exactly."""
    template = f"0 * {selector(kpi_record(level, kpi), window=window)}"
    goal = PIPELINE["goal"].sample
    match = f'kpi="{kpi}", field="{field}"'
    layers = [f'{template}\n  + on (team_id) group_left ()\n  max by (team_id) '
              f'({goal}{{{match}, scope="team"}})',
              f'{template}\n  + on () group_left ()\n  max ({goal}{{{match}, scope="default"}})',
              f"{template} + {number(default)}"]
    if level == "rep_window":
        layers.insert(0, f'{template}\n  + on (rep_id) group_left ()\n  max by (rep_id) '
                         f'({goal}{{{match}, scope="rep"}})')
    return "\nor\n".join(f"(\n  {layer}\n)" for layer in layers)


def quota_expr(windows: tuple[tuple[str, int], ...]) -> str:
    """Revenue won over the weekly quota prorated to each window (seconds / 604800)."""
    quota = f"max by (rep_id) ({PIPELINE['rep_weekly_quota'].sample})"
    return "\nor\n".join(
        f"(\n  {measure_total('rep_window', QUOTA_ATTAINMENT.measure, window=name)}\n"
        f"  / on (rep_id) group_left ()\n  ({quota} * {seconds} / {WEEK_SECONDS} > 0)\n)"
        for name, seconds in windows)


def share_expr(share: RepShareKpi) -> str:
    """The share of a team's reps whose value is at least the bound, among those with one
    (0 when none reaches it)."""
    values = selector(kpi_record("rep_window", share.of), window=share.window)
    return (f"(\n  count by (team_id, window) ({values} >= {number(share.at_least)})\n"
            f"  or\n  0 * count by (team_id, window) ({values})\n)\n"
            f"/\ncount by (team_id, window) ({values})")
