"""Distinct-prospect measures of one rep: prospects touched, and the cohorts of those
that replied (any, positive, negative).

A prospect is counted once, in the bucket of its key time: its latest touch for
`prospects_touched`, the earlier of its latest touch and latest reply for a cohort (it
is in a window when both are). A newer event moves the key, so the count moves bucket:
every window stays a plain sum of buckets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams.catalog import MEASURE_INDEX as I
from streams.engine.expiry import to_back

if TYPE_CHECKING:
    from streams.engine.rep import Deltas, RepState

# Prospect record slots: latest touch, latest reply, latest positive, latest negative.
TOUCH, REPLY, POSITIVE, NEGATIVE = range(4)
# Cohorts pair the latest touch with a reply slot: (slot, +1 delta, -1 delta).
COHORTS = tuple((slot, (I[name], 1), (I[name], -1)) for slot, name in (
    (REPLY, "prospects_replied"), (POSITIVE, "prospects_replied_positive"),
    (NEGATIVE, "prospects_replied_negative")))
TOUCHED_UP, TOUCHED_DOWN = (I["prospects_touched"], 1), (I["prospects_touched"], -1)
SENTIMENT_SLOTS = {"positive": (REPLY, POSITIVE), "negative": (REPLY, NEGATIVE),
                   "neutral": (REPLY,)}


def _move(rep: RepState, before: int | None, after: int, up: tuple[int, int],
          down: tuple[int, int], ts: int, deltas: Deltas) -> None:
    """Move one prospect's count from key `before` to key `after`."""
    if before == after:
        return
    if before is not None:
        rep.add(before, [down])
    if after == ts:
        deltas.append(up)  # lands with the event's own deltas
    else:
        rep.add(after, [up])


def touch(rep: RepState, prospect_id: str, ts: int, deltas: Deltas) -> None:
    prospects = rep.prospects
    rec = prospects.get(prospect_id)
    if rec is None:
        prospects[prospect_id] = ts  # never replied: its latest touch alone
        deltas.append(TOUCHED_UP)
    elif type(rec) is int:
        if ts <= rec:
            return
        del prospects[prospect_id]  # to the back (update order)
        prospects[prospect_id] = ts
        _move(rep, rec, ts, TOUCHED_UP, TOUCHED_DOWN, ts, deltas)
    else:
        old = rec[TOUCH]
        if old is not None and ts <= old:
            return
        rec[TOUCH] = ts
        to_back(prospects, prospect_id)
        _move(rep, old, ts, TOUCHED_UP, TOUCHED_DOWN, ts, deltas)
        for slot, up, down in COHORTS:
            reply_ts = rec[slot]
            if reply_ts is not None:
                before = None if old is None else min(old, reply_ts)
                _move(rep, before, min(ts, reply_ts), up, down, ts, deltas)
    if rep.dirty is not None:
        rep.dirty.add(("x", prospect_id))


def reply(rep: RepState, prospect_id: str, ts: int, slots: tuple[int, ...],
          deltas: Deltas) -> None:
    rec: Any = rep.prospects.pop(prospect_id, None)  # back in at the end (update order)
    if rec is None:
        rec = [None, None, None, None]
    elif type(rec) is int:
        rec = [rec, None, None, None]
    rep.prospects[prospect_id] = rec
    touched = rec[TOUCH]
    for slot in slots:
        old = rec[slot]
        if old is not None and ts <= old:
            continue
        rec[slot] = ts
        if touched is not None:
            _, up, down = COHORTS[slot - 1]
            before = None if old is None else min(touched, old)
            _move(rep, before, min(touched, ts), up, down, ts, deltas)
    if rep.dirty is not None:
        rep.dirty.add(("x", prospect_id))


def prospect_time(prospect: int | list[int | None]) -> int:
    """The latest time of a prospect record."""
    if type(prospect) is int:
        return prospect
    return max(t for t in prospect if t is not None)  # type: ignore[union-attr]
