"""KPIs: ratios of measures, per rep and team, and the team-only KPIs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Kpi:
    """A ratio: scale * sum(signed numerator terms) / sum(denominator terms)."""

    name: str
    numerator: tuple[tuple[str, int], ...]
    denominator: tuple[str, ...]
    help: str
    seed: str
    scale: float = 1.0
    unit: str = "ratio"  # ratio (shown as %), count, currency, days or score
    label: str = ""  # short column header for tables and panels
    per: int = 1  # the result is divided by this: seconds measures shown in days

    def in_base_units(self, measures: Mapping[str, float]) -> float | None:
        """The value Prometheus records (seconds, not days); None when the denominator
        is 0."""
        den = sum(measures[m] for m in self.denominator)
        if den == 0:
            return None
        num = sum(sign * measures[m] for m, sign in self.numerator)
        return self.scale * num / den

    def value(self, measures: Mapping[str, float]) -> float | None:
        """The KPI over a row of measures, as kpis.md defines it (days, not seconds)."""
        value = self.in_base_units(measures)
        return None if value is None else value / self.per


DAY_SECONDS = 86_400


def _ratio(name: str, num: str, den: str | tuple[str, ...], help: str, seed: str,
           unit: str = "ratio") -> Kpi:
    dens = (den,) if isinstance(den, str) else den
    per = DAY_SECONDS if unit == "days" else 1  # the measure is in seconds
    return Kpi(name, ((num, 1),), dens, help, seed, unit=unit, label=LABELS[name], per=per)


LABELS = {
    "touches_per_prospect": "touch/pr", "reply_rate": "reply", "positive_reply_rate": "pos",
    "negative_reply_rate": "neg", "meeting_acceptance_rate": "accept", "show_rate": "show",
    "appointment_to_next_step_rate": "appt>next", "call_connect_rate": "connect",
    "value_message_call_share": "value", "close_ratio": "close",
    "avg_revenue_per_sale": "rev/sale", "avg_sales_cycle_days": "cycle d",
    "avg_quote_turnaround_days": "quote d",
    "touches_per_won_deal": "touch/won", "touches_per_lost_deal": "touch/lost", "nps": "NPS",
}


KPIS: tuple[Kpi, ...] = (
    _ratio("touches_per_prospect", "touches", "prospects_touched",
           "Touches per distinct prospect touched.", "003 §9 system touches", unit="count"),
    _ratio("reply_rate", "prospects_replied", "prospects_touched",
           "Share of prospects touched that replied.", "003 §11"),
    _ratio("positive_reply_rate", "prospects_replied_positive", "prospects_touched",
           "Share of prospects touched that replied positively (50 contacted, 3 positive = 6%).",
           "003 §11"),
    _ratio("negative_reply_rate", "prospects_replied_negative", "prospects_touched",
           "Share of prospects touched that replied negatively.", "003 §11"),
    _ratio("meeting_acceptance_rate", "meetings_booked", "replies",
           "Meetings booked per reply.", "003 §12"),
    _ratio("show_rate", "meetings_held", ("meetings_held", "meetings_no_show"),
           "Share of meetings held among held and no-shows.", "003 §12"),
    _ratio("appointment_to_next_step_rate", "next_steps_booked", "first_appointments_held",
           "Next steps booked per first appointment held (target 65%).", "002"),
    _ratio("call_connect_rate", "calls_connected", "calls",
           "Share of calls that connected.", "002 conversations to appointments"),
    _ratio("value_message_call_share", "value_message_calls", "calls",
           "Share of calls carrying a value-added message.", "000/001"),
    _ratio("close_ratio", "deals_won", ("deals_won", "deals_lost"),
           "Won deals among deals closed (target 65%).", "002"),
    _ratio("avg_revenue_per_sale", "revenue_won", "deals_won",
           "Average revenue per won deal.", "002", unit="currency"),
    _ratio("avg_sales_cycle_days", "won_cycle_seconds", "deals_won_with_cycle",
           "Average days from opened to won.", "003 §10, 002", unit="days"),
    _ratio("avg_quote_turnaround_days", "quote_turnaround_seconds", "quotes_with_open",
           "Average days from a deal's opening to its first proposal.",
           "000/001 quote turnaround", unit="days"),
    _ratio("touches_per_won_deal", "touches_on_won_deals", "deals_won",
           "Touches per won deal.", "003 §9", unit="count"),
    _ratio("touches_per_lost_deal", "touches_on_lost_deals", "deals_lost",
           "Touches per lost deal.", "003 §9", unit="count"),
    Kpi("nps", (("nps_promoters", 1), ("nps_detractors", -1)), ("nps_responses",),
        "Net promoter score: 100 * (promoters - detractors) / responses.", "003 §8",
        scale=100.0, unit="score", label=LABELS["nps"]),
)
KPI_BY_NAME = {k.name: k for k in KPIS}


@dataclass(frozen=True)
class Ref:
    """An input of a team KPI: the team's weekly revenue target ("target"), a KPI or a
    measure of the team in a window ("kpi", "measure"), or another team KPI."""

    kind: str
    name: str = ""
    window: str = ""


@dataclass(frozen=True)
class TeamKpi:
    """A team-level KPI: numerator / product of the denominator terms; undefined when an
    input is, or a denominator term is 0. The replay, the recording rules, the boards and
    the docs all read it from here."""

    name: str
    numerator: Ref
    denominator: tuple[Ref, ...]
    help: str
    seed: str
    unit: str
    label: str

    @property
    def window(self) -> str:
        """The window label its recorded series carries."""
        return self.numerator.window or next(r.window for r in self.denominator if r.window)

    def value(self, resolve: Callable[[Ref], float | None]) -> float | None:
        numerator = resolve(self.numerator)
        parts = [resolve(ref) for ref in self.denominator]
        if numerator is None or any(p is None or p == 0 for p in parts):
            return None
        product = 1.0
        for part in parts:
            product *= part  # type: ignore[operator]
        return numerator / product


# Seed 002: the first appointments a team needs per week to meet its revenue target, and
# how its bookings compare with that.
TEAM_KPIS: tuple[TeamKpi, ...] = (
    TeamKpi("magic_number", Ref("target"),
            tuple(Ref("kpi", k, "30d") for k in ("avg_revenue_per_sale",
                                                 "appointment_to_next_step_rate", "close_ratio")),
            "First appointments needed per week to meet the weekly revenue target.", "002",
            unit="count", label="Magic number"),
    TeamKpi("activity_ratio", Ref("measure", "first_appointments_booked", "7d"),
            (Ref("team_kpi", "magic_number"),),
            "First appointments booked over the magic number (target >= 100%).", "002",
            unit="ratio", label="Activity ratio"),
)
TEAM_KPI_BY_NAME = {k.name: k for k in TEAM_KPIS}


def team_kpi_values(target: float | None, measures: Mapping[str, Mapping[str, float]]
                    ) -> dict[str, float | None]:
    """Every team-only KPI of one team, from its weekly revenue target and its measures
    per window (the same value for every window row)."""
    values: dict[str, float | None] = {}

    def resolve(ref: Ref) -> float | None:
        if ref.kind == "target":
            return target
        if ref.kind == "team_kpi":
            return values[ref.name]
        row = measures[ref.window]
        return row[ref.name] if ref.kind == "measure" else KPI_BY_NAME[ref.name].value(row)

    for kpi in TEAM_KPIS:  # in order: a team KPI may read an earlier one
        values[kpi.name] = kpi.value(resolve)
    return values


@dataclass(frozen=True)
class QuotaKpi:
    """A rep's revenue won over its weekly quota prorated to the window (003 §1 "who is
    hitting quota?"); undefined without a quota."""

    name: str
    measure: str
    help: str
    seed: str
    unit: str = "ratio"
    label: str = "quota"

    def value(self, revenue: float, weekly_quota: float | None, window_seconds: int
              ) -> float | None:
        if not weekly_quota:
            return None
        return revenue / (weekly_quota * window_seconds / WEEK_SECONDS)


