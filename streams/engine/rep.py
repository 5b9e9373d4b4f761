"""One rep's KPI state: bucketed measure vectors, prospect cohorts, deals, dedupe memory.

Every measure is a counter in a bucket. Distinct-prospect measures are counters
too: a prospect is counted once, in the bucket of its *key* time (its latest
touch, or the earlier of its latest touch and latest reply for the cohorts), and
moves bucket when a newer event moves the key. A window is then a plain sum of
the buckets it covers, and reading it as of any T needs no event replay.
"""

from __future__ import annotations

from operator import add, sub
from typing import Any

from streams.catalog import MEASURE_INDEX as I
from streams.catalog import MEASURES, Window
from streams.engine.windows import HOUR_US, MINUTE_US, start_bucket
from streams.events import Event

N = len(MEASURES)
NEXT_STEP_KINDS = frozenset({"demo", "site_visit", "survey", "proposal"})
# Prospect record slots: latest touch, latest reply, latest positive, latest negative.
TOUCH, REPLY, POSITIVE, NEGATIVE = range(4)
COHORTS = (  # (measure index, record slot paired with the latest touch)
    (I["prospects_touched"], None),
    (I["prospects_replied"], REPLY),
    (I["prospects_replied_positive"], POSITIVE),
    (I["prospects_replied_negative"], NEGATIVE),
)
SENTIMENT_SLOTS = {"positive": (REPLY, POSITIVE), "negative": (REPLY, NEGATIVE),
                   "neutral": (REPLY,)}
SENTIMENT_MEASURES = {s: I["replies_" + s] for s in ("positive", "negative", "neutral")}
# Deal record slots: earliest opened, touches, won times, lost times, latest event.
OPENED, TOUCHES, WON, LOST, LAST = range(5)

Key = tuple[Any, ...]  # a unit of persisted state, see unit_value()


def _cohort_keys(rec: list[int | None]) -> list[int | None]:
    touch = rec[TOUCH]
    keys: list[int | None] = []
    for _, slot in COHORTS:
        other = touch if slot is None else rec[slot]
        keys.append(None if touch is None or other is None else min(touch, other))
    return keys


