"""Dedupe memory of one rep and event type: the scope in which Kafka keeps order.

An event is a duplicate when the same event_id was applied at an event time within
the horizon of the newest event of the same rep and type. Each (rep, type) lives
in one topic partition, read in order, so replay and any number of workers agree.
"""

from __future__ import annotations

from typing import Any

from streams.engine.windows import HOUR_US

MAX_HOURS = 48  # event hours kept before forgetting early (a 24h horizon needs 25)


class Seen:
    """Event ids by event hour, forgotten oldest hour first.

    For the changelog an hour is written in append-only chunks (see engine/codec.py):
    `saved` is, per hour, [chunks written, ids written].
    """

    __slots__ = ("ids", "hours", "newest", "saved")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.hours: dict[int, list[str]] = {}
        self.newest = -(2**62)
        self.saved: dict[int, list[int]] = {}

    def is_duplicate(self, event_id: str, horizon_us: int) -> bool:
        ts = self.ids.get(event_id)
        return ts is not None and ts >= self.newest - horizon_us

    def remember(self, event_id: str, ts: int) -> int:
        """Remember an applied event; returns its hour (the unit that changed)."""
        self.ids[event_id] = ts
        if ts > self.newest:
            self.newest = ts
        hour = ts // HOUR_US
        ids = self.hours.get(hour)
        if ids is None:
            self.hours[hour] = [event_id]
        else:
            ids.append(event_id)
        return hour

    def forget(self, horizon_us: int, everything: bool = False) -> None:
        """Drop hours wholly past the horizon: all of them, or those at the front."""
        floor = (self.newest - horizon_us) // HOUR_US
        if everything:
            gone = [h for h in self.hours if h < floor]
        else:
            gone = []
            for hour in self.hours:  # hours arrive in (almost) time order
                if hour >= floor:
                    break
                gone.append(hour)
        for hour in gone:
            for event_id in self.hours.pop(hour):
                if self.ids.get(event_id, 0) // HOUR_US == hour:
                    del self.ids[event_id]
            self.saved.pop(hour, None)

    def chunk(self, hour: int) -> tuple[int, list[Any]] | None:
        """The next changelog chunk of `hour`: (its number, the ids added since the last
        chunk with their times); None when nothing was added or the hour is forgotten."""
        ids = self.hours.get(hour)
        if ids is None:
            return None
        saved = self.saved.setdefault(hour, [0, 0])
        if len(ids) == saved[1]:
            return None
        number = saved[0]
        entries = [[event_id, ts] for event_id in ids[saved[1]:]
                   if (ts := self.ids.get(event_id)) is not None]
        saved[0], saved[1] = number + 1, len(ids)
        return number, entries

    def load(self, hour: int, number: int, entries: list[Any]) -> None:
        """Merge one recovered chunk. When an id was applied twice (the first beyond the
        horizon) keeping its latest time answers every later duplicate check the same."""
        ids = self.hours.setdefault(hour, [])
        for event_id, ts in entries:
            known = self.ids.get(event_id)
            if known is None or ts > known:
                self.ids[event_id] = ts
                self.newest = max(self.newest, ts)
            ids.append(event_id)
        saved = self.saved.setdefault(hour, [0, 0])
        saved[0], saved[1] = max(saved[0], number + 1), len(ids)
