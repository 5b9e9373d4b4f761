"""docs/events.schema.json: the event contract as JSON Schema (2020-12), from the same
table (streams/events FIELDS) the worker's validator is built from.

`$defs` holds one schema per event type: a message on that type's topic must match it
(the `type` field may then be left out). The top level is for a message with its type,
or a Kafka Connect envelope around one. What JSON Schema cannot say is listed in the
description; tests/unit/test_schema.py checks the schema and the worker agree on the
fuzz corpus everywhere else.
"""

from __future__ import annotations

import json
from typing import Any

from streams.events import FIELDS, MAX_AMOUNT, MAX_ID_CHARS, MAX_MESSAGE_BYTES, TYPES, Field
from streams.render import GENERATED

OUTPUT = "docs/events.schema.json"
# RFC 3339 with an offset; ASCII digits, real months, days 01..31, hours, minutes, seconds
TIMESTAMP = (r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]"
             r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
             r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
BEYOND = (f"Beyond this schema (the worker checks them): a message is at most "
          f"{MAX_MESSAGE_BYTES:,} bytes of UTF-8; occurred_at is a real calendar date "
          "(no 30 February) within years 0001..9999 in UTC, and at most the allowed clock "
          "skew ahead of the worker's clock; an integer score is written without a "
          "fraction (9, not 9.0).")


def _value(field: Field) -> dict[str, Any]:
    """The values a field takes when present (not null)."""
    if field.kind in ("id", "enum"):
        text: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS}
        return {**text, "enum": list(field.values)} if field.kind == "enum" else text
    values: dict[str, dict[str, Any]] = {
            "timestamp": {"type": "string", "pattern": TIMESTAMP},
            "bool": {"type": "boolean"},
            "amount": {"type": "number", "minimum": 0, "maximum": MAX_AMOUNT},
            "score": {"type": "integer", "minimum": 0, "maximum": 10}}
    return values[field.kind]


def _property(field: Field, required: bool) -> dict[str, Any]:
    value = {"description": field.doc, **_value(field)}
    if required:
        return value
    return {"description": field.doc, "anyOf": [_value(field), {"type": "null"}]}


def type_schema(kind: str) -> dict[str, Any]:
    """A message on the topic of `kind` events."""
    fields = [f for f in FIELDS if kind in f.types]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"type": {"description": "the event type; may be left out on the "
                                               f"{kind} topic", "enum": [kind, None]},
                       **{f.name: _property(f, kind in f.required) for f in fields}},
        "required": [f.name for f in fields if kind in f.required],
    }
    if kind == "deal":  # a won deal carries its revenue
        schema["if"] = {"properties": {"stage": {"const": "won"}}, "required": ["stage"]}
        schema["then"] = {"required": ["amount"], "properties": {"amount": _value(
            next(f for f in FIELDS if f.name == "amount"))}}
    return schema


def event_schema() -> dict[str, Any]:
    typed = {"type": "object", "required": ["type"],
             "properties": {"type": {"enum": list(TYPES)}},
             "allOf": [{"if": {"properties": {"type": {"const": kind}}},
                        "then": {"$ref": f"#/$defs/{kind}"}} for kind in TYPES]}
    connect = {"type": "object", "required": ["schema", "payload"], "maxProperties": 2}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://salespulse.dev/schemas/events.schema.json",
        "$comment": GENERATED,
        "title": "salespulse sales event",
        "description": "One Kafka message value: a sales event (docs/events.md). Unknown "
                       "fields are allowed and ignored. " + BEYOND,
        "$defs": {"event": typed, **{kind: type_schema(kind) for kind in TYPES}},
        "if": connect,
        "then": {"properties": {"payload": {"$ref": "#/$defs/event"}}},
        "else": {"$ref": "#/$defs/event"},
    }


def render_schema() -> dict[str, str]:
    return {OUTPUT: json.dumps(event_schema(), indent=2) + "\n"}
