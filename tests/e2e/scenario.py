"""Events of one rep with every measure non-zero, and a chosen number of next steps."""

from __future__ import annotations

from typing import Any

import orjson

from streams.events import format_timestamp

MINUTE_US = 60_000_000
FIRST_APPOINTMENTS = 6


def rep_events(rep: str, team: str, now_us: int, next_steps: int) -> list[tuple[str, bytes]]:
    """~45 events in the last 20 minutes: touches (calls, value messages, on deals),
    replies of each sentiment, 6 first appointments booked and held, `next_steps` demos
    booked, a no-show, 3 deals opened (each quoted, 2 won, 1 lost) and 3 NPS answers."""
    events: list[dict[str, Any]] = []

    def add(type_: str, minutes_ago: float, **fields: Any) -> None:
        events.append({"event_id": f"{rep}-{type_}-{len(events)}", "type": type_,
                       "occurred_at": format_timestamp(now_us - int(minutes_ago * MINUTE_US)),
                       "rep_id": rep, "team_id": team, **fields})

    deals = [f"{rep}-d{i}" for i in range(3)]
    for deal in deals:
        add("deal", 20, deal_id=deal, stage="opened")
    for i in range(20):
        touch: dict[str, Any] = {"prospect_id": f"{rep}-p{i}",
                                 "channel": "call" if i < 10 else "email"}
        if i < 10:
            touch["outcome"] = "connected" if i < 6 else "no_answer"
            touch["value_message"] = i < 5
        if i < len(deals):
            touch["deal_id"] = deals[i]
        add("touch", 15 - i * 0.1, **touch)
    for i, sentiment in enumerate(("positive", "positive", "positive", "negative", "negative",
                                   "neutral")):
        add("reply", 12, prospect_id=f"{rep}-p{i}", channel="email", sentiment=sentiment)
    for i in range(FIRST_APPOINTMENTS):
        add("meeting", 11, meeting_id=f"{rep}-fa{i}", status="booked", kind="first_appointment")
        add("meeting", 10, meeting_id=f"{rep}-fa{i}", status="held", kind="first_appointment")
    for i in range(next_steps):
        add("meeting", 9, meeting_id=f"{rep}-demo{i}", status="booked", kind="demo")
    add("meeting", 8, meeting_id=f"{rep}-fu", status="no_show", kind="follow_up")
    for deal in deals:
        add("deal", 7, deal_id=deal, stage="proposal")
    add("deal", 5, deal_id=deals[0], stage="won", amount=1000)
    add("deal", 5, deal_id=deals[1], stage="won", amount=1500)
    add("deal", 5, deal_id=deals[2], stage="lost")
    for score in (10, 9, 5):
        add("nps", 4, score=score)
    return [(rep, orjson.dumps(e)) for e in events]


def odd_messages(rep: str, team: str, now_us: int, bad: int = 1) -> list[tuple[str, bytes]]:
    """`bad` dead letters, a duplicate and a late event, so every pipeline panel has data."""
    event = {"event_id": f"{rep}-odd", "type": "nps", "rep_id": rep, "team_id": team,
             "occurred_at": format_timestamp(now_us - 3 * MINUTE_US), "score": 8}
    late = {**event, "event_id": f"{rep}-late",
            "occurred_at": format_timestamp(now_us - 45 * 24 * 60 * MINUTE_US)}
    return [(rep, b"{not json %d" % i) for i in range(bad)] + [
        (rep, orjson.dumps(event)), (rep, orjson.dumps(event)), (rep, orjson.dumps(late))]
