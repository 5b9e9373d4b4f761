"""Windows and measures: what every rep's state counts, and over which spans."""

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


