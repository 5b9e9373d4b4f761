"""Alerts on KPIs (to a team's manager) and on the pipeline (to ops)."""

from __future__ import annotations

from dataclasses import dataclass


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
          "takes {value} on average to win a deal over the last {window}, above "
          "{threshold} of the team average",
          "002", relative_to_team=True, guard=("deals_won_with_cycle",), guard_min=3),
    Alert("SalesPositiveReplyRateLow", "positive_reply_rate", "rep", "7d", "<", 0.5,
          "gets a positive reply from {value} of prospects over the last {window}, below "
          "{threshold} of the team rate",
          "003 §11", relative_to_team=True, guard=("prospects_touched",), guard_min=20),
    Alert("SalesMeetingAcceptanceLow", "meeting_acceptance_rate", "rep", "7d", "<", 0.3,
          "books a meeting for {value} of replies over the last {window}; the floor is "
          "{threshold}", "003 §12", guard=("replies",), guard_min=10),
    # Rolling windows are always whole: the 30d attainment is a month against a month of
    # prorated quota, so a rep below the floor is behind, whatever the calendar says.
    Alert("SalesQuotaAttainmentLow", "quota_attainment", "rep", "30d", "<", 0.7,
          "has won {value} of its prorated quota over the last {window}; the floor is "
          "{threshold}", "003 §1", for_="1h"),
    Alert("SalesShowRateLow", "show_rate", "rep", "7d", "<", 0.7,
          "has {value} of meetings held rather than no-shows over the last {window}; the "
          "floor is {threshold}",
          "003 §12", guard=("meetings_held", "meetings_no_show"), guard_min=5),
)

# The pipeline's own health (kpis.md "pipeline" rows); they page the ops receiver at any
# hour, so each fires only when someone should act.
PIPELINE_ALERTS: tuple[Alert, ...] = (
    Alert("SalespulseNoEventsProcessed", "stalled_seconds", "pipeline", "", ">", 15 * 60,
          "events wait in the topics but no worker has processed one for {value}; the "
          "bound is {threshold}", "004 (monitoring alerts)", for_="1m", inhibits_kpis=True),
    Alert("SalespulseConsumerLagHigh", "consumer_lag", "pipeline", "", ">", 10_000,
          "partition {partition} of topic {topic} is {value} messages behind; the bound is "
          "{threshold}", "operations", for_="10m", inhibits_kpis=True),
    Alert("SalespulseDeadLetters", "dead_letters", "pipeline", "15m", ">", 10,
          "{value} dead letters from topic {topic} (reason {reason}) over the last {window}; "
          "the bound is {threshold}", "operations", for_="10m"),
    Alert("SalespulseDeadLettersHigh", "dead_letter_share", "pipeline", "15m", ">", 0.05,
          "{value} of all messages went to the dead-letter topic over the last {window}; "
          "the bound is {threshold}", "operations", for_="5m", severity="critical"),
    Alert("SalespulseWorkerDown", "worker_up", "pipeline", "", "<", 1,
          "worker {instance} cannot be scraped: its KPIs are missing from every team total",
          "operations", for_="2m", severity="critical", inhibits_kpis=True),
)
