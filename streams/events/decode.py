"""`parse_event`: a typed C decoder (msgspec, derived from FIELDS) accepts the plainly
valid messages fast; anything it refuses goes to the explaining validator."""

from __future__ import annotations

from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec

from streams.events.contract import (
    DEFAULT_MAX_SKEW_US,
    FIELDS,
    MAX_AMOUNT,
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    TYPES,
    Event,
    Field,
    parse_timestamp,
)
from streams.events.explain import explain


def parse_event(raw: bytes | str, topic_type: str | None = None, now_us: int | None = None,
                max_skew_us: int = DEFAULT_MAX_SKEW_US) -> Event:
    """Decode and validate one message; raise `Rejected` with a reason and a message.

    `topic_type` is the type a typed topic implies (the `type` field may then be
    omitted); `now_us` is the processing clock for the future-timestamp check.
    """
    if isinstance(raw, str):  # limits are in bytes, as on the wire
        raw = raw.encode("utf-8", "surrogatepass")
    event = _fast_parse(raw, topic_type)
    if event is None or now_us is not None and event.ts > now_us + max_skew_us:
        return explain(raw, topic_type, now_us, max_skew_us)  # raises, but for envelopes
    return event


def _wire_type(field: Field) -> Any:
    if field.kind in ("id", "timestamp"):
        return Annotated[str, msgspec.Meta(min_length=1 if field.kind == "id" else 0,
                                           max_length=MAX_ID_CHARS)]
    return {"enum": Literal[field.values],  # type: ignore[valid-type]
            "bool": bool,
            "amount": Annotated[float, msgspec.Meta(ge=0, le=MAX_AMOUNT)],
            "score": Annotated[int, msgspec.Meta(ge=0, le=10)]}[field.kind]


_Wire = msgspec.defstruct(
    "_Wire", [("type", Literal[TYPES] | None, None)]  # type: ignore[valid-type]
    # null is left to the explaining validator where a default is not None
    + [(f.name, bool, False) if f.kind == "bool" else (f.name, _wire_type(f) | None, None)
       for f in FIELDS],
    forbid_unknown_fields=False, gc=False)
_DECODER = msgspec.json.Decoder(_Wire)
_REQUIRED = {kind: tuple(f.name for f in FIELDS if kind in f.required) for kind in TYPES}
# The Event's fields after (event_id, type, ts), read off the wire in one C call: a dict
# of keywords per event would cost more than the rest of the decoding.
_HEAD = ("event_id", "type", "ts")
assert Event.__struct_fields__[:3] == _HEAD
_REST = attrgetter(*Event.__struct_fields__[3:])


def _fast_parse(raw: bytes, topic_type: str | None) -> Event | None:
    """The event when the message is plainly valid, else None (let explain say why)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        wire: Any = _DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # deep nesting too
        return None
    kind = wire.type or topic_type
    if kind is None or (topic_type is not None and kind != topic_type):
        return None
    for name in _REQUIRED[kind]:
        if getattr(wire, name) is None:
            return None
    if kind == "deal" and wire.stage == "won" and wire.amount is None:
        return None
    try:
        ts = parse_timestamp(wire.occurred_at)
    except (ValueError, OverflowError):
        return None
    return Event(wire.event_id, kind, ts, *_REST(wire))
