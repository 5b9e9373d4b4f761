"""PromQL text for the catalog: recording rule names and the KPI ratio expressions.

Workers export additive per-rep gauges `salespulse_<measure>{rep_id,team_id,window}`; a
KPI is a sum of numerators over a sum of denominators, and the `> 0` filter on the
denominator leaves no sample (never NaN or Inf) when it is empty. Names follow the
`level:metric:operations` practice: `rep_window:` keeps (rep_id, team_id, window),
`team_window:` keeps (team_id, window).
"""

from __future__ import annotations

from streams.catalog import (
    ACTIVITY_WINDOW,
    MAGIC_NUMBER_WINDOW,
    METRIC_PREFIX,
    Kpi,
)

LEVELS: dict[str, tuple[str, ...]] = {
    "rep_window": ("rep_id", "team_id", "window"),
    "team_window": ("team_id", "window"),
}
TARGET_METRIC = METRIC_PREFIX + "team_revenue_target"
MAGIC_INPUTS = ("avg_revenue_per_sale", "appointment_to_next_step_rate", "close_ratio")


def number(value: float) -> str:
    """A PromQL literal that parses back to exactly `value`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def by(level: str) -> str:
    return ", ".join(LEVELS[level])


def measure_sum_record(measure: str) -> str:
    """The recorded team total of a measure."""
    return f"team_window:{METRIC_PREFIX}{measure}:sum"


def kpi_record(level: str, kpi: str) -> str:
    return f"{level}:{METRIC_PREFIX}{kpi}:ratio"


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
    per = f"\n/ {kpi.per}" if kpi.per != 1 else ""  # seconds shown in days
    return f"{numerator}\n/\n({measures_total(level, kpi.denominator)} > 0){per}"


def magic_number_expr() -> str:
    """Weekly target / (revenue per sale * appointment to next step * close ratio), 30d."""
    product = "\n  * ".join(selector(kpi_record("team_window", k), window=MAGIC_NUMBER_WINDOW)
                          for k in MAGIC_INPUTS)
    # Workers each export every configured target: max, not sum, over them.
    return (f"max by (team_id) ({TARGET_METRIC})\n/ on (team_id) group_right ()\n"
            f"(\n  {product}\n  > 0\n)")


def activity_ratio_expr() -> str:
    """First appointments booked over 7d / the magic number."""
    booked = selector(measure_sum_record("first_appointments_booked"), window=ACTIVITY_WINDOW)
    magic = kpi_record("team_window", "magic_number")
    return f"{booked}\n/ on (team_id) group_left ()\n({magic} > 0)"
