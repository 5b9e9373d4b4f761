"""One rep's KPI state: bucketed measure vectors, prospect cohorts, deals, dedupe memory.

Every measure is a counter in a bucket. Distinct-prospect measures are counters
too: a prospect is counted once, in the bucket of its *key* time (its latest
touch, or the earlier of its latest touch and latest reply for the cohorts), and
moves bucket when a newer event moves the key. A window is then a plain sum of
the buckets it covers, and reading it as of any T needs no event replay.

Each change is written twice: to its hour's dense vector, which the 24h/7d/30d
windows read, and to its minute's short list of (measure, amount) deltas, which
only the 1h window reads. Minutes are simply dropped once no 1h read can reach
them, so nothing is ever folded or copied.
"""

from __future__ import annotations

from operator import add, sub
from typing import Any

from streams.catalog import MEASURE_INDEX as I
from streams.catalog import MEASURES, WINDOWS, Window
from streams.engine import cohorts
from streams.engine import deals as deal_measures
from streams.engine.dedupe import MAX_HOURS, Seen
from streams.engine.expiry import prefix_below, prefix_where
from streams.engine.windows import HOUR_US, MINUTE_US, start_bucket
from streams.events import Event

N = len(MEASURES)
MINUTE_WINDOW = next(w.name for w in WINDOWS if w.step == 60)  # the one read from minutes
NEXT_STEP_KINDS = frozenset({"demo", "site_visit", "survey", "proposal"})
SENTIMENT_DELTAS = {s: (I["replies_" + s], 1) for s in ("positive", "negative", "neutral")}
TOUCHES_1, CALLS_1, CONNECTED_1, VALUE_MESSAGE_1, REPLIES_1 = (
    (I[name], 1) for name in ("touches", "calls", "calls_connected", "value_message_calls",
                              "replies"))

Key = tuple[Any, ...]  # a unit of persisted state: ("h", hour), ("x", prospect), ...
Deltas = list[tuple[int, Any]]


