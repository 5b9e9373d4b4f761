"""The event contract: decode and validate one message into an `Event`, or reject it."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
import orjson

TYPES = ("touch", "reply", "meeting", "deal", "nps")
CHANNELS = frozenset({"email", "call", "video", "social", "sms", "in_person"})
OUTCOMES = frozenset({"connected", "no_answer", "voicemail", "busy"})
SENTIMENTS = frozenset({"positive", "negative", "neutral"})
MEETING_STATUSES = frozenset({"booked", "held", "no_show", "canceled"})
MEETING_KINDS = frozenset(
    {"first_appointment", "demo", "site_visit", "survey", "proposal", "follow_up"}
)
DEAL_STAGES = frozenset({"opened", "proposal", "won", "lost"})

MAX_ID_CHARS = 128
MAX_MESSAGE_BYTES = 1_000_000
MAX_AMOUNT = 1e12  # keeps exact integer micro-unit sums far inside 64 bits
DEFAULT_MAX_SKEW_US = 5 * 60 * 1_000_000

# Stable reason words, documented in docs/events.md; they label the rejected counter.
REASONS: dict[str, str] = {
    "message_too_large": f"the message is larger than {MAX_MESSAGE_BYTES} bytes",
    "invalid_encoding": "the message is not valid UTF-8",
    "invalid_json": "the message is not valid JSON (NaN and Infinity are not JSON)",
    "not_an_object": "the JSON value is not an object",
    "missing_field": "a required field is missing or null",
    "invalid_field": "a field has the wrong type, is empty or is out of range",
    "field_too_long": f"a string field is longer than {MAX_ID_CHARS} characters",
    "unknown_type": "the type field is not one of " + ", ".join(TYPES),
    "type_mismatch": "the type field does not match the topic the message came from",
    "invalid_enum": "an enum field has a value outside its list",
    "invalid_timestamp": "occurred_at is not an RFC 3339 timestamp with an offset",
    "future_timestamp": "occurred_at lies beyond the allowed clock skew in the future",
}
# Reasons of the Kafka record rather than its event (worker only).
RECORD_REASONS: dict[str, str] = {
    "tombstone": "the Kafka record has no value (a tombstone): there is no event to count",
    "undecodable_batch": "a Kafka record batch could not be decoded (corrupt, or compressed "
                         "with an unknown codec); the dead letter names its offsets, and "
                         "its records stay in the source topic",
    "rep_limit": "a new rep beyond `SALESPULSE_MAX_REPS`",
}
CONNECT_ENVELOPE = frozenset({"schema", "payload"})  # Kafka Connect JsonConverter, schemas on

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_MIN_TS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US
_MAX_TS = (datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC) - _EPOCH) // _ONE_US


class Rejected(ValueError):
    """A message that breaks the contract: `reason` is a stable word from REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Event(msgspec.Struct, gc=False):
    """A valid event; `ts` is occurred_at in integer microseconds since the epoch.
    (A msgspec Struct: built in C, it costs a third of a dataclass per event.)"""

    event_id: str
    type: str
    ts: int
    rep_id: str
    team_id: str
    prospect_id: str | None = None
    channel: str | None = None
    outcome: str | None = None
    value_message: bool = False
    deal_id: str | None = None
    sentiment: str | None = None
    meeting_id: str | None = None
    status: str | None = None
    kind: str | None = None
    stage: str | None = None
    amount: float = 0
    score: int = 0


def parse_timestamp(text: str) -> int:
    """RFC 3339 (offset required) to integer microseconds since the epoch."""
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"not an RFC 3339 timestamp with an offset: {text[:64]!r}")
    try:  # datetime keeps 6 fractional digits and truncates the rest
        moment = datetime.fromisoformat(text)
    except ValueError:  # lower-case t / z are RFC 3339 too
        moment = datetime.fromisoformat(text.upper())
    ts = (moment - _EPOCH) // _ONE_US
    if not _MIN_TS <= ts <= _MAX_TS:  # the offset moved it outside years 1..9999 UTC
        raise ValueError(f"{text[:64]!r} is outside years 0001..9999 in UTC")
    return ts