@dataclass(frozen=True)
class RepShareKpi:
    """A team's share of its reps with a `of` value (in `window`) of at least `at_least`,
    among the reps that have one; undefined when none has."""

    name: str
    of: str
    window: str
    at_least: float
    help: str
    seed: str
    unit: str = "ratio"
    label: str = "reps at quota"

    def value(self, values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(v >= self.at_least for v in known) / len(known) if known else None


WEEK_SECONDS = 7 * 86_400
QUOTA_ATTAINMENT = QuotaKpi("quota_attainment", "revenue_won",
                            "Revenue won over the weekly quota prorated to the window.",
                            "003 §1")
REPS_AT_QUOTA = RepShareKpi("reps_at_quota_ratio", "quota_attainment", "30d", 1.0,
                            "Share of the team's reps with a quota whose 30d attainment is at "
                            "least 100%.", "003 §1")

# The unit of every KPI by name, whatever its kind.
UNITS: dict[str, str] = {k.name: k.unit for k in KPIS} | {k.name: k.unit for k in TEAM_KPIS} | {
    QUOTA_ATTAINMENT.name: QUOTA_ATTAINMENT.unit, REPS_AT_QUOTA.name: REPS_AT_QUOTA.unit}

# Prometheus keeps base units and names a recorded KPI by what it is (`:ratio` only for
# ratios): a KPI in days is recorded in seconds, averages as `:avg`, the NPS as `:score`.
RECORD_OPS = {"ratio": "ratio", "days": "avg", "currency": "avg", "count": "avg",
              "score": "score"}
RECORD_NAMES = {"magic_number": "magic_number:count"}  # a number of appointments


def record_name(kpi: str) -> str:
    """The metric part of a KPI's recording rules: `<name>:<op>`."""
    if kpi in RECORD_NAMES:
        return RECORD_NAMES[kpi]
    unit, op = UNITS[kpi], RECORD_OPS[UNITS[kpi]]
    name = kpi.removesuffix("_days") + "_seconds" if unit == "days" else kpi
    return f"{name.removeprefix('avg_') if op == 'avg' else name}:{op}"
