"""Deal measures of one rep: cycles, quote turnaround and touches on won and lost deals.

A deal's record belongs to the rep's deal stream: [earliest opened, earliest proposal,
won times, lost times, latest deal event]. It is forgotten once the stream's newest
applied event is `retention` past the record's latest deal event (checked when the deal
is next seen, and swept daily); a later event starts the deal afresh. That rule reads
the deal stream alone, so it never depends on how the topics interleave.

Touches carrying a deal_id belong to the touch stream: each deal keeps the sorted times
of its touches, and a touch counts for a won or lost event at most `retention` before
it. Both sides only ever look at the other through that time relation, so the result
is the same whichever of a touch and a won arrives first; touch times too old to meet
any won still to come are dropped (see `prune`).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from typing import TYPE_CHECKING, Any

from streams.catalog import MEASURE_INDEX as I
from streams.catalog import MICRO
from streams.engine.expiry import prefix_where, to_back

if TYPE_CHECKING:
    from streams.engine.rep import RepState
    from streams.events import Event

OPENED, PROPOSAL, WON, LOST, LAST = range(5)
DEALS_OPENED, PROPOSALS_SENT = (I["deals_opened"], 1), (I["proposals_sent"], 1)
DEALS_WON, DEALS_LOST = (I["deals_won"], 1), (I["deals_lost"], 1)
CYCLE, WITH_CYCLE = I["won_cycle_seconds"], I["deals_won_with_cycle"]
TURNAROUND, WITH_OPEN = I["quote_turnaround_seconds"], I["quotes_with_open"]
ON_WON, ON_LOST = I["touches_on_won_deals"], I["touches_on_lost_deals"]


def newest_deal(rep: RepState) -> int | None:
    """The newest applied deal event of the rep: the clock deal records expire by."""
    seen = rep.seen.get("deal")
    return None if seen is None else seen.newest


def touches_since(times: Any, since: int) -> int:
    """How many of a deal's sorted touch times are at or after `since`."""
    return 0 if times is None else len(times) - bisect_left(times, since)


def apply_deal(rep: RepState, e: Event, retention: int) -> None:
    deal_id: str = e.deal_id  # type: ignore[assignment]
    rec = rep.deals.get(deal_id)
    newest = newest_deal(rep)
    if rec is not None and newest is not None and rec[LAST] < newest - retention:
        rec = None  # forgotten: the deal starts afresh
    if rec is None:
        rec = [None, None, [], [], e.ts]
    elif e.ts > rec[LAST]:
        rec[LAST] = e.ts
    rep.deals[deal_id] = rec
    to_back(rep.deals, deal_id)  # dicts in update order expire from the front
    rep.mark(("d", deal_id))
    _STAGES[e.stage](rep, rec, e, retention)  # type: ignore[index]


def _opened(rep: RepState, rec: list[Any], e: Event, retention: int) -> None:
    rep.add(e.ts, [DEALS_OPENED])
    old = rec[OPENED]
    if old is not None and e.ts >= old:
        return
    rec[OPENED] = e.ts  # the earliest opened event sets the cycle and the turnaround
    for won in rec[WON]:
        rep.add(won, [(CYCLE, won - e.ts), (WITH_CYCLE, 1)] if old is None
                else [(CYCLE, old - e.ts)])
    first = rec[PROPOSAL]
    if first is not None:
        rep.add(first, [(TURNAROUND, first - e.ts), (WITH_OPEN, 1)] if old is None
                else [(TURNAROUND, old - e.ts)])


def _proposal(rep: RepState, rec: list[Any], e: Event, retention: int) -> None:
    deltas = [PROPOSALS_SENT]
    old, opened = rec[PROPOSAL], rec[OPENED]
    if old is None or e.ts < old:
        rec[PROPOSAL] = e.ts  # the first proposal moves to this one
        if opened is not None:
            if old is not None:
                rep.add(old, [(TURNAROUND, opened - old), (WITH_OPEN, -1)])
            deltas += [(TURNAROUND, e.ts - opened), (WITH_OPEN, 1)]
    rep.add(e.ts, deltas)


def _won(rep: RepState, rec: list[Any], e: Event, retention: int) -> None:
    rec[WON].append(e.ts)
    touches = touches_since(rep.deal_touches.get(e.deal_id), e.ts - retention)  # type: ignore[arg-type]
    amount: float = e.amount  # type: ignore[assignment]  # a won event has one
    deltas = [DEALS_WON, (I["revenue_won"], round(amount * MICRO)), (ON_WON, touches)]
    if rec[OPENED] is not None:
        deltas += [(CYCLE, e.ts - rec[OPENED]), (WITH_CYCLE, 1)]
    rep.add(e.ts, deltas)


def _lost(rep: RepState, rec: list[Any], e: Event, retention: int) -> None:
    rec[LOST].append(e.ts)
    touches = touches_since(rep.deal_touches.get(e.deal_id), e.ts - retention)  # type: ignore[arg-type]
    rep.add(e.ts, [DEALS_LOST, (ON_LOST, touches)])


_STAGES = {"opened": _opened, "proposal": _proposal, "won": _won, "lost": _lost}


def deal_touch(rep: RepState, deal_id: str, ts: int, retention: int) -> None:
    """A touch on a deal: remembered, and counted for its won and lost events after it."""
    times = rep.deal_touches.get(deal_id)
    if times is None:
        times = rep.deal_touches[deal_id] = array("q")
    insort(times, ts)
    to_back(rep.deal_touches, deal_id)
    rep.mark(("t", deal_id))
    rec = rep.deals.get(deal_id)
    if rec is None:
        return
    for won in rec[WON]:
        if ts >= won - retention:
            rep.add(won, [(ON_WON, 1)])
    for lost in rec[LOST]:
        if ts >= lost - retention:
            rep.add(lost, [(ON_LOST, 1)])


def prune(rep: RepState, visible_from: int, lateness: int, retention: int) -> list[Any]:
    """Forget expired deals, and touch lists too old to meet a won or lost event that can
    still be applied or read: such an event is at or after the deal stream's newest minus
    the lateness, and a visible one at or after `visible_from`. Returns the units gone."""
    gone: list[Any] = []
    newest = newest_deal(rep)
    if newest is not None:
        for deal_id in prefix_where(rep.deals, lambda rec: rec[LAST] < newest - retention):
            del rep.deals[deal_id]
            gone.append(("d", deal_id))
    floor = max(visible_from, -(2**62) if newest is None else newest - lateness) - retention
    for deal_id in prefix_where(rep.deal_touches, lambda times: times[-1] < floor):
        del rep.deal_touches[deal_id]
        gone.append(("t", deal_id))
    return gone