class RepState:
    """State of one rep; `dirty` collects changed units when persistence is on."""

    __slots__ = ("rep_id", "team_id", "team_ts", "max_ts", "minutes", "hours", "prospects",
                 "deals", "seen", "seen_hours", "pending", "caches", "dirty", "pruned_hour")

    def __init__(self, rep_id: str, track_dirty: bool = False) -> None:
        self.rep_id = rep_id
        self.team_id = ""
        self.team_ts = -(2**62)
        self.max_ts = -(2**62)
        self.minutes: dict[int, list[Any]] = {}
        self.hours: dict[int, list[Any]] = {}
        self.prospects: dict[str, list[int | None]] = {}
        self.deals: dict[str, list[Any]] = {}
        self.seen: dict[str, int] = {}
        self.seen_hours: dict[int, list[str]] = {}
        self.pending: list[Event] = []
        # window name -> [is_minute_tier, start bucket, running totals]
        self.caches: dict[str, list[Any]] = {}
        self.dirty: set[Key] | None = set() if track_dirty else None
        self.pruned_hour = -(2**62)

    # -- counters ---------------------------------------------------------------

    def _add(self, ts: int, deltas: list[tuple[int, Any]]) -> None:
        minute, hour = ts // MINUTE_US, ts // HOUR_US
        for tier, idx in ((self.minutes, minute), (self.hours, hour)):
            vec = tier.get(idx)
            if vec is None:
                vec = tier[idx] = [0] * N
            for i, amount in deltas:
                vec[i] += amount
        for is_minute, start, totals in self.caches.values():
            if (minute if is_minute else hour) >= start:
                for i, amount in deltas:
                    totals[i] += amount
        if self.dirty is not None:
            self.dirty.update((("m", minute), ("h", hour)))

    def totals(self, window: Window, as_of: int) -> list[Any]:
        """Measure vector of `window` as of T (all applied events are before T)."""
        is_minute = window.step == 60
        buckets = self.minutes if is_minute else self.hours
        start = start_bucket(window, as_of)
        cache = self.caches.get(window.name)
        if cache is None or start < cache[1]:
            totals = [0] * N
            for idx, vec in buckets.items():
                if idx >= start:
                    totals[:] = map(add, totals, vec)
            cache = self.caches[window.name] = [is_minute, start, totals]
        elif start > cache[1]:
            old, totals = cache[1], cache[2]
            leaving = (range(old, start) if start - old <= len(buckets)
                       else [i for i in buckets if old <= i < start])
            for idx in leaving:
                vec = buckets.get(idx)
                if vec is not None:
                    totals[:] = map(sub, totals, vec)
            cache[1] = start
        return cache[2]  # type: ignore[no-any-return]

    # -- events -----------------------------------------------------------------

    def apply(self, e: Event) -> None:
        if e.ts >= self.team_ts:  # on a tie the later arrival wins
            self.team_id, self.team_ts = e.team_id, e.ts
        self.max_ts = max(self.max_ts, e.ts)
        if self.dirty is not None:
            self.dirty.add(("meta",))
        _APPLY[e.type](self, e)

    def _touch(self, e: Event) -> None:
        deltas = [(I["touches"], 1)]
        if e.channel == "call":
            deltas.append((I["calls"], 1))
            if e.outcome == "connected":
                deltas.append((I["calls_connected"], 1))
            if e.value_message:
                deltas.append((I["value_message_calls"], 1))
        self._add(e.ts, deltas)
        self._prospect(e.prospect_id, e.ts, (TOUCH,))  # type: ignore[arg-type]
        if e.deal_id is not None:
            self._deal_touch(e.deal_id, e.ts)

    def _reply(self, e: Event) -> None:
        self._add(e.ts, [(I["replies"], 1), (SENTIMENT_MEASURES[e.sentiment], 1)])  # type: ignore[index]
        self._prospect(e.prospect_id, e.ts, SENTIMENT_SLOTS[e.sentiment])  # type: ignore[arg-type,index]

    def _meeting(self, e: Event) -> None:
        deltas: list[tuple[int, Any]] = []
        if e.status == "booked":
            deltas.append((I["meetings_booked"], 1))
            if e.kind in NEXT_STEP_KINDS:
                deltas.append((I["next_steps_booked"], 1))
            elif e.kind == "first_appointment":
                deltas.append((I["first_appointments_booked"], 1))
        elif e.status == "held":
            deltas.append((I["meetings_held"], 1))
            if e.kind == "first_appointment":
                deltas.append((I["first_appointments_held"], 1))
        elif e.status == "no_show":
            deltas.append((I["meetings_no_show"], 1))
        if deltas:
            self._add(e.ts, deltas)

    def _nps(self, e: Event) -> None:
        deltas = [(I["nps_responses"], 1)]
        if e.score >= 9:
            deltas.append((I["nps_promoters"], 1))
        elif e.score <= 6:
            deltas.append((I["nps_detractors"], 1))
        self._add(e.ts, deltas)

    def _prospect(self, prospect_id: str, ts: int, slots: tuple[int, ...]) -> None:
        rec = self.prospects.get(prospect_id)
        if rec is None:
            rec = self.prospects[prospect_id] = [None, None, None, None]
        old = _cohort_keys(rec)
        for slot in slots:
            current = rec[slot]
            if current is None or ts > current:
                rec[slot] = ts
        for (measure, _), before, after in zip(COHORTS, old, _cohort_keys(rec), strict=True):
            if before != after:
                if before is not None:
                    self._add(before, [(measure, -1)])
                if after is not None:
                    self._add(after, [(measure, 1)])
        if self.dirty is not None:
            self.dirty.add(("x", prospect_id))

    # -- deals ------------------------------------------------------------------

    def _deal_record(self, deal_id: str, ts: int) -> list[Any]:
        rec = self.deals.get(deal_id)
        if rec is None:
            rec = self.deals[deal_id] = [None, 0, [], [], ts]
        rec[LAST] = max(rec[LAST], ts)
        if self.dirty is not None:
            self.dirty.add(("d", deal_id))
        return rec

    def _deal_touch(self, deal_id: str, ts: int) -> None:
        rec = self._deal_record(deal_id, ts)
        rec[TOUCHES] += 1
        for won in rec[WON]:
            self._add(won, [(I["touches_on_won_deals"], 1)])
        for lost in rec[LOST]:
            self._add(lost, [(I["touches_on_lost_deals"], 1)])

    def _deal(self, e: Event) -> None:
        if e.stage == "proposal":
            return
        rec = self._deal_record(e.deal_id, e.ts)  # type: ignore[arg-type]
        opened = rec[OPENED]
        if e.stage == "won":
            rec[WON].append(e.ts)
            deltas = [(I["deals_won"], 1), (I["revenue_won"], e.amount),
                      (I["touches_on_won_deals"], rec[TOUCHES])]
            if opened is not None:
                deltas += [(I["cycle_days_won_sum"], e.ts - opened),
                           (I["deals_won_with_cycle"], 1)]
            self._add(e.ts, deltas)
        elif e.stage == "lost":
            rec[LOST].append(e.ts)
            self._add(e.ts, [(I["deals_lost"], 1), (I["touches_on_lost_deals"], rec[TOUCHES])])
        elif opened is None or e.ts < opened:  # the earliest opened event sets the cycle
            rec[OPENED] = e.ts
            for won in rec[WON]:
                if opened is None:
                    self._add(won, [(I["cycle_days_won_sum"], won - e.ts),
                                    (I["deals_won_with_cycle"], 1)])
                else:
                    self._add(won, [(I["cycle_days_won_sum"], opened - e.ts)])

    # -- dedupe and expiry ------------------------------------------------------

    def seen_since(self, event_id: str, floor: int) -> bool:
        """True when `event_id` was applied at an event time at or after `floor`."""
        ts = self.seen.get(event_id)
        return ts is not None and ts >= floor

    def remember(self, event_id: str, ts: int) -> None:
        self.seen[event_id] = ts
        hour = ts // HOUR_US
        self.seen_hours.setdefault(hour, []).append(event_id)
        if self.dirty is not None:
            self.dirty.add(("e", hour))

    def prune(self, keep_minutes_from: int, keep_from: int, dedupe_from: int) -> None:
        """Forget what no window, horizon or lateness allowance can still need."""
        dropped: list[Key] = []
        for name, tier, floor in (("m", self.minutes, keep_minutes_from // MINUTE_US),
                                  ("h", self.hours, keep_from // HOUR_US)):
            for idx in [i for i in tier if i < floor]:
                del tier[idx]
                dropped.append((name, idx))
        for name, records, last in (("x", self.prospects, lambda r: max(t for t in r if t is not None)),
                                    ("d", self.deals, lambda r: r[LAST])):
            for key in [k for k, r in records.items() if last(r) < keep_from]:
                del records[key]
                dropped.append((name, key))
        for hour in [h for h in self.seen_hours if (h + 1) * HOUR_US <= dedupe_from]:
            for event_id in self.seen_hours.pop(hour):
                if self.seen.get(event_id, 0) // HOUR_US == hour:
                    del self.seen[event_id]
            dropped.append(("e", hour))
        if dropped:
            self.caches.clear()  # cheap to rebuild, and never reads a dropped bucket
            if self.dirty is not None:
                self.dirty.update(dropped)


_APPLY = {"touch": RepState._touch, "reply": RepState._reply, "meeting": RepState._meeting,
          "deal": RepState._deal, "nps": RepState._nps}
