"""docs/runbook.md: one section per alert, at the anchor its runbook_url points to."""

from __future__ import annotations

from streams.catalog import ALERTS, KPI_BY_NAME, PIPELINE_ALERTS, Alert
from streams.render import GENERATED, alerts
from streams.render.alertmanager import TEAMS_FILE

OUTPUT = "docs/runbook.md"

# What the person paged should do first. Every alert of the catalog needs an entry.
ADVICE: dict[str, str] = {
    "SalesAppointmentToNextStepLow": (
        "First meetings end without a demo, site visit, survey or proposal booked. Sit in on "
        "the rep's next first appointments, check the rep proposes a concrete next step "
        "before the meeting ends, and review whether the leads booked are qualified."),
    "SalesCloseRatioLow": (
        "The rep loses more of the deals that close than the target allows. Review the "
        "lost deals of the last 30 days (stage, reason, price) with the rep and check "
        "whether deals reach proposal too early."),
    "SalesActivityBelowMagicNumber": (
        "The team books fewer first appointments than the weekly revenue target needs at "
        "its current revenue per sale, next-step rate and close ratio (the magic number, "
        "seed 002). Raise prospecting activity, or revisit the team's "
        "weekly_revenue_target in the goals file (docs/goals.md) if it no longer holds."),
    "SalesRevenuePerSaleBelowPeers": (
        "The rep's deals are much smaller than the team's. Look for discounting, a narrow "
        "product mix or small accounts, and pair the rep with a peer on upselling."),
    "SalesCycleAbovePeers": (
        "The rep's deals take much longer to win than the team's. Look for stalled deals "
        "without a next step and for missing decision makers, and review the pipeline "
        "together."),
    "SalesPositiveReplyRateLow": (
        "Few of the prospects the rep touches answer positively compared with the team. "
        "Review the rep's messaging and targeting against the team's best sequences."),
    "SalesMeetingAcceptanceLow": (
        "Replies rarely turn into booked meetings. Review how the rep answers replies: "
        "speed, a clear call to action, and offering concrete times."),
    "SalesQuotaAttainmentLow": (
        "The rep has won less of the last 30 days' prorated weekly quota than the floor. "
        "Review the rep's open pipeline and the deals expected to close, and check the "
        "quota in the goals file (docs/goals.md) still fits the rep's territory."),
    "SalesShowRateLow": (
        "Booked meetings are often missed. Check confirmations and reminders, the lead time "
        "between booking and meeting, and whether the meetings were really agreed."),
    "SalespulseNoEventsProcessed": (
        "Events wait in the topics but no worker has processed one for 15 minutes: Kafka "
        "is unreachable from the workers, or they are stuck. Check the Kafka broker and the "
        "worker logs (`docker compose logs worker`). A quiet night with nothing published "
        "never fires this. KPI alerts are held back meanwhile: the KPIs are frozen."),
    "SalespulseConsumerLagHigh": (
        "A partition is far behind: the workers cannot keep up or one is stuck. Check "
        "worker CPU and logs on the Pipeline health board, and add workers to the consumer "
        "group (more partitions if every partition already has one). KPI alerts are held "
        "back: the numbers are stale."),
    "SalespulseDeadLetters": (
        "A steady stream of messages was rejected and sent to the dead-letter topic; the "
        "reason label says "
        "why (docs/events.md lists the reasons). Read a few from the dead-letter topic "
        "(headers: reason, error, source_topic, source_offset) and fix the producer that "
        "sent them. KPIs stay correct for the valid events."),
    "SalespulseDeadLettersHigh": (
        "More than one message in twenty is rejected: a producer sends a format the "
        "contract refuses (docs/events.md), and the KPIs miss those events. Find the topic "
        "and reason on the Pipeline health board, read a few dead letters, and stop or fix "
        "that producer."),
    "SalespulseWorkerDown": (
        "Prometheus cannot scrape a worker: it crashed, is restarting or is unreachable. "
        "Until it is back (or its partitions move to another worker) the reps it holds are "
        "missing from the team sums. Check `docker compose ps` and the worker's logs. KPI "
        "alerts are held back meanwhile."),
}


def _section(alert: Alert) -> str:
    who = ("the ops receiver" if alert.scope == "pipeline"
           else f"the manager receiver of the team in `team_id` ({TEAMS_FILE})")
    labels = ", ".join(f"`{name}`" for name in ("alertname", *alerts.alert_labels(alert)))
    kpi = KPI_BY_NAME.get(alert.kpi)
    meaning = f"{kpi.help} " if kpi else ""
    if alert.name not in ADVICE:
        raise KeyError(f"docs/runbook.md: write the advice for {alert.name} in {__name__}")
    return "\n".join([
        f"## {alert.name}", "",
        f"{meaning}{alerts.description(alert)}", "",
        f"- Severity: `{alert.severity}`; pages {who}.",
        f"- Labels: {labels}.",
        f"- Summary: {alerts.summary_template(alert)}", "",
        "What to do: " + ADVICE[alert.name], "",
        "```promql", alerts.expr(alert), "```", "",
    ])


def render_runbook() -> dict[str, str]:
    head = [
        f"<!-- {GENERATED} -->", "# Runbook", "",
        "One section per alert; each alert's `runbook_url` annotation links here. "
        "Thresholds, minimum samples, `for` durations and severities live in "
        "`streams/catalog/` (`ALERTS`, `PIPELINE_ALERTS`); routing in "
        f"`{TEAMS_FILE}` (see docs/alerting.md).", "",
        "## Sales KPI alerts", "",
        *[f"- [{a.name}](#{a.name.lower()})" for a in ALERTS], "",
        "## Pipeline alerts", "",
        *[f"- [{a.name}](#{a.name.lower()})" for a in PIPELINE_ALERTS], "",
    ]
    body = [_section(a) for a in ALERTS + PIPELINE_ALERTS]
    return {OUTPUT: "\n".join(head) + "\n" + "\n".join(body)}


def _slug(text: str) -> str:
    """The anchor GitHub gives a heading: lower case, spaces to dashes, no punctuation."""
    kept = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def runbook_html() -> str:
    """The runbook as one HTML page (the worker's /runbook), with GitHub's anchors, so a
    page's runbook link opens at its alert."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    tokens = md.parse(render_runbook()[OUTPUT])
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", _slug(tokens[i + 1].content))
    body = md.renderer.render(tokens, md.options, {})
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Salespulse runbook"
            "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
            "pre{background:#f4f4f4;padding:1em;overflow-x:auto}</style></head><body>"
            f"{body}</body></html>")
