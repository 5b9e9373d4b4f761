"""The explaining validator: the contract field by field (in FIELDS order), with a
specific reason, naming the field, for the first violation of a message."""

from __future__ import annotations

import math
from typing import Any

import orjson

from streams.events.contract import (
    CONNECT_ENVELOPE,
    FIELDS,
    MAX_AMOUNT,
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    TYPES,
    Event,
    Field,
    Rejected,
    parse_timestamp,
)


def explain(raw: bytes, topic_type: str | None, now_us: int | None,
            max_skew_us: int) -> Event:
    """The Event of a message the fast decoder refused, or `Rejected` saying why."""
    obj = _decode(raw)
    kind = _event_type(obj, topic_type)
    values: dict[str, Any] = {}
    ts = 0
    for field in FIELDS:
        if kind not in field.types:
            continue
        value = _CHECKS[field.kind](obj, field, kind in field.required)
        if field.kind == "timestamp":
            ts = _check_time(value, now_us, max_skew_us)
        elif field.stored:
            values[field.name] = value
    if kind == "deal" and values["stage"] == "won" and values["amount"] is None:
        raise Rejected("missing_field", "required field 'amount' is missing")
    return make_event(kind, ts, values)


def make_event(kind: str, ts: int, values: dict[str, Any]) -> Event:
    """An Event from its stored fields (absent ones take the Event's defaults)."""
    fields = {name: value for name, value in values.items() if value is not None}
    return Event(type=kind, ts=ts, **fields)


def _decode(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise Rejected("message_too_large", f"message is {len(raw)} bytes; the limit is "
                                            f"{MAX_MESSAGE_BYTES}")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_encoding", f"message is not UTF-8 ({exc.reason} at byte "
                                           f"{exc.start})") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Rejected("invalid_json", f"message is not valid JSON: {exc}"[:200]) from None
    if isinstance(obj, dict) and obj.keys() == CONNECT_ENVELOPE:
        obj = obj["payload"]  # written by Kafka Connect's JsonConverter with schemas
    if not isinstance(obj, dict):
        raise Rejected("not_an_object", f"message is a JSON {type(obj).__name__}, not an object")
    return obj


def _event_type(obj: dict[str, Any], topic_type: str | None) -> str:
    value = obj.get("type")
    if value is None and topic_type is not None:
        return topic_type
    if value is None:
        raise Rejected("missing_field", "required field 'type' is missing")
    if value not in TYPES:
        raise Rejected("unknown_type", f"field 'type' must be one of {', '.join(TYPES)}; "
                                       f"got {str(value)[:64]!r}")
    if topic_type is not None and value != topic_type:
        raise Rejected("type_mismatch", f"field 'type' is {value!r} but the message came "
                                        f"from the topic of {topic_type!r} events")
    return value  # type: ignore[no-any-return]


def _present(obj: dict[str, Any], field: Field, required: bool) -> Any:
    value = obj.get(field.name)
    if value is None and required:
        raise Rejected("missing_field", f"required field {field.name!r} is missing")
    return value


def _check_id(obj: dict[str, Any], field: Field, required: bool) -> str | None:
    value = _present(obj, field, required)
    if value is None:
        return None
    name = field.name
    if not isinstance(value, str):
        raise Rejected("invalid_field", f"field {name!r} must be a string, got "
                                        f"{type(value).__name__}")
    if not value:
        raise Rejected("invalid_field", f"field {name!r} must not be empty")
    if len(value) > MAX_ID_CHARS:
        raise Rejected("field_too_long", f"field {name!r} is {len(value)} characters long; "
                                         f"the limit is {MAX_ID_CHARS}")
    return value


def _check_enum(obj: dict[str, Any], field: Field, required: bool) -> str | None:
    value = _check_id(obj, field, required)
    if value is not None and value not in field.values:
        raise Rejected("invalid_enum", f"field {field.name!r} must be one of "
                                       f"{', '.join(sorted(field.values))}; got {value[:64]!r}")
    return value


def _check_bool(obj: dict[str, Any], field: Field, required: bool) -> bool:
    value = obj.get(field.name, False)
    if value is not None and not isinstance(value, bool):
        raise Rejected("invalid_field", f"field {field.name!r} must be true or false")
    return bool(value)


def _check_amount(obj: dict[str, Any], field: Field, required: bool) -> float | None:
    value = _present(obj, field, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Rejected("invalid_field", f"field {field.name!r} must be a number")
    if not 0 <= value <= MAX_AMOUNT:
        raise Rejected("invalid_field", f"field {field.name!r} must be between 0 and "
                                        f"{MAX_AMOUNT:.0e}, got {value}")
    return value


def _check_score(obj: dict[str, Any], field: Field, required: bool) -> int:
    value = _present(obj, field, required)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        shown = repr(value)[:40]
        raise Rejected("invalid_field", f"field {field.name!r} must be an integer 0..10, "
                                        f"got {shown}")
    return value


def _check_time(text: Any, now_us: int | None, max_skew_us: int) -> int:
    try:
        ts = parse_timestamp(text)
    except (ValueError, OverflowError) as exc:
        raise Rejected("invalid_timestamp", f"field 'occurred_at': {exc}") from None
    if now_us is not None and ts > now_us + max_skew_us:
        raise Rejected("future_timestamp", f"occurred_at {text} is more than "
                                           f"{max_skew_us // 1_000_000} s in the future")
    return ts


_CHECKS = {"id": _check_id, "timestamp": _check_id, "enum": _check_enum,
           "bool": _check_bool, "amount": _check_amount, "score": _check_score}