def format_timestamp(ts: int) -> str:
    """Integer microseconds to RFC 3339 UTC, seconds precision unless needed."""
    moment = datetime.fromtimestamp(ts // 1_000_000, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    micros = ts % 1_000_000
    return text + (f".{micros:06d}".rstrip("0") if micros else "") + "Z"


def _field(obj: dict, name: str, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise Rejected("missing_field", f"required field {name!r} is missing")
        return None
    if not isinstance(value, str):
        raise Rejected("invalid_field", f"field {name!r} must be a string, got "
                                        f"{type(value).__name__}")
    if not value:
        raise Rejected("invalid_field", f"field {name!r} must not be empty")
    if len(value) > MAX_ID_CHARS:
        raise Rejected("field_too_long", f"field {name!r} is {len(value)} characters long; "
                                         f"the limit is {MAX_ID_CHARS}")
    return value


def _enum(obj: dict, name: str, allowed: frozenset[str], required: bool = True) -> str | None:
    value = _field(obj, name, required)
    if value is not None and value not in allowed:
        raise Rejected("invalid_enum", f"field {name!r} must be one of "
                                       f"{', '.join(sorted(allowed))}; got {value[:64]!r}")
    return value


def _number(obj: dict, name: str, required: bool) -> float | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise Rejected("missing_field", f"required field {name!r} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Rejected("invalid_field", f"field {name!r} must be a number")
    if not 0 <= value <= MAX_AMOUNT:
        raise Rejected("invalid_field", f"field {name!r} must be between 0 and {MAX_AMOUNT:.0e}, "
                                        f"got {value}")
    return value


def _score(obj: dict) -> int:
    value = obj.get("score")
    if value is None:
        raise Rejected("missing_field", "required field 'score' is missing")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        shown = repr(value)[:40]
        raise Rejected("invalid_field", f"field 'score' must be an integer 0..10, got {shown}")
    return value


def _decode(raw: bytes | str) -> dict:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise Rejected("message_too_large", f"message is {len(raw)} bytes; the limit is "
                                            f"{MAX_MESSAGE_BYTES}")
    if isinstance(raw, bytes):
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


def _event_type(obj: dict, topic_type: str | None) -> str:
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


def _timestamp(obj: dict, now_us: int | None, max_skew_us: int) -> int:
    text = _field(obj, "occurred_at")
    assert text is not None
    try:
        ts = parse_timestamp(text)
    except (ValueError, OverflowError) as exc:
        raise Rejected("invalid_timestamp", f"field 'occurred_at': {exc}") from None
    if now_us is not None and ts > now_us + max_skew_us:
        raise Rejected("future_timestamp", f"occurred_at {text} is more than "
                                           f"{max_skew_us // 1_000_000} s in the future")
    return ts


def parse_event(raw: bytes | str, topic_type: str | None = None, now_us: int | None = None,
                max_skew_us: int = DEFAULT_MAX_SKEW_US) -> Event:
    """Decode and validate one message; raise `Rejected` with a reason and a message.

    `topic_type` is the type a typed topic implies (the `type` field may then be
    omitted); `now_us` is the processing clock for the future-timestamp check.
    A typed C decoder accepts the valid messages; anything it refuses is
    diagnosed by the explaining validator below, which owns every reason word.
    """
    if isinstance(raw, str):  # limits are in bytes, as on the wire
        raw = raw.encode("utf-8", "surrogatepass")
    event = _fast_parse(raw, topic_type)
    if event is None:
        return _explain(raw, topic_type, now_us, max_skew_us)
    if now_us is not None and event.ts > now_us + max_skew_us:
        return _explain(raw, topic_type, now_us, max_skew_us)  # raises future_timestamp
    return event


def _explain(raw: bytes | str, topic_type: str | None, now_us: int | None,
             max_skew_us: int) -> Event:
    """The contract, field by field, with a specific reason for the first violation."""
    obj = _decode(raw)
    kind = _event_type(obj, topic_type)
    event_id, rep_id, team_id = (_field(obj, "event_id"), _field(obj, "rep_id"),
                                 _field(obj, "team_id"))
    ts = _timestamp(obj, now_us, max_skew_us)
    for optional in ("region", "account_id"):
        _field(obj, optional, required=False)
    event = Event(event_id, kind, ts, rep_id, team_id,  # type: ignore[arg-type]
                  prospect_id=_field(obj, "prospect_id", required=kind in ("touch", "reply")))
    _PER_TYPE[kind](obj, event)
    return event


def _touch(obj: dict, event: Event) -> None:
    event.channel = _enum(obj, "channel", CHANNELS)
    event.outcome = _enum(obj, "outcome", OUTCOMES, required=False)
    flag = obj.get("value_message", False)
    if flag is not None and not isinstance(flag, bool):
        raise Rejected("invalid_field", "field 'value_message' must be true or false")
    event.value_message = bool(flag)
    event.deal_id = _field(obj, "deal_id", required=False)


def _reply(obj: dict, event: Event) -> None:
    event.channel = _enum(obj, "channel", CHANNELS)
    event.sentiment = _enum(obj, "sentiment", SENTIMENTS)
    _field(obj, "touch_id", required=False)


def _meeting(obj: dict, event: Event) -> None:
    event.meeting_id = _field(obj, "meeting_id")
    event.status = _enum(obj, "status", MEETING_STATUSES)
    event.kind = _enum(obj, "kind", MEETING_KINDS)


def _deal(obj: dict, event: Event) -> None:
    event.deal_id = _field(obj, "deal_id")
    event.stage = _enum(obj, "stage", DEAL_STAGES)
    event.amount = _number(obj, "amount", required=event.stage == "won") or 0


def _nps(obj: dict, event: Event) -> None:
    event.score = _score(obj)


_PER_TYPE = {"touch": _touch, "reply": _reply, "meeting": _meeting, "deal": _deal, "nps": _nps}


# -- fast path: msgspec validates types, enums and lengths in C -----------------------

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]


def _literal(values: frozenset[str]) -> Any:
    return Literal[tuple(sorted(values))]  # type: ignore[valid-type]


class _Wire(msgspec.Struct, forbid_unknown_fields=False, gc=False):
    event_id: _Id
    occurred_at: str
    rep_id: _Id
    team_id: _Id
    type: _literal(frozenset(TYPES)) | None = None  # type: ignore[valid-type]
    prospect_id: _Id | None = None
    account_id: _Id | None = None
    region: _Id | None = None
    touch_id: _Id | None = None
    deal_id: _Id | None = None
    meeting_id: _Id | None = None
    channel: _literal(CHANNELS) | None = None  # type: ignore[valid-type]
    outcome: _literal(OUTCOMES) | None = None  # type: ignore[valid-type]
    value_message: bool | None = None
    sentiment: _literal(SENTIMENTS) | None = None  # type: ignore[valid-type]
    status: _literal(MEETING_STATUSES) | None = None  # type: ignore[valid-type]
    kind: _literal(MEETING_KINDS) | None = None  # type: ignore[valid-type]
    stage: _literal(DEAL_STAGES) | None = None  # type: ignore[valid-type]
    amount: Annotated[float, msgspec.Meta(ge=0, le=MAX_AMOUNT)] | None = None
    score: Annotated[int, msgspec.Meta(ge=0, le=10)] | None = None


_DECODER = msgspec.json.Decoder(_Wire)
_REQUIRED = {"touch": ("prospect_id", "channel"), "reply": ("prospect_id", "channel", "sentiment"),
             "meeting": ("meeting_id", "status", "kind"), "deal": ("deal_id", "stage"),
             "nps": ("score",)}


def _fast_parse(raw: bytes | str, topic_type: str | None) -> Event | None:
    """The event when the message is plainly valid, else None (let _explain say why)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return None
    try:
        w = _DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # deep nesting too
        return None
    kind = w.type or topic_type
    if kind is None or (topic_type is not None and kind != topic_type):
        return None
    for name in _REQUIRED[kind]:
        if getattr(w, name) is None:
            return None
    if (kind == "deal" and (w.stage == "won" and w.amount is None
                            or w.amount is not None and not math.isfinite(w.amount))):
        return None
    try:
        ts = parse_timestamp(w.occurred_at)
    except (ValueError, OverflowError):
        return None
    return Event(w.event_id, kind, ts, w.rep_id, w.team_id, w.prospect_id, w.channel,
                 w.outcome, bool(w.value_message), w.deal_id if kind in ("touch", "deal") else None,
                 w.sentiment, w.meeting_id, w.status, w.kind, w.stage, w.amount or 0,
                 w.score or 0)
