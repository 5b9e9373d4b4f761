"""The contract's one table of fields (FIELDS), its reasons, the Event record and time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

TYPES = ("touch", "reply", "meeting", "deal", "nps")
ALL = frozenset(TYPES)
MAX_ID_CHARS = 128
MAX_MESSAGE_BYTES = 1_000_000
MAX_AMOUNT = 1e12  # keeps exact integer micro-unit sums far inside 64 bits
DEFAULT_MAX_SKEW_US = 5 * 60 * 1_000_000
CHANNELS = ("email", "call", "video", "social", "sms", "in_person")


@dataclass(frozen=True)
class Field:
    """One field of the contract: its kind (id: a string of 1..128 characters, enum, bool,
    amount: a number 0..1e12, score: an integer 0..10, timestamp: RFC 3339 with an
    offset), the types it belongs to and those that require it."""

    name: str
    kind: str
    doc: str
    types: frozenset[str] = ALL
    required: frozenset[str] = frozenset()
    values: tuple[str, ...] = ()  # an enum's values
    stored: bool = True  # kept on the Event (else only checked)


FIELDS: tuple[Field, ...] = (
    Field("event_id", "id", "unique per event; the idempotency key", required=ALL),
    Field("rep_id", "id", "the rep; messages should be keyed by it", required=ALL),
    Field("team_id", "id", "a rep's team is the team_id of its latest event (by occurred_at; "
                           "on a tie, the greatest team_id)", required=ALL),
    Field("occurred_at", "timestamp", "event time, RFC 3339 with an offset "
                                      "(`2026-11-20T09:15:00Z`, `...+02:00`)", required=ALL),
    Field("region", "id", "not used", stored=False),
    Field("account_id", "id", "never a metric label", stored=False),
    Field("prospect_id", "id", "never a metric label", required=frozenset({"touch", "reply"})),
    Field("channel", "enum", "how the rep reached out, or the prospect answered",
          frozenset({"touch", "reply"}), frozenset({"touch", "reply"}), CHANNELS),
    Field("outcome", "enum", "of a call", frozenset({"touch"}),
          values=("connected", "no_answer", "voicemail", "busy")),
    Field("value_message", "bool", "the touch carried a value-added message (default false)",
          frozenset({"touch"})),
    Field("deal_id", "id", "the opportunity the touch worked on, or that changed stage",
          frozenset({"touch", "deal"}), frozenset({"deal"})),
    Field("sentiment", "enum", "of the reply", frozenset({"reply"}), frozenset({"reply"}),
          ("positive", "negative", "neutral")),
    Field("touch_id", "id", "the touch being answered", frozenset({"reply"}), stored=False),
    Field("meeting_id", "id", "the meeting", frozenset({"meeting"}), frozenset({"meeting"})),
    Field("status", "enum", "what happened to the meeting", frozenset({"meeting"}),
          frozenset({"meeting"}), ("booked", "held", "no_show", "canceled")),
    Field("kind", "enum", "of meeting", frozenset({"meeting"}), frozenset({"meeting"}),
          ("first_appointment", "demo", "site_visit", "survey", "proposal", "follow_up")),
    Field("stage", "enum", "the stage the deal reached", frozenset({"deal"}),
          frozenset({"deal"}), ("opened", "proposal", "won", "lost")),
    Field("amount", "amount", "revenue of the sale, one currency per deployment; required "
                              "when the stage is won", frozenset({"deal"})),
    Field("score", "score", "the NPS answer (promoter 9-10, passive 7-8, detractor 0-6)",
          frozenset({"nps"}), frozenset({"nps"})),
)
FIELD = {f.name: f for f in FIELDS}
# The fields an Event keeps per type (occurred_at becomes `ts`).
STORED = {kind: tuple(f for f in FIELDS if f.stored and kind in f.types
                      and f.kind != "timestamp") for kind in TYPES}

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
    """A valid event: the stored fields of FIELDS (a test holds the two together), and
    `ts`, occurred_at in integer microseconds since the epoch. (A msgspec Struct: built
    in C, it costs a third of a dataclass per event.) The fast decoder's records are a
    subclass with the checked-only fields added (decode.py); build one by keyword."""

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
    amount: float | None = None  # deals (set when won)
    score: int | None = None  # nps


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
