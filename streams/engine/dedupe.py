"""Dedupe memory of one rep and event type: the scope in which Kafka keeps order.

An event is a duplicate when the same event_id was applied at an event time within
the horizon of the newest event of the same rep and type. Each (rep, type) lives
in one topic partition, read in order, so replay and any number of workers agree.
"""

from __future__ import annotations

from streams.engine.windows import HOUR_US

MAX_HOURS = 48  # event hours kept before forgetting early (a 24h horizon needs 25)


class Seen:
    """Event ids by event hour, forgotten oldest hour first."""

    __slots__ = ("ids", "hours", "newest")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.hours: dict[int, list[str]] = {}
        self.newest = -(2**62)

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

    def forget(self, horizon_us: int, everything: bool = False) -> list[int]:
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
        return gone

    def dump(self, hour: int) -> list[list[object]] | None:
        ids = self.hours.get(hour)
        if ids is None:
            return None
        return [[event_id, self.ids[event_id]] for event_id in ids
                if self.ids.get(event_id, 0) // HOUR_US == hour]

    def load(self, hour: int, entries: list[list[object]]) -> None:
        for event_id, ts in entries:
            self.remember(event_id, ts)  # type: ignore[arg-type]
