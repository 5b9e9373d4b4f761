"""Realistic synthetic sales events: reps work prospects through touches, replies,
meetings and deals, with a little bad input and some duplicates (demo, tests, bench)."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from streams.events import format_timestamp

CHANNEL_WEIGHTS = {"email": 45, "call": 30, "social": 10, "video": 6, "sms": 6, "in_person": 3}
OUTCOME_WEIGHTS = {"connected": 35, "no_answer": 35, "voicemail": 25, "busy": 5}
NEXT_STEPS = ("demo", "site_visit", "survey", "proposal")
BAD_LINES = (
    b'{"event_id": "bad-json", "type": "touch"',
    b'["not", "an", "object"]',
    b'{"event_id":"bad-enum","type":"touch","occurred_at":"2026-11-20T09:15:00Z",'
    b'"rep_id":"r-x","team_id":"t-x","prospect_id":"p","channel":"fax"}',
    b'{"event_id":"bad-ts","type":"nps","occurred_at":"yesterday","rep_id":"r-x",'
    b'"team_id":"t-x","score":9}',
    b'{"event_id":"bad-missing","type":"reply","occurred_at":"2026-11-20T09:15:00Z",'
    b'"rep_id":"r-x","team_id":"t-x","channel":"email"}',
    b'\xff\xfe not utf-8',
)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(tuple(weights), tuple(weights.values()))[0]


@dataclass
class _Rep:
    rep_id: str
    team_id: str
    skill: float  # scales reply, show and win chances so reps differ
    next_prospect: int = 0
    touched: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    interested: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    booked: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    held: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    new_deals: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    open_deals: deque[str] = field(default_factory=lambda: deque(maxlen=50))


class Generator:
    """Draws events for `reps` reps in `teams` teams; deterministic for a seed."""

    def __init__(self, reps: int = 20, teams: int = 4, seed: int = 7,
                 skill: tuple[float, float] = (0.5, 1.5)) -> None:
        """`skill`: the range reps are drawn from (1.0 books a next step after 65% of first
        appointments, the default goal; the demo's reps are above it)."""
        self.rng = random.Random(seed)
        self.reps = [_Rep(f"r-{i:04d}", f"team-{i % teams:02d}", self.rng.uniform(*skill))
                     for i in range(reps)]
        self.serial = 0

    def event(self, ts_us: int) -> dict[str, Any]:
        """One event of a random rep at `ts_us`."""
        rep = self.rng.choice(self.reps)
        self.serial += 1
        base = {"event_id": f"e-{self.serial}", "occurred_at": format_timestamp(ts_us),
                "rep_id": rep.rep_id, "team_id": rep.team_id}
        roll = self.rng.random()
        for threshold, make in ((0.08, self._deal), (0.2, self._meeting), (0.36, self._reply),
                                (0.39, self._nps)):
            if roll < threshold and (body := make(rep)) is not None:
                return base | body
        return base | self._touch(rep)

    def _touch(self, rep: _Rep) -> dict[str, Any]:
        rng = self.rng
        if rep.touched and rng.random() < 0.5:
            prospect = rng.choice(rep.touched)
        else:
            rep.next_prospect += 1
            prospect = f"{rep.rep_id}-p{rep.next_prospect}"
            rep.touched.append(prospect)
        body: dict[str, Any] = {"type": "touch", "prospect_id": prospect,
                                "channel": _pick(rng, CHANNEL_WEIGHTS)}
        if body["channel"] == "call":
            body["outcome"] = _pick(rng, OUTCOME_WEIGHTS)
            body["value_message"] = rng.random() < 0.4 * rep.skill
        if rep.open_deals and rng.random() < 0.3:
            body["deal_id"] = rng.choice(rep.open_deals)
        return body

    def _reply(self, rep: _Rep) -> dict[str, Any] | None:
        if not rep.touched:
            return None
        prospect = self.rng.choice(rep.touched)
        roll = self.rng.random() / rep.skill
        sentiment = "positive" if roll < 0.35 else "negative" if roll < 0.65 else "neutral"
        if sentiment == "positive":
            rep.interested.append(prospect)
        return {"type": "reply", "prospect_id": prospect, "sentiment": sentiment,
                "channel": _pick(self.rng, CHANNEL_WEIGHTS)}

    def _meeting(self, rep: _Rep) -> dict[str, Any] | None:
        rng = self.rng
        if rep.held and rng.random() < 0.4:
            prospect = rep.held.popleft()
            if rng.random() < 0.65 * rep.skill:
                rep.new_deals.append(f"{prospect}-deal")
                return self._meeting_body(prospect, "booked", rng.choice(NEXT_STEPS))
            return self._meeting_body(prospect, "booked", "follow_up")
        if rep.booked and rng.random() < 0.6:
            prospect = rep.booked.popleft()
            if rng.random() < 0.8 * min(rep.skill, 1.2):
                rep.held.append(prospect)
                return self._meeting_body(prospect, "held", "first_appointment")
            return self._meeting_body(prospect, rng.choice(("no_show", "canceled")),
                                      "first_appointment")
        if rep.interested:
            prospect = rep.interested.popleft()
            rep.booked.append(prospect)
            return self._meeting_body(prospect, "booked", "first_appointment")
        return None

    @staticmethod
    def _meeting_body(prospect: str, status: str, kind: str) -> dict[str, Any]:
        return {"type": "meeting", "prospect_id": prospect, "meeting_id": f"{prospect}-{kind}",
                "status": status, "kind": kind}

    def _deal(self, rep: _Rep) -> dict[str, Any] | None:
        rng = self.rng
        if rep.new_deals:
            deal = rep.new_deals.popleft()
            rep.open_deals.append(deal)
            return {"type": "deal", "deal_id": deal, "stage": "opened"}
        if not rep.open_deals:
            return None
        deal = rng.choice(rep.open_deals)
        roll = rng.random()
        if roll < 0.3:
            return {"type": "deal", "deal_id": deal, "stage": "proposal"}
        rep.open_deals.remove(deal)
        if roll < 0.3 + 0.45 * rep.skill:
            amount = round(rng.lognormvariate(8.5, 0.6) * rep.skill, 2)
            return {"type": "deal", "deal_id": deal, "stage": "won", "amount": amount}
        return {"type": "deal", "deal_id": deal, "stage": "lost"}

    def _nps(self, rep: _Rep) -> dict[str, Any]:
        score = min(10, max(0, round(self.rng.gauss(7.5 + rep.skill, 2))))
        return {"type": "nps", "account_id": f"{rep.rep_id}-acc{self.rng.randrange(40)}",
                "score": score}


def spaced(start_us: int, step_us: int, count: int, seed: int = 7) -> Iterator[int]:
    """`count` event times from `start_us`, about `step_us` apart on average."""
    rng = random.Random(seed)
    ts = start_us
    for _ in range(count):
        ts += rng.randint(0, 2 * step_us)
        yield ts


def wall_clock(count: int) -> Iterator[int]:
    """`count` event times read from the wall clock as they are drawn (live demo)."""
    for _ in range(count):
        yield time.time_ns() // 1000


def stream(gen: Generator, timestamps: Iterable[int], bad_ratio: float = 0.0,
           dup_ratio: float = 0.0) -> Iterator[tuple[str, bytes]]:
    """(rep_id, encoded JSON) pairs, one per timestamp: an event, a bad line or a re-send."""
    import msgspec

    encode = msgspec.json.Encoder().encode  # exact-size bytes: tests hold many (not orjson)
    rng = gen.rng
    last: tuple[str, bytes] | None = None
    for ts in timestamps:
        roll = rng.random()
        if roll < bad_ratio:
            yield "r-bad", rng.choice(BAD_LINES)
            continue
        if last is not None and roll < bad_ratio + dup_ratio:
            yield last
            continue
        event = gen.event(ts)
        last = (event["rep_id"], encode(event))
        yield last
