"""The event contract: every rejection reason, and what valid messages parse to."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams import events
from streams.events import REASONS, Event, Rejected, parse_event, parse_timestamp
from streams.events.explain import explain

DROP = object()  # marks a field to remove
LONG = "x" * 129
NOW = parse_timestamp("2026-11-20T09:10:00Z")

VALID: dict[str, dict[str, Any]] = {
    "touch": {"event_id": "t-1", "type": "touch", "occurred_at": "2026-11-20T09:15:00Z",
              "rep_id": "r-7", "team_id": "emea", "prospect_id": "p-42", "channel": "call",
              "outcome": "connected", "value_message": True, "deal_id": "d-1",
              "region": "eu", "account_id": "a-1"},
    "reply": {"event_id": "y-1", "type": "reply", "occurred_at": "2026-11-20T11:02:10Z",
              "rep_id": "r-7", "team_id": "emea", "prospect_id": "p-42", "channel": "email",
              "sentiment": "positive", "touch_id": "t-1"},
    "meeting": {"event_id": "m-1", "type": "meeting", "occurred_at": "2026-11-20T11:30:00Z",
                "rep_id": "r-7", "team_id": "emea", "prospect_id": "p-42", "meeting_id": "mt-9",
                "status": "booked", "kind": "first_appointment"},
    "deal": {"event_id": "d-1", "type": "deal", "occurred_at": "2026-11-20T12:00:00Z",
             "rep_id": "r-7", "team_id": "emea", "deal_id": "d-1", "stage": "won",
             "amount": 4200},
    "nps": {"event_id": "n-1", "type": "nps", "occurred_at": "2026-11-20T13:00:00Z",
            "rep_id": "r-7", "team_id": "emea", "account_id": "acc1", "score": 10},
}
REQUIRED = {
    "touch": ("event_id", "type", "occurred_at", "rep_id", "team_id", "prospect_id", "channel"),
    "reply": ("event_id", "type", "occurred_at", "rep_id", "team_id", "prospect_id", "channel",
              "sentiment"),
    "meeting": ("event_id", "type", "occurred_at", "rep_id", "team_id", "meeting_id", "status",
                "kind"),
    "deal": ("event_id", "type", "occurred_at", "rep_id", "team_id", "deal_id", "stage",
             "amount"),  # amount: required because the stage is won
    "nps": ("event_id", "type", "occurred_at", "rep_id", "team_id", "score"),
}
STRING_FIELDS = {
    "touch": ("event_id", "rep_id", "team_id", "prospect_id", "deal_id", "region",
              "account_id"),
    "reply": ("prospect_id", "touch_id"),
    "meeting": ("meeting_id", "prospect_id"),
    "deal": ("deal_id",),
}


def raw(type_: str, /, **changes: Any) -> bytes:
    body = {k: v for k, v in (VALID[type_] | changes).items() if v is not DROP}
    return orjson.dumps(body)


def case(id_: str, message: bytes, reason: str, names: str, topic: str | None = None,
         now: int | None = None) -> Any:
    return pytest.param(message, topic, now, reason, names, id=id_)


REJECTIONS = [
    case("too_large", raw("nps", pad="x" * 1_000_000), "message_too_large", "bytes"),
    case("bad_utf8", raw("nps", rep_id="r").replace(b'"r"', b'"\xff\xfe"'), "invalid_encoding",
         "UTF-8"),
    case("utf8_surrogate_bytes", raw("nps", rep_id="r").replace(b'"r"', b'"\xed\xa0\x80"'),
         "invalid_encoding", "UTF-8"),
    case("overlong_utf8", raw("nps", rep_id="r").replace(b'"r"', b'"\xc0\xaf"'),
         "invalid_encoding", "UTF-8"),
    case("empty", b"", "invalid_json", "JSON"),
    case("truncated", raw("nps")[:-1], "invalid_json", "JSON"),
    case("single_quotes", b"{'event_id': 'x'}", "invalid_json", "JSON"),
    case("trailing_comma", raw("nps")[:-1] + b",}", "invalid_json", "JSON"),
    case("trailing_garbage", raw("nps") + b" x", "invalid_json", "JSON"),
    case("nan", raw("nps").replace(b"10", b"NaN"), "invalid_json", "JSON"),
    case("infinity", raw("deal").replace(b"4200", b"Infinity"), "invalid_json", "JSON"),
    case("minus_infinity", raw("deal").replace(b"4200", b"-Infinity"), "invalid_json", "JSON"),
    case("overflow_to_infinity", raw("deal").replace(b"4200", b"1e400"), "invalid_json", "JSON"),
    case("array", b"[1, 2]", "not_an_object", "object"),
    case("string", b'"touch"', "not_an_object", "object"),
    case("number", b"42", "not_an_object", "object"),
    case("null", b"null", "not_an_object", "object"),
    *[case(f"missing_{kind}_{name}", raw(kind, **{name: DROP}), "missing_field", name)
      for kind, names in REQUIRED.items() for name in names],
    case("null_event_id", raw("touch", event_id=None), "missing_field", "event_id"),
    case("null_score", raw("nps", score=None), "missing_field", "score"),
    case("won_without_amount", raw("deal", amount=DROP), "missing_field", "amount"),
    case("event_id_number", raw("touch", event_id=5), "invalid_field", "event_id"),
    case("event_id_empty", raw("touch", event_id=""), "invalid_field", "event_id"),
    case("rep_id_list", raw("touch", rep_id=["r"]), "invalid_field", "rep_id"),
    case("team_id_object", raw("touch", team_id={"id": "t"}), "invalid_field", "team_id"),
    case("occurred_at_number", raw("touch", occurred_at=1795166100), "invalid_field",
         "occurred_at"),
    case("prospect_id_number", raw("reply", prospect_id=7), "invalid_field", "prospect_id"),
    case("channel_number", raw("touch", channel=1), "invalid_field", "channel"),
    case("region_number", raw("touch", region=5), "invalid_field", "region"),
    case("account_id_empty", raw("nps", account_id=""), "invalid_field", "account_id"),
    case("touch_id_number", raw("reply", touch_id=3), "invalid_field", "touch_id"),
    case("meeting_id_empty", raw("meeting", meeting_id=""), "invalid_field", "meeting_id"),
    case("value_message_string", raw("touch", value_message="yes"), "invalid_field",
         "value_message"),
    case("value_message_number", raw("touch", value_message=1), "invalid_field",
         "value_message"),
    case("amount_negative", raw("deal", amount=-0.01), "invalid_field", "amount"),
    case("amount_string", raw("deal", amount="4200"), "invalid_field", "amount"),
    case("amount_bool", raw("deal", amount=True), "invalid_field", "amount"),
    case("amount_negative_on_opened", raw("deal", stage="opened", amount=-1), "invalid_field",
         "amount"),
    case("score_11", raw("nps", score=11), "invalid_field", "score"),
    case("score_9_5", raw("nps", score=9.5), "invalid_field", "score"),
    case("score_minus_1", raw("nps", score=-1), "invalid_field", "score"),
    case("score_bool", raw("nps", score=True), "invalid_field", "score"),
    case("score_string", raw("nps", score="9"), "invalid_field", "score"),
    *[case(f"long_{kind}_{name}", raw(kind, **{name: LONG}), "field_too_long", name)
      for kind, names in STRING_FIELDS.items() for name in names],
    case("long_occurred_at", raw("touch", occurred_at="2026-11-20T09:15:00" + "0" * 120 + "Z"),
         "field_too_long", "occurred_at"),
    case("type_unknown", raw("touch", type="call"), "unknown_type", "type"),
    case("type_wrong_case", raw("touch", type="Touch"), "unknown_type", "type"),
    case("type_empty", raw("touch", type=""), "unknown_type", "type"),
    case("type_number", raw("touch", type=5), "unknown_type", "type"),
    case("type_on_other_topic", raw("touch"), "type_mismatch", "type", topic="reply"),
    case("channel_fax", raw("touch", channel="fax"), "invalid_enum", "channel"),
    case("channel_wrong_case", raw("touch", channel="Call"), "invalid_enum", "channel"),
    case("reply_channel", raw("reply", channel="pigeon"), "invalid_enum", "channel"),
    case("outcome", raw("touch", outcome="hung_up"), "invalid_enum", "outcome"),
    case("sentiment", raw("reply", sentiment="angry"), "invalid_enum", "sentiment"),
    case("status", raw("meeting", status="rescheduled"), "invalid_enum", "status"),
    case("kind", raw("meeting", kind="lunch"), "invalid_enum", "kind"),
    case("stage", raw("deal", stage="closed"), "invalid_enum", "stage"),
    *[case(f"timestamp_{i}", raw("touch", occurred_at=text), "invalid_timestamp", "occurred_at")
      for i, text in enumerate([
          "2026-11-20T09:15:00",  # RFC 3339 without an offset
          "2026-11-20",
          "2026-11-20T09:15Z",
          "2026-11-20T25:00:00Z",
          "2026-02-30T00:00:00Z",
          "2026-11-20T09:15:00+0200",
          "2026-11-20T09:15:00.Z",
          "2026-11-20T09:15:00 Z",
          "2026-11-20T09:15:00+24:00",
          "1795166100",
          "Fri, 20 Nov 2026 09:15:00 GMT",
          "0001-01-01T00:00:00+01:00",  # year 0 in UTC
          "9999-12-31T23:59:59-05:00",  # year 10000 in UTC
      ])],
    case("timestamp_empty", raw("touch", occurred_at=""), "invalid_field", "occurred_at"),
    case("future", raw("touch", occurred_at="2026-11-20T09:15:00.000001Z"), "future_timestamp",
         "occurred_at", now=NOW),
    case("future_offset", raw("touch", occurred_at="2026-11-20T11:15:00.000001+02:00"),
         "future_timestamp", "occurred_at", now=NOW),
]


@pytest.mark.parametrize(("message", "topic", "now", "reason", "names"), REJECTIONS)
def test_rejected(message: bytes, topic: str | None, now: int | None, reason: str,
                  names: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_event(message, topic_type=topic, now_us=now)
    assert (caught.value.reason, names in caught.value.message) == (reason, True), (
        caught.value.message)
    assert str(caught.value) == caught.value.message


def test_every_reason_is_tested() -> None:
    assert {p.values[3] for p in REJECTIONS} == set(REASONS)


# -- accepted ----------------------------------------------------------------------------

ACCEPTED = [
    pytest.param(raw("touch", extra=1, nested={"a": [1, None]}, channel_v2="fax"), None,
                 id="unknown_fields_ignored"),
    pytest.param(raw("touch", type=DROP), "touch", id="type_omitted_on_typed_topic"),
    pytest.param(raw("touch"), "touch", id="type_matches_topic"),
    pytest.param(raw("touch", outcome=DROP, value_message=DROP, deal_id=DROP, region=DROP,
                     account_id=DROP), None, id="optional_fields_omitted"),
    pytest.param(raw("touch", value_message=None, outcome=None), None, id="optional_nulls"),
    pytest.param(raw("deal", stage="opened", amount=DROP), None, id="opened_without_amount"),
    pytest.param(raw("deal", amount=0), None, id="won_amount_zero"),
    pytest.param(raw("nps", score=0), None, id="score_0"),
    pytest.param(raw("touch", event_id="x" * 128, rep_id="é" * 128), None, id="128_chars"),
    pytest.param(raw("meeting", prospect_id=DROP), None, id="meeting_without_prospect"),
    pytest.param(raw("touch").decode(), None, id="text_message"),
    pytest.param(b"  " + raw("touch") + b"\r\n", None, id="surrounding_whitespace"),
]


@pytest.mark.parametrize(("message", "topic"), ACCEPTED)
def test_accepted(message: bytes, topic: str | None) -> None:
    assert isinstance(parse_event(message, topic_type=topic, now_us=NOW + 3600 * 10**7), Event)


def test_fields_of_a_touch() -> None:
    e = parse_event(raw("touch", extra="ignored"))
    assert (e.event_id, e.type, e.rep_id, e.team_id, e.prospect_id, e.channel, e.outcome,
            e.value_message, e.deal_id) == ("t-1", "touch", "r-7", "emea", "p-42", "call",
                                             "connected", True, "d-1")
    assert e.ts == parse_timestamp("2026-11-20T09:15:00Z")


@pytest.mark.parametrize("stray", [123, "x", None])
def test_the_event_time_comes_from_occurred_at_whatever_else_is_sent(stray: Any) -> None:
    e = parse_event(raw("touch", ts=stray, **{"occurred_at in microseconds": stray}))
    assert e.ts == parse_timestamp("2026-11-20T09:15:00Z")


def test_a_decoded_event_holds_no_field_it_only_checks() -> None:
    """Replay holds 300k events at a time: their occurred_at and account ids are not kept."""
    e = parse_event(raw("touch"))
    extra = set(type(e).__struct_fields__) - set(Event.__struct_fields__)
    assert extra == {"occurred_at", "region", "account_id", "touch_id"}
    assert {name: getattr(e, name) for name in extra} == dict.fromkeys(extra)


def test_fields_of_the_other_types() -> None:
    y, m = parse_event(raw("reply")), parse_event(raw("meeting"))
    d, n = parse_event(raw("deal")), parse_event(raw("nps", score=7))
    assert (y.sentiment, y.channel) == ("positive", "email")
    assert (m.meeting_id, m.status, m.kind) == ("mt-9", "booked", "first_appointment")
    assert (d.deal_id, d.stage, d.amount) == ("d-1", "won", 4200)
    assert n.score == 7
    assert parse_event(raw("touch", value_message=DROP)).value_message is False


def test_message_at_the_size_limit_is_accepted() -> None:
    base = raw("nps", pad="")
    message = raw("nps", pad="x" * (events.MAX_MESSAGE_BYTES - len(base)))
    assert len(message) == events.MAX_MESSAGE_BYTES
    assert parse_event(message).score == 10


def test_type_is_required_in_files() -> None:
    with pytest.raises(Rejected) as caught:
        parse_event(raw("nps", type=DROP))
    assert caught.value.reason == "missing_field" and "type" in caught.value.message


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-11-20T09:15:00Z", "2026-11-20T09:15:00Z"),
    ("2026-11-20T11:15:00+02:00", "2026-11-20T09:15:00Z"),
    ("2026-11-20T04:15:00-05:00", "2026-11-20T09:15:00Z"),
    ("2026-11-20t09:15:00z", "2026-11-20T09:15:00Z"),
    ("2026-11-20 09:15:00Z", "2026-11-20T09:15:00Z"),
    ("2026-11-20T09:15:00+00:00", "2026-11-20T09:15:00Z"),
    ("2026-11-21T00:15:00+15:00", "2026-11-20T09:15:00Z"),
])
def test_offsets(text: str, utc: str) -> None:
    assert parse_timestamp(text) == parse_timestamp(utc) == 1_795_166_100_000_000


@pytest.mark.parametrize(("fraction", "micros"), [
    (".5", 500_000), (".000001", 1), (".123456", 123_456), (".1234567", 123_456),
    (".123456789", 123_456), (".9999999", 999_999), (".000000999", 0),
])
def test_fractions_are_truncated_to_microseconds(fraction: str, micros: int) -> None:
    base = parse_timestamp("2026-11-20T09:15:00Z")
    assert parse_timestamp(f"2026-11-20T09:15:00{fraction}Z") - base == micros
    assert parse_timestamp(f"2026-11-20T11:15:00{fraction}+02:00") - base == micros


@pytest.mark.parametrize(("occurred_at", "skew", "future"), [
    ("2026-11-20T09:15:00Z", None, False),  # exactly now + 5 min: still accepted
    ("2026-11-20T09:15:00.000001Z", None, True),
    ("2026-11-20T09:10:00Z", 0, False),
    ("2026-11-20T09:10:00.000001Z", 0, True),
    ("2020-01-01T00:00:00Z", 0, False),
])
def test_future_timestamp_against_the_clock(occurred_at: str, skew: int | None,
                                            future: bool) -> None:
    kw = {} if skew is None else {"max_skew_us": skew}
    message = raw("touch", occurred_at=occurred_at)
    if future:
        with pytest.raises(Rejected, match="occurred_at") as caught:
            parse_event(message, now_us=NOW, **kw)
        assert caught.value.reason == "future_timestamp"
    else:
        assert parse_event(message, now_us=NOW, **kw).ts == parse_timestamp(occurred_at)
    assert parse_event(message).ts == parse_timestamp(occurred_at)  # no clock, no check


# -- the fast decoder agrees with the explaining validator --------------------------------

ODD_VALUES = st.sampled_from([
    None, DROP, "", "x", LONG, 0, 1, -1, 9.5, 11, True, False, [], {}, "call", "won",
    "2026-11-20T09:15:00", "2026-11-20T09:15:00+02:00", "first_appointment", 1e12, 1e13,
    "positive", "touch", "nps", "é" * 128, "é" * 129,
])
# ts and the decoder's own name for it (decode.py) are no contract fields: a message may
# hold them, and the event time must still come from occurred_at.
FIELDS = sorted({k for body in VALID.values() for k in body}
                | {"score", "amount", "outcome", "ts", "occurred_at in microseconds"})
COMMON = ("event_id", "type", "ts", "rep_id", "team_id", "prospect_id")
MEANINGFUL = {  # the Event attributes each type defines; the engine reads no others
    "touch": (*COMMON, "channel", "outcome", "value_message", "deal_id"),
    "reply": (*COMMON, "channel", "sentiment"),
    "meeting": (*COMMON, "meeting_id", "status", "kind"),
    "deal": (*COMMON, "deal_id", "stage", "amount"),
    "nps": (*COMMON, "score"),
}


def meaning(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in MEANINGFUL[event.type]}


@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(sorted(VALID)), topic=st.sampled_from([None, None, "touch", "nps"]),
       changes=st.dictionaries(st.sampled_from(FIELDS), ODD_VALUES, max_size=3))
def test_fast_path_accepts_only_what_the_contract_accepts(kind: str, topic: str | None,
                                                          changes: dict[str, Any]) -> None:
    message = raw(kind, **changes)
    try:
        explained: Event | Rejected = explain(message, topic, None, 0)
    except Rejected as exc:
        explained = exc
    try:
        parsed: Event | Rejected = parse_event(message, topic_type=topic)
    except Rejected as exc:
        parsed = exc
    if isinstance(explained, Rejected):
        assert isinstance(parsed, Rejected) and parsed.reason == explained.reason
        assert parsed.reason in REASONS
    else:
        assert isinstance(parsed, Event) and meaning(parsed) == meaning(explained)


def test_the_event_record_keeps_exactly_the_stored_fields_of_the_table() -> None:
    """The Event is written out for typing; FIELDS is the contract it must follow."""
    stored = {f.name for f in events.FIELDS if f.stored and f.kind != "timestamp"}
    assert set(Event.__struct_fields__) == stored | {"type", "ts"}
