"""The KPI catalog: every window, measure, KPI and alert, defined once.

The engine, the Prometheus exporter, the recording and alert rules, the
Grafana boards and docs/kpis.md are all derived from these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

METRIC_PREFIX = "salespulse_"
MICRO = 1_000_000


@dataclass(frozen=True)
class Window:
    """A rolling window: covers [floor(T, step) + step - length, T)."""

    name: str
    seconds: int
    step: int


WINDOWS: tuple[Window, ...] = (
    Window("1h", 3600, 60),
    Window("24h", 86400, 3600),
    Window("7d", 7 * 86400, 3600),
    Window("30d", 30 * 86400, 3600),
)
WINDOW_BY_NAME = {w.name: w for w in WINDOWS}


@dataclass(frozen=True)
class Measure:
    """An additive per-rep, per-window quantity exported as a gauge."""

    name: str
    help: str
    # Stored as an integer count of 1/scale units, so sums are exact in any order.
    scale: int = 1

    @property
    def metric(self) -> str:
        return METRIC_PREFIX + self.name


MEASURES: tuple[Measure, ...] = (
    Measure("touches", "Touch events."),
    Measure("calls", "Touch events on channel call."),
    Measure("calls_connected", "Calls with outcome connected."),
    Measure("value_message_calls", "Calls that carried a value-added message."),
    Measure("prospects_touched", "Distinct prospects with a touch in the window."),
    Measure("replies", "Reply events."),
    Measure("replies_positive", "Reply events with positive sentiment."),
    Measure("replies_negative", "Reply events with negative sentiment."),
    Measure("replies_neutral", "Reply events with neutral sentiment."),
    Measure("prospects_replied", "Prospects touched in the window that replied in the window."),
    Measure(
        "prospects_replied_positive",
        "Prospects touched in the window with a positive reply in the window.",
    ),
    Measure(
        "prospects_replied_negative",
        "Prospects touched in the window with a negative reply in the window.",
    ),
    Measure("meetings_booked", "Meeting events with status booked."),
    Measure("next_steps_booked", "Booked demos, site visits, surveys and proposals."),
    Measure("first_appointments_held", "Held meetings of kind first_appointment."),
    Measure("meetings_held", "Meeting events with status held."),
    Measure("meetings_no_show", "Meeting events with status no_show."),
    Measure("deals_won", "Deal events with stage won."),
    Measure("deals_lost", "Deal events with stage lost."),
    Measure("revenue_won", "Sum of amount over won deal events.", scale=MICRO),
    Measure(
        "won_cycle_seconds",
        "Seconds from the deal's earliest opened event to won, summed over won events.",
        scale=MICRO,
    ),
    Measure("deals_won_with_cycle", "Won events whose deal has an opened event."),
    Measure("touches_on_won_deals", "Touches carrying the deal_id of a deal won in the window."),
    Measure("touches_on_lost_deals", "Touches carrying the deal_id of a deal lost in the window."),
    Measure("nps_responses", "NPS survey answers."),
    Measure("nps_promoters", "NPS answers scoring 9 or 10."),
    Measure("nps_detractors", "NPS answers scoring 0 to 6."),
    Measure("deals_opened", "Deal events with stage opened (new opportunities)."),
    Measure("proposals_sent", "Deal events with stage proposal (quotes sent, revisions too)."),
    Measure(
        "quote_turnaround_seconds",
        "Seconds from a deal's earliest opened event to its first proposal, summed over the "
        "deals whose first proposal falls in the window.",
        scale=MICRO,
    ),
    Measure("quotes_with_open", "Deals whose first proposal falls in the window and that have "
                                "an opened event."),
    # Not in the 27 of kpis.md: the numerator of activity_ratio needs it.
    Measure("first_appointments_booked", "Booked meetings of kind first_appointment."),
)
MEASURE_INDEX = {m.name: i for i, m in enumerate(MEASURES)}


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

    def value(self, measures: dict[str, float]) -> float | None:
        """The KPI over a row of measures; None when the denominator is 0."""
        den = sum(measures[m] for m in self.denominator)
        if den == 0:
            return None
        num = sum(sign * measures[m] for m, sign in self.numerator)
        return self.scale * num / den / self.per


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

# Team-only KPIs that need a configured weekly revenue target (seed 002).
TEAM_KPIS: tuple[str, ...] = ("magic_number", "activity_ratio")
MAGIC_NUMBER_WINDOW = "30d"
ACTIVITY_WINDOW = "7d"


def magic_number(weekly_target: float | None, kpis_30d: dict[str, float | None]) -> float | None:
    """First appointments needed per week to meet the weekly revenue target."""
    parts = [kpis_30d[k] for k in
             ("avg_revenue_per_sale", "appointment_to_next_step_rate", "close_ratio")]
    if weekly_target is None or any(p is None or p == 0 for p in parts):
        return None
    product = 1.0
    for p in parts:
        product *= p  # type: ignore[operator]
    return weekly_target / product


def activity_ratio(first_appointments_booked_7d: float, magic: float | None) -> float | None:
    """First appointments booked in 7d over the magic number (target >= 1)."""
    if magic is None or magic == 0:
        return None
    return first_appointments_booked_7d / magic


@dataclass(frozen=True)
class Alert:
    """An alert: fires when `kpi` compares badly to a threshold for `for_`.

    KPI alerts (scope "rep" or "team") read a KPI of this catalog; pipeline alerts (scope
    "pipeline") read a signal named in streams/render/alerts.py. `summary` is plain words
    with {value}, {threshold} and {window} filled in by the rule generator.
    """

    name: str
    kpi: str
    scope: str  # "rep", "team" or "pipeline"
    window: str
    op: str  # "<" or ">"
    threshold: float
    summary: str
    seed: str
    relative_to_team: bool = False  # threshold multiplies the team's value
    guard: tuple[str, ...] = ()  # measures summed for the minimum sample
    guard_min: float = 0
    for_: str = "15m"
    severity: str = "warning"
    # While a pipeline alert with this flag fires, Alertmanager holds back KPI alerts:
    # the numbers they read are stale or incomplete.
    inhibits_kpis: bool = False


ALERTS: tuple[Alert, ...] = (
    Alert("SalesAppointmentToNextStepLow", "appointment_to_next_step_rate", "rep", "7d", "<",
          0.65, "books a next step after {value} of first appointments over the last "
          "{window}; the target is {threshold}",
          "002", guard=("first_appointments_held",), guard_min=5),
    Alert("SalesCloseRatioLow", "close_ratio", "rep", "30d", "<", 0.65,
          "wins {value} of closed deals over the last {window}; the target is {threshold}",
          "002", guard=("deals_won", "deals_lost"), guard_min=5),
    Alert("SalesActivityBelowMagicNumber", "activity_ratio", "team", "7d", "<", 1.0,
          "booked {value} of the first appointments needed over the last {window}; the "
          "target is {threshold}", "002"),
    Alert("SalesRevenuePerSaleBelowPeers", "avg_revenue_per_sale", "rep", "30d", "<", 0.6,
          "averages {value} per sale over the last {window}, below {threshold} of the team "
          "average", "002", relative_to_team=True, guard=("deals_won",), guard_min=3),
    Alert("SalesCycleAbovePeers", "avg_sales_cycle_days", "rep", "30d", ">", 1.3,
          "takes {value} days on average to win a deal over the last {window}, above "
          "{threshold} of the team average",
          "002", relative_to_team=True, guard=("deals_won_with_cycle",), guard_min=3),
    Alert("SalesPositiveReplyRateLow", "positive_reply_rate", "rep", "7d", "<", 0.5,
          "gets a positive reply from {value} of prospects over the last {window}, below "
          "{threshold} of the team rate",
          "003 §11", relative_to_team=True, guard=("prospects_touched",), guard_min=20),
    Alert("SalesMeetingAcceptanceLow", "meeting_acceptance_rate", "rep", "7d", "<", 0.3,
          "books a meeting for {value} of replies over the last {window}; the floor is "
          "{threshold}", "003 §12", guard=("replies",), guard_min=10),
    Alert("SalesShowRateLow", "show_rate", "rep", "7d", "<", 0.7,
          "has {value} of meetings held rather than no-shows over the last {window}; the "
          "floor is {threshold}",
          "003 §12", guard=("meetings_held", "meetings_no_show"), guard_min=5),
)

# The pipeline's own health (kpis.md "pipeline" rows); they page the ops receiver.
PIPELINE_ALERTS: tuple[Alert, ...] = (
    Alert("SalespulseNoEventsProcessed", "seconds_since_last_processed", "pipeline", "", ">",
          15 * 60, "no worker has processed a message for {value}; the bound is {threshold}",
          "004 (monitoring alerts)", for_="1m", severity="critical", inhibits_kpis=True),
    Alert("SalespulseConsumerLagHigh", "consumer_lag", "pipeline", "", ">", 10_000,
          "partition {partition} of topic {topic} is {value} messages behind; the bound is "
          "{threshold}", "operations", for_="10m", inhibits_kpis=True),
    Alert("SalespulseDeadLetters", "dead_letters", "pipeline", "5m", ">", 0,
          "{value} dead letters from topic {topic} (reason {reason}) over the last {window}; "
          "the bound is {threshold}", "operations", for_="0s"),
    Alert("SalespulseWorkerDown", "worker_up", "pipeline", "", "<", 1,
          "worker {instance} cannot be scraped: its KPIs are missing from every team total",
          "operations", for_="2m", severity="critical", inhibits_kpis=True),
)
