"""Reading state written by an older release: each changelog format into the current one.

Format 1 (release 0.1) had no `v` header. What changed in format 2:
- hour vectors and minute deltas: measures are matched by name (format 1's order below);
  `cycle_days_won_sum` held microseconds too, and is now `won_cycle_seconds`. Measures
  format 1 did not have (deals_opened, proposals_sent, quote turnaround) count from the
  upgrade on: their history was never recorded.
- meta: per-stream watermarks were one global watermark; each stream's starts at its
  newest applied event (its dedupe memory knows it).
- pending events: lists of fields became objects (keyword construction).
- deals: the touch count of a deal becomes that many touch times at the deal's latest
  activity (format 1 kept no times; it forgot a deal 30 days after its last activity,
  well within the 180 days a touch counts for); the first proposal was not recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from streams.catalog import MEASURE_INDEX, MEASURES

if TYPE_CHECKING:
    from streams.engine.rep import Key, RepState

FORMAT_1_MEASURES = (
    "touches", "calls", "calls_connected", "value_message_calls", "prospects_touched",
    "replies", "replies_positive", "replies_negative", "replies_neutral", "prospects_replied",
    "prospects_replied_positive", "prospects_replied_negative", "meetings_booked",
    "next_steps_booked", "first_appointments_held", "meetings_held", "meetings_no_show",
    "deals_won", "deals_lost", "revenue_won", "cycle_days_won_sum", "deals_won_with_cycle",
    "touches_on_won_deals", "touches_on_lost_deals", "nps_responses", "nps_promoters",
    "nps_detractors", "first_appointments_booked",
)
RENAMED = {"cycle_days_won_sum": "won_cycle_seconds"}
# Pending events were written as lists of the Event's fields, in this order.
FORMAT_1_EVENT = ("event_id", "type", "ts", "rep_id", "team_id", "prospect_id", "channel",
                  "outcome", "value_message", "deal_id", "sentiment", "meeting_id", "status",
                  "kind", "stage", "amount", "score")
FORMAT_1_INDEX = tuple(MEASURE_INDEX[RENAMED.get(name, name)] for name in FORMAT_1_MEASURES)


def unit(key: Key, value: Any, version: int) -> Iterator[tuple[Key, Any]]:
    """The current-format units that one unit of an older format becomes."""
    assert version == 1, f"no upgrade from format {version}"
    tag = key[0]
    if tag == "h":
        vector, minutes = value
        yield key, [_vector(vector), [[m, _deltas(d)] for m, d in minutes]]
    elif tag == "meta":
        yield key, [*value, {}]  # watermarks: see settle()
    elif tag == "d":
        opened, touches, won, lost, last = value
        if opened is not None or won or lost:
            yield key, [opened, None, won, lost, last]
        if touches:
            yield ("t", key[1]), [last] * touches
    elif tag == "pending":
        yield key, [dict(zip(FORMAT_1_EVENT, fields, strict=True)) for fields in value]
    else:  # prospects and dedupe chunks kept their format
        yield key, value


def settle(rep: RepState) -> None:
    """After all of an upgraded rep's units are read: each stream's watermark."""
    for kind, seen in rep.seen.items():
        rep.marks.setdefault(kind, seen.newest)
    rep.mark(("meta",))


def _vector(old: list[Any]) -> list[Any]:
    vector = [0] * len(MEASURES)
    for i, amount in zip(FORMAT_1_INDEX, old, strict=True):
        vector[i] = amount
    return vector


def _deltas(old: list[Any]) -> list[Any]:
    return [[FORMAT_1_INDEX[i], amount] for i, amount in old]
