"""A seeded fuzzer of hostile Kafka messages, each derived from a valid event or not."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import orjson

from streams.events import MAX_MESSAGE_BYTES

TYPES = ("touch", "reply", "meeting", "deal", "nps")
Message = tuple[str, bytes | None, bytes]  # (topic kind, key, value)
ODD_VALUES: tuple[object, ...] = (None, 0, -1, 1.5, 2**62, True, "", [], {}, [1, "a"],
                                  {"nested": {"deeper": [None]}}, "x" * 129)
ODD_TIMESTAMPS = ("9999-12-31T23:59:59Z", "2300-01-01T00:00:00+14:00", "yesterday",
                  "2026-13-45T99:00:00Z", "2026-11-20T09:15:00", "1e10", "",
                  "2026-11-20T09:15:00.123456789123Z", "\u0000", "２０２６-11-20T09:15:00Z")


class Fuzzer:
    """Mutations of valid events (rep-keyed) and raw garbage (randomly keyed)."""

    def __init__(self, valid: list[tuple[str, bytes]], seed: int) -> None:
        self.rng = random.Random(seed)
        self.valid = valid
        self.kinds: list[Callable[[], Message]] = [
            self.random_bytes, self.deep_nesting, self.huge_string, self.wrong_type,
            self.non_finite, self.invalid_utf8, self.odd_timestamp, self.missing_field,
            self.type_confusion, self.not_an_object, self.control_bytes, self.bad_enum]

    def messages(self, count: int) -> Iterator[Message]:
        for _ in range(count):
            yield self.rng.choice(self.kinds)()

    def _base(self) -> tuple[str, dict]:
        rep_id, value = self.rng.choice(self.valid)
        return rep_id, orjson.loads(value)

    def _event(self, mutate: Callable[[dict], object]) -> Message:
        rep_id, event = self._base()
        mutate(event)
        kind = event.get("type")
        return kind if kind in TYPES else "touch", rep_id.encode(), orjson.dumps(event)

    def oversized(self, size: int) -> Message:
        """A valid event padded past the size limit with an unknown field."""
        rep_id, event = self._base()
        event["padding"] = ""
        event["padding"] = "p" * (size - len(orjson.dumps(event)))
        value = orjson.dumps(event)
        assert len(value) == size and size > MAX_MESSAGE_BYTES
        return event["type"], rep_id.encode(), value

    def random_bytes(self) -> Message:
        size = self.rng.choice((0, 1, 7, 100, 2000))
        value = self.rng.randbytes(size)
        return self.rng.choice(TYPES), self.rng.choice((None, b"", self.rng.randbytes(8))), value

    def deep_nesting(self) -> Message:
        depth = self.rng.choice((300, 2000, 20_000))
        opener, closer = self.rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
        body = opener * depth + b"1" + closer * depth
        if self.rng.random() < 0.5:  # nested inside an otherwise valid event
            rep_id, event = self._base()
            head = orjson.dumps(event)[:-1]
            return event["type"], rep_id.encode(), head + b',"extra":' + body + b"}"
        return self.rng.choice(TYPES), None, body

    def huge_string(self) -> Message:
        size = self.rng.choice((129, 258, 5000, 50_000))
        field = self.rng.choice(("rep_id", "team_id", "event_id", "prospect_id", "note"))
        return self._event(lambda e: e.__setitem__(field, "é" * (size // 2)))

    def wrong_type(self) -> Message:
        def mutate(event: dict) -> None:
            field = self.rng.choice(sorted(event))
            event[field] = self.rng.choice(ODD_VALUES)
        return self._event(mutate)

    def non_finite(self) -> Message:
        rep_id, event = self._base()
        field = self.rng.choice(("amount", "score", "occurred_at", "value_message"))
        event[field] = "__NF__"
        token = self.rng.choice((b"NaN", b"Infinity", b"-Infinity", b"1e999", b"nan",
                                 b"123456789012345678901234567890"))
        return event["type"], rep_id.encode(), orjson.dumps(event).replace(b'"__NF__"', token)

    def invalid_utf8(self) -> Message:
        rep_id, event = self._base()
        event["team_id"] = "__BAD__"
        junk = self.rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"))
        return event["type"], rep_id.encode(), orjson.dumps(event).replace(b"__BAD__", junk)

    def odd_timestamp(self) -> Message:
        stamp = self.rng.choice(ODD_TIMESTAMPS)
        return self._event(lambda e: e.__setitem__("occurred_at", stamp))

    def missing_field(self) -> Message:
        def mutate(event: dict) -> None:
            event.pop(self.rng.choice(sorted(event)))
            event.setdefault("type", "touch")  # a file line needs it; a topic does not
        return self._event(mutate)

    def type_confusion(self) -> Message:
        rep_id, event = self._base()
        other = self.rng.choice([t for t in TYPES if t != event["type"]])
        if self.rng.random() < 0.5:  # valid body, wrong topic
            return other, rep_id.encode(), orjson.dumps(event)
        event["type"] = self.rng.choice(("TOUCH", "call", "", "touch ", "🚀"))
        return other, rep_id.encode(), orjson.dumps(event)

    def bad_enum(self) -> Message:
        def mutate(event: dict) -> None:
            for field in ("channel", "sentiment", "status", "kind", "stage", "outcome"):
                if field in event:
                    event[field] = self.rng.choice(("fax", "EMAIL", "won ", "", "☎"))
        return self._event(mutate)

    def not_an_object(self) -> Message:
        value = self.rng.choice((b"[]", b"42", b'"touch"', b"null", b"true", b"[{}]", b" "))
        return self.rng.choice(TYPES), None, value

    def control_bytes(self) -> Message:
        rep_id, event = self._base()
        return event["type"], rep_id.encode(), orjson.dumps(event)[:-1] + b"\x00\n\r\t}"