class RepState:
    """State of one rep; `dirty` collects changed units when persistence is on."""

    __slots__ = ("rep_id", "team_id", "team_ts", "max_ts", "marks", "minutes", "hours",
                 "prospects", "deals", "deal_touches", "seen", "pending", "caches", "dirty",
                 "swept_day")

    def __init__(self, rep_id: str, track_dirty: bool = False) -> None:
        self.rep_id = rep_id
        self.team_id = ""
        self.team_ts = -(2**62)
        self.max_ts = -(2**62)
        self.marks: dict[str, int] = {}  # event type -> its stream's watermark
        self.minutes: dict[int, list[Any]] = {}
        self.hours: dict[int, list[Any]] = {}
        # prospect -> latest touch time, or once replied [touch, reply, positive, negative]
        self.prospects: dict[str, Any] = {}
        self.deals: dict[str, list[Any]] = {}  # see engine/deals.py
        self.deal_touches: dict[str, Any] = {}  # deal -> sorted touch times (an array)
        self.seen: dict[str, Seen] = {}  # event type -> its dedupe memory
        self.pending: list[Event] = []
        # window name -> [is_minute_window, start bucket, running totals]
        self.caches: dict[str, list[Any]] = {}
        self.dirty: set[Key] | None = set() if track_dirty else None
        self.swept_day = -(2**62)

    # -- counters ---------------------------------------------------------------

    def add(self, ts: int, deltas: Deltas) -> None:
        """Add `deltas` at event time `ts`: to its hour, its minute and the live window totals."""
        minute = ts // MINUTE_US
        hour = minute // 60
        vec = self.hours.get(hour)
        if vec is None:
            vec = self.hours[hour] = [0] * N
        for i, amount in deltas:
            vec[i] += amount
        recent = self.minutes.get(minute)
        if recent is None:
            self.minutes[minute] = list(deltas)
        else:
            recent += deltas
        if self.caches:  # running window totals exist once the rep has been read
            for is_minute, start, totals in self.caches.values():
                if (minute if is_minute else hour) >= start:
                    for i, amount in deltas:
                        totals[i] += amount
        if self.dirty is not None:
            self.dirty.add(("h", hour))  # its value carries the hour's minutes

    def totals(self, window: Window, as_of: int) -> list[Any]:
        """Measure vector of `window` as of T (all applied events are before T)."""
        return self.totals_from(window.name, window.step == 60, start_bucket(window, as_of))

    def totals_from(self, window: str, is_minute: bool, start: int) -> list[Any]:
        """Measure vector of a window from its first bucket (a scrape works it out once)."""
        cache = self.caches.get(window)
        if cache is None or start < cache[1]:
            totals = [0] * N
            self._accumulate(totals, is_minute, start, 2**62, 1)
            cache = self.caches[window] = [is_minute, start, totals]
        elif start > cache[1]:
            self._accumulate(cache[2], is_minute, cache[1], start, -1)
            cache[1] = start
        return cache[2]  # type: ignore[no-any-return]

    def _accumulate(self, totals: list[Any], is_minute: bool, lo: int, hi: int,
                    sign: int) -> None:
        """Add (sign 1) or subtract (-1) the buckets in [lo, hi) of the window's step."""
        tier: dict[int, Any] = self.minutes if is_minute else self.hours
        keys = range(lo, hi) if hi - lo < len(tier) else [k for k in tier if lo <= k < hi]
        buckets = [bucket for key in keys if (bucket := tier.get(key)) is not None]
        if is_minute:
            for bucket in buckets:
                for i, amount in bucket:
                    totals[i] += sign * amount
        elif buckets:  # column sums in C: a 30d read adds up to 720 hour vectors
            sums = map(sum, zip(*buckets, strict=True))
            totals[:] = map(add if sign > 0 else sub, totals, sums)

    # -- events -----------------------------------------------------------------

    def late(self, e: Event, lateness_us: int) -> bool:
        """Move the event's stream watermark; True when the event is older than the
        watermark minus the lateness (events.md: lateness is judged per stream)."""
        mark = self.marks.get(e.type)
        if mark is None or e.ts > mark:
            self.marks[e.type] = e.ts
            self.mark(("meta",))
            return False
        return e.ts < mark - lateness_us

    def apply(self, e: Event, deal_retention_us: int) -> None:
        # The team of the latest event; on a tie of occurred_at the greatest team_id, so
        # the result never depends on arrival order.
        if e.ts > self.team_ts or e.ts == self.team_ts and e.team_id > self.team_id:
            self.team_id, self.team_ts = e.team_id, e.ts
        if e.ts > self.max_ts:
            self.max_ts = e.ts
        self.mark(("meta",))
        if e.type == "deal":
            deal_measures.apply_deal(self, e, deal_retention_us)
        elif e.type == "touch":
            self._touch(e)
            if e.deal_id is not None:
                deal_measures.deal_touch(self, e.deal_id, e.ts, deal_retention_us)
        else:
            _APPLY[e.type](self, e)

    def mark(self, unit: Key) -> None:
        """Note a changed unit of state for the next changelog flush."""
        if self.dirty is not None:
            self.dirty.add(unit)

    def _touch(self, e: Event) -> None:
        deltas = [TOUCHES_1]
        if e.channel == "call":
            deltas.append(CALLS_1)
            if e.outcome == "connected":
                deltas.append(CONNECTED_1)
            if e.value_message:
                deltas.append(VALUE_MESSAGE_1)
        cohorts.touch(self, e.prospect_id, e.ts, deltas)  # type: ignore[arg-type]
        self.add(e.ts, deltas)

    def _reply(self, e: Event) -> None:
        deltas = [REPLIES_1, SENTIMENT_DELTAS[e.sentiment]]  # type: ignore[index]
        cohorts.reply(self, e.prospect_id, e.ts, cohorts.SENTIMENT_SLOTS[e.sentiment],  # type: ignore[arg-type,index]
                      deltas)
        self.add(e.ts, deltas)

    def _meeting(self, e: Event) -> None:
        deltas: Deltas = []
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
            self.add(e.ts, deltas)

    def _nps(self, e: Event) -> None:
        deltas = [(I["nps_responses"], 1)]
        score: int = e.score  # type: ignore[assignment]  # an nps event has one
        if score >= 9:
            deltas.append((I["nps_promoters"], 1))
        elif score <= 6:
            deltas.append((I["nps_detractors"], 1))
        self.add(e.ts, deltas)

    # -- dedupe and expiry ------------------------------------------------------

    def admit(self, e: Event, horizon_us: int) -> bool:
        """Remember the event's id; False when it is a duplicate (see engine/dedupe.py)."""
        seen = self.seen.get(e.type)
        if seen is None:
            seen = self.seen[e.type] = Seen()
        elif seen.is_duplicate(e.event_id, horizon_us):
            return False
        hour = seen.remember(e.event_id, e.ts)
        if self.dirty is not None:
            self.dirty.add(("e", e.type, hour))
        if len(seen.hours) > MAX_HOURS:
            seen.forget(horizon_us)  # no tombstones: its chunks' keys get reused (codec.py)
        return True

    def prune_recent(self, drop_before: int) -> None:
        """Cheap: drop the minutes no 1h read can reach any more (hours hold them too)."""
        floor = drop_before // MINUTE_US
        gone = [minute for minute in self.minutes if minute < floor]
        if not gone:
            return
        for minute in gone:
            del self.minutes[minute]
        cache = self.caches.get(MINUTE_WINDOW)
        if cache is not None and cache[1] <= max(gone):
            del self.caches[MINUTE_WINDOW]  # it would look for these minutes to subtract them

    def prune_old(self, keep_from: int, drop_before: int, horizon_us: int, lateness_us: int,
                  deal_retention_us: int) -> None:
        """Daily: also drop hours, prospects, deals and dedupe ids past their horizon.
        Dicts are kept in update order, so each expiry scan stops at the first live entry.
        Nothing dropped can change a read: `keep_from` lies before every window of every
        later read, with margin (engine.py), and deals.prune keeps what a deal can use."""
        self.prune_recent(drop_before)
        for seen in self.seen.values():
            seen.forget(horizon_us, everything=True)
        floor = keep_from // HOUR_US
        dropped: list[Key] = [("h", h) for h in prefix_below(self.hours, floor)]
        dropped += [("x", p) for p in prefix_where(
            self.prospects, lambda rec: cohorts.prospect_time(rec) < keep_from)]
        stores: dict[str, dict[Any, Any]] = {"h": self.hours, "x": self.prospects}
        for name, key in dropped:
            del stores[name][key]
        dropped += deal_measures.prune(self, keep_from, lateness_us, deal_retention_us)
        if dropped:
            self.caches.clear()  # rebuilt on the next read, never reading a dropped bucket
            self._mark(dropped)

    def _mark(self, keys: list[Key]) -> None:
        if self.dirty is not None:
            self.dirty.update(keys)


_APPLY = {"reply": RepState._reply, "meeting": RepState._meeting, "nps": RepState._nps}
