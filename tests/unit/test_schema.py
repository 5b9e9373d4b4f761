"""docs/events.schema.json accepts and rejects the same messages as the worker's validator,
on the fuzz corpus of the reliability suite and the generator's bad lines."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from streams.events import MAX_MESSAGE_BYTES, TYPES, Rejected, parse_event
from streams.render.schema import OUTPUT, TIMESTAMP
from tests.reliability.fuzz import Fuzzer
from tests.support.traffic import generated

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / OUTPUT).read_text())
CONNECT = {"type": "object", "required": ["schema", "payload"], "maxProperties": 2}


def _validator(ref: str) -> jsonschema.Draft202012Validator:
    """The schema entered at `ref`, a Connect envelope's payload included, as the worker
    reads a message on a topic (#/$defs/<type>) or a line of a file (#/$defs/event)."""
    entry = {"if": CONNECT, "then": {"properties": {"payload": {"$ref": ref}}},
             "else": {"$ref": ref}}
    return jsonschema.Draft202012Validator({**SCHEMA, **entry})


def _worker(value: bytes, kind: str | None) -> str | None:
    try:
        parse_event(value, kind)  # no clock: the future check is beyond the schema
    except Rejected as exc:
        return exc.reason
    return None


def _beyond_the_schema(value: bytes, reason: str | None) -> str | None:
    """Why a message is for the worker alone (docs/events.schema.json's description)."""
    if len(value) > MAX_MESSAGE_BYTES or reason == "invalid_encoding":
        return "bytes"  # a schema sees the parsed document, not its size or encoding
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "not JSON"
    event = document.get("payload", document) if isinstance(document, dict) else None
    if reason == "invalid_timestamp" and isinstance(event, dict) and isinstance(
            event.get("occurred_at"), str) and jsonschema.Draft202012Validator(
            {"pattern": TIMESTAMP}).is_valid(event["occurred_at"]):
        return "calendar"  # 30 February, or beyond year 9999 in UTC
    return None


def _type_of(value: bytes) -> str:
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return "touch"
    kind = event.get("type") if isinstance(event, dict) else None
    return kind if kind in TYPES else "touch"


def _corpus() -> list[tuple[str, bytes]]:
    """The generator's traffic with its bad lines, and the reliability suite's fuzzing."""
    traffic = generated(3000, days=3, reps=20, seed=3, bad_ratio=0.05)
    lines = [(_type_of(value), value) for _, value in traffic]
    fuzzer = Fuzzer([(rep, value) for rep, value in traffic if _worker(value, None) is None],
                    seed=5)
    fuzzed = [(kind, value) for kind, _, value in fuzzer.messages(6000)]
    oversized = fuzzer.oversized(1_000_001)
    return lines[:800] + fuzzed + [(oversized[0], oversized[2])]


CORPUS = _corpus()


@pytest.mark.parametrize("on_topic", [True, False], ids=["topic message", "file line"])
def test_schema_and_worker_agree_on_the_fuzz_corpus(on_topic: bool) -> None:
    validators = {kind: _validator(f"#/$defs/{kind}") for kind in {k for k, _ in CORPUS}}
    typed = _validator("#/$defs/event")
    outcomes: Counter[str] = Counter()
    disagree: list[Any] = []
    for kind, value in CORPUS:
        reason = _worker(value, kind if on_topic else None)
        beyond = _beyond_the_schema(value, reason)
        if beyond is not None:
            assert reason is not None, value[:200]  # the worker still refuses it
            outcomes[beyond] += 1
            continue
        document = orjson.loads(value)
        accepted = (validators[kind] if on_topic else typed).is_valid(document)
        outcomes["valid" if accepted else "invalid"] += 1
        if accepted != (reason is None):
            disagree.append((reason, value[:300]))
    assert disagree == [], f"{len(disagree)} disagreements, e.g. {disagree[:5]}"
    # the corpus really tests both sides
    assert outcomes["valid"] > 1000 and outcomes["invalid"] > 2000, outcomes


def test_each_reason_of_the_contract_is_refused_by_the_schema() -> None:
    reasons: Counter[str] = Counter()
    typed = _validator("#/$defs/event")
    for _, value in CORPUS:
        reason = _worker(value, None)
        if reason and _beyond_the_schema(value, reason) is None:
            assert not typed.is_valid(orjson.loads(value))
            reasons[reason] += 1
    assert {"missing_field", "invalid_field", "field_too_long", "unknown_type", "invalid_enum",
            "invalid_timestamp", "not_an_object"} <= set(reasons), reasons


def test_the_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert set(SCHEMA["$defs"]) == {"event", "touch", "reply", "meeting", "deal", "nps"}
