"""Hand-computed golden cases for every measure, KPI, window edge, dedupe and lateness rule."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.engine import Engine, EngineConfig, take_snapshot
from streams.events import parse_event, parse_timestamp
from streams.replay import ReplayResult, replay, to_json
from tests.unit import reference as ref

EXAMPLE = Path(__file__).parent / "example"  # a copy of design/example
T0 = "2026-11-20T10:37:20Z"  # the instant of the kpis.md window example
CLOCK = parse_timestamp("2030-01-01T00:00:00Z")  # processing clock: nothing is in the future
NULL = None


def ago(at: str = T0, **delta: float) -> str:
    """An RFC 3339 instant `delta` before `at` (microsecond precision)."""
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")) - timedelta(**delta)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


IDS = itertools.count()


def ev(type_: str, at: str, rep: str = "r1", team: str = "t1", event_id: str | None = None,
       **fields: Any) -> bytes:
    """One JSON line; event ids are unique unless given."""
    body = {"event_id": event_id or f"{type_[0]}{next(IDS)}", "type": type_, "occurred_at": at,
            "rep_id": rep, "team_id": team, **fields}
    return orjson.dumps(body)


def touch(at: str, prospect: str = "p1", channel: str = "email", **kw: Any) -> bytes:
    return ev("touch", at, prospect_id=prospect, channel=channel, **kw)


def reply(at: str, prospect: str, sentiment: str, **kw: Any) -> bytes:
    return ev("reply", at, prospect_id=prospect, channel="email", sentiment=sentiment, **kw)


def meeting(at: str, status: str, kind: str, **kw: Any) -> bytes:
    return ev("meeting", at, meeting_id="mt", status=status, kind=kind, **kw)


def deal(at: str, deal_id: str, stage: str, **kw: Any) -> bytes:
    return ev("deal", at, deal_id=deal_id, stage=stage, **kw)


def nps(at: str, score: int, **kw: Any) -> bytes:
    return ev("nps", at, score=score, **kw)


def run(tmp_path: Path, lines: list[bytes], as_of: str | None,
        targets: dict[str, float] | None = None,
        quotas: dict[str, float] | None = None) -> dict[str, Any]:
    """The engine's replay document for these lines."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    t = None if as_of is None else parse_timestamp(as_of)
    result = replay(path, t, EngineConfig(team_targets=targets or {}, quotas=quotas or {}),
                    progress=False,
                    now_us=CLOCK)
    doc: dict[str, Any] = orjson.loads(to_json(result))
    return doc


def row(doc: dict[str, Any], key: str) -> dict[str, Any]:
    """'r1/7d' is a rep row, 'team:t1/7d' a team row: measures and KPIs in one dict."""
    group, window = key.split("/")
    if group.startswith("team:"):
        rows = [r for r in doc["teams"] if r["team_id"] == group[5:] and r["window"] == window]
    else:
        rows = [r for r in doc["reps"] if r["rep_id"] == group and r["window"] == window]
    assert len(rows) == 1, f"no single row {key}"
    return rows[0]["measures"] | rows[0]["kpis"] | {"team_id": rows[0]["team_id"]}


def check(doc: dict[str, Any], expect: dict[str, dict[str, Any]]) -> None:
    wrong = []
    for key, values in expect.items():
        got = row(doc, key)
        for name, want in values.items():
            if want is None or isinstance(want, str):
                ok = got[name] == want
            else:
                ok = got[name] is not None and got[name] == pytest.approx(want, rel=1e-9, abs=0)
            if not ok:
                wrong.append(f"{key} {name}: got {got[name]!r}, want {want!r}")
    assert not wrong, "\n".join(wrong)


@dataclass
class Case:
    name: str
    lines: list[bytes]
    expect: dict[str, dict[str, Any]]
    as_of: str | None = T0
    counts: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, float] | None = None
    quotas: dict[str, float] | None = None  # weekly revenue quota per rep


def d(**kw: Any) -> dict[str, Any]:
    return kw


ALL_NULL_BUT_NPS = {k: NULL for k in ref.KPIS if k != "nps"}

CASES = [
    Case("seed: 50 prospects contacted, 3 positive replies = 6%",
         [touch(ago(days=2), f"p{i}") for i in range(50)]
         + [reply(ago(hours=5), f"p{i}", "positive") for i in range(3)],
         {"r1/7d": d(touches=50, prospects_touched=50, replies=3, replies_positive=3,
                     prospects_replied=3, prospects_replied_positive=3,
                     positive_reply_rate=0.06, reply_rate=0.06, negative_reply_rate=0.0,
                     touches_per_prospect=1.0),
          # the touches are two days old: no cohort in 24h, so the rates are undefined
          "r1/24h": d(touches=0, prospects_touched=0, replies=3, prospects_replied=0,
                      positive_reply_rate=NULL, reply_rate=NULL)}),
    Case("calls: connect rate and value messages count calls only",
         [touch(ago(minutes=10), "p1", "call", outcome="connected", value_message=True),
          touch(ago(minutes=9), "p1", "call", outcome="no_answer"),
          touch(ago(minutes=8), "p2", "call", outcome="voicemail", value_message=True),
          touch(ago(minutes=7), "p3", "call", outcome="busy", value_message=False),
          touch(ago(minutes=6), "p3", "email", value_message=True),
          touch(ago(minutes=5), "p3", "video", outcome="connected")],
         {"r1/1h": d(touches=6, calls=4, calls_connected=1, value_message_calls=2,
                     prospects_touched=3, touches_per_prospect=2.0, call_connect_rate=0.25,
                     value_message_call_share=0.5, replies=0, meeting_acceptance_rate=NULL)}),
    Case("replies: counted by sentiment; the cohort needs a touch in the window",
         [reply(ago(hours=4), "p2", "neutral"),  # before its touch: still in the cohort
          touch(ago(hours=3), "p1"), touch(ago(hours=3), "p2"), touch(ago(hours=3), "p3"),
          reply(ago(hours=2), "p1", "positive"), reply(ago(hours=2), "p1", "negative"),
          reply(ago(hours=2), "p9", "positive")],  # p9 was never touched
         {"r1/24h": d(replies=4, replies_positive=2, replies_negative=1, replies_neutral=1,
                      prospects_touched=3, prospects_replied=2,
                      prospects_replied_positive=1, prospects_replied_negative=1,
                      reply_rate=2 / 3, positive_reply_rate=1 / 3, negative_reply_rate=1 / 3,
                      meetings_booked=0, meeting_acceptance_rate=0.0)}),
    Case("cohort: a touch before the window does not count a reply inside it",
         [touch(ago(days=8), "p1"), reply(ago(days=1, hours=-1), "p1", "positive")],
         {"r1/7d": d(prospects_touched=0, replies=1, prospects_replied=0, reply_rate=NULL),
          "r1/30d": d(prospects_touched=1, prospects_replied=1, prospects_replied_positive=1,
                      reply_rate=1.0, positive_reply_rate=1.0)}),
    Case("meetings: every status and kind",
         [meeting(ago(hours=2), "booked", k) for k in
          ("first_appointment", "first_appointment", "demo", "site_visit", "survey",
           "proposal", "follow_up")]
         + [meeting(ago(hours=1), "held", "first_appointment"),
            meeting(ago(hours=1), "held", "first_appointment"),
            meeting(ago(hours=1), "held", "demo"),
            meeting(ago(hours=1), "no_show", "first_appointment"),
            meeting(ago(hours=1), "canceled", "demo"),
            reply(ago(hours=1), "p1", "positive"), reply(ago(hours=1), "p2", "neutral")],
         {"r1/24h": d(meetings_booked=7, next_steps_booked=4, first_appointments_booked=2,
                      first_appointments_held=2, meetings_held=3, meetings_no_show=1,
                      show_rate=0.75, appointment_to_next_step_rate=2.0, replies=2,
                      meeting_acceptance_rate=3.5)}),
    Case("deals: won, lost, revenue, cycle and touches per deal (per rep)",
         [deal(ago(days=10), "d1", "opened"),
          touch(ago(days=9), "p1", deal_id="d1"), touch(ago(days=9), "p2", deal_id="d1"),
          ev("touch", ago(days=9), rep="r2", prospect_id="p1", channel="call", deal_id="d1"),
          deal(ago(days=1), "d1", "won", amount=1000),
          deal(ago(days=3), "d2", "opened"), touch(ago(days=2), "p3", deal_id="d2"),
          deal(ago(hours=5), "d2", "lost"),
          deal(ago(hours=4), "d3", "proposal", amount=99),
          deal(ago(hours=3), "d4", "won", amount=500.5),
          touch(ago(hours=2), "p4", deal_id="d4")],  # after the win, before T: counts
         {"r1/7d": d(deals_won=2, deals_lost=1, revenue_won=1500.5, won_cycle_seconds=9 * 86400,
                     deals_won_with_cycle=1, close_ratio=2 / 3, avg_revenue_per_sale=750.25,
                     avg_sales_cycle_days=9.0, touches_on_won_deals=3,
                     touches_per_won_deal=1.5, touches_on_lost_deals=1,
                     touches_per_lost_deal=1.0),
          "r1/24h": d(deals_won=1, deals_lost=1, revenue_won=500.5, deals_won_with_cycle=0,
                      won_cycle_seconds=0, avg_sales_cycle_days=NULL, close_ratio=0.5,
                      touches_on_won_deals=1, touches_on_lost_deals=1),
          # touches on a won deal count from before the window; r2's own touch is not r1's
          "r2/30d": d(touches=1, deals_won=0, touches_on_won_deals=0, touches_per_won_deal=NULL),
          "team:t1/7d": d(deals_won=2, touches=2, touches_on_won_deals=3)}),
    Case("deals: a deal won twice counts twice; the earliest opened, even if it arrives late",
         [touch(ago(days=7, hours=-1), "p1", deal_id="d1"),
          deal(ago(days=2), "d1", "won", amount=100),
          deal(ago(days=1), "d1", "won", amount=100),
          deal(ago(days=5), "d1", "opened"), deal(ago(days=6), "d1", "opened"),
          deal(ago(days=4), "d1", "opened")],
         {"r1/7d": d(deals_won=2, revenue_won=200, deals_won_with_cycle=2,
                     won_cycle_seconds=9 * 86400, avg_sales_cycle_days=4.5,
                     touches_on_won_deals=2, touches_per_won_deal=1.0)}),
    Case("deals: an opened event after the won gives a negative cycle",
         [deal(ago(hours=5), "d1", "won", amount=10), deal(ago(hours=1), "d1", "opened")],
         {"r1/24h": d(deals_won_with_cycle=1, won_cycle_seconds=-4 * 3600,
                      avg_sales_cycle_days=-4 / 24)}),
    Case("deals: opened and proposal events count; quote turnaround from the first proposal",
         [deal(ago(days=6), "d1", "proposal"),  # d1's first proposal...
          deal(ago(days=3), "d1", "proposal"),  # ...a revision
          deal(ago(days=8), "d1", "opened"),  # the opening arrives after the proposals
          deal(ago(days=2), "d2", "opened"), deal(ago(hours=2), "d2", "proposal"),
          deal(ago(days=1), "d2", "proposal"),  # arrives later, but is d2's first
          deal(ago(hours=1), "d3", "proposal")],  # never opened: no turnaround
         {"r1/7d": d(deals_opened=1, proposals_sent=5, quotes_with_open=2,
                     quote_turnaround_seconds=2 * 86400 + 86400,
                     avg_quote_turnaround_days=1.5),
          "r1/24h": d(deals_opened=0, proposals_sent=2, quotes_with_open=0,
                      quote_turnaround_seconds=0, avg_quote_turnaround_days=NULL),
          "r1/30d": d(deals_opened=2, proposals_sent=5, quotes_with_open=2)}),
    Case("deals: touches count up to 180 days before the won; a deal idle 180 days is new",
         [touch(ago(days=200), "p1", deal_id="d1"), touch(ago(days=100), "p1", deal_id="d1"),
          deal(ago(days=250), "d1", "opened"), deal(ago(days=60), "d2", "opened"),
          deal(ago(days=1), "d1", "won", amount=10)],  # d1 last seen 249 days before: new
         {"r1/30d": d(deals_won=1, touches_on_won_deals=1, deals_won_with_cycle=0,
                      deals_opened=0)}),
    Case("nps: promoters 9-10, passives 7-8, detractors 0-6; teams sum reps",
         [nps(ago(hours=1), s) for s in (10, 9, 8, 7, 6, 0)]
         + [ev("nps", ago(hours=1), rep="r2", score=s) for s in (10, 10, 3)],
         {"r1/24h": d(nps_responses=6, nps_promoters=2, nps_detractors=2, nps=0.0),
          "r2/24h": d(nps_responses=3, nps_promoters=2, nps_detractors=1, nps=100 / 3),
          "team:t1/24h": d(nps_responses=9, nps_promoters=4, nps_detractors=3, nps=100 / 9)}),
    Case("nulls: every KPI whose denominator is 0 is null",
         [nps(ago(minutes=1), 5)],
         {"r1/30d": ALL_NULL_BUT_NPS | d(nps=-100.0),
          "team:t1/30d": ALL_NULL_BUT_NPS | d(magic_number=NULL, activity_ratio=NULL)}),
    Case("magic number and activity ratio from the team's 30d and 7d rows",
         [deal(ago(days=20), "d1", "won", amount=1500),
          ev("deal", ago(days=10), rep="r2", deal_id="d2", stage="won", amount=500),
          deal(ago(days=9), "d3", "lost"), deal(ago(days=9), "d4", "lost"),
          meeting(ago(days=12), "held", "first_appointment"),
          ev("meeting", ago(days=2), rep="r2", meeting_id="m", status="held",
             kind="first_appointment"),
          meeting(ago(days=2), "booked", "demo"),
          meeting(ago(days=8), "booked", "first_appointment")]  # outside 7d
         + [meeting(ago(hours=h), "booked", "first_appointment") for h in range(1, 11)]
         + [ev("nps", ago(hours=1), rep="r3", team="t2", score=9)],
         # 30d: avg revenue 1000, next step rate 1/2, close ratio 2/4 -> 10000 / 250 = 40
         {"team:t1/1h": d(magic_number=40.0, activity_ratio=0.25),
          "team:t1/24h": d(magic_number=40.0, activity_ratio=0.25),
          "team:t1/7d": d(first_appointments_booked=10, magic_number=40.0, activity_ratio=0.25),
          "team:t1/30d": d(first_appointments_booked=11, avg_revenue_per_sale=1000.0,
                           close_ratio=0.5, appointment_to_next_step_rate=0.5,
                           magic_number=40.0, activity_ratio=0.25),
          "team:t2/30d": d(magic_number=NULL, activity_ratio=NULL)},
         targets={"t1": 10_000.0}),
    Case("magic number is null with a target but no won deal",
         [meeting(ago(hours=1), "booked", "first_appointment")],
         {"team:t1/7d": d(magic_number=NULL, activity_ratio=NULL, first_appointments_booked=1)},
         targets={"t1": 10_000.0}),
    Case("quotas: revenue won over the weekly quota prorated to each window",
         # r1: 7,000 a week -> 30,000 over 30d, 7,000 over 7d, 1,000 over 24h, 41.67 an hour
         [deal(ago(days=20), "d1", "won", amount=24_000), deal(ago(days=3), "d2", "won",
                                                               amount=3_500),
          deal(ago(minutes=30), "d3", "won", amount=50),
          ev("deal", ago(days=2), rep="r2", deal_id="d4", stage="won", amount=70_000),
          ev("deal", ago(days=2), rep="r3", deal_id="d5", stage="won", amount=9)],
         {"r1/30d": d(revenue_won=27_550, quota_attainment=27_550 / 30_000),
          "r1/7d": d(quota_attainment=3_550 / 7_000),
          "r1/24h": d(quota_attainment=50 / 1_000),
          "r1/1h": d(quota_attainment=50 / (7_000 / 168)),
          "r2/30d": d(quota_attainment=70_000 / 60_000),  # 14,000 a week: at quota
          "r3/30d": d(quota_attainment=NULL),  # no quota
          # reps with a quota: r1 (92%) and r2 (117%); r3 has none
          "team:t1/30d": d(reps_at_quota_ratio=0.5), "team:t1/1h": d(reps_at_quota_ratio=0.5)},
         quotas={"r1": 7_000.0, "r2": 14_000.0}),
    Case("quotas: no rep of the team has one",
         [deal(ago(days=1), "d1", "won", amount=10)],
         {"r1/30d": d(quota_attainment=NULL), "team:t1/30d": d(reps_at_quota_ratio=NULL)}),
    Case("team: a move takes the rep's whole history to the new team",
         [touch(ago(days=3)), touch(ago(days=2)), ev("nps", ago(hours=1), team="t2", score=9),
          touch(ago(days=1))],  # older than the move: the rep stays in t2
         {"r1/30d": d(team_id="t2", touches=3, nps_responses=1),
          "team:t2/30d": d(touches=3, nps_responses=1, prospects_touched=1)},
         counts=d(teams=["t2"])),
    Case("team: on a tie of occurred_at the greatest team_id wins, in either order",
         [touch(ago(hours=1), team="t2"), touch(ago(hours=1), team="t1"),
          ev("touch", ago(hours=1), rep="r2", team="t1", prospect_id="p1", channel="sms"),
          ev("touch", ago(hours=1), rep="r2", team="t2", prospect_id="p2", channel="sms")],
         {"r1/24h": d(team_id="t2"), "r2/24h": d(team_id="t2"),
          "team:t2/24h": d(touches=4, prospects_touched=3, touches_per_prospect=4 / 3)},
         counts=d(teams=["t2"])),
    Case("duplicates: same id and rep once; the same id from another rep is another event",
         [nps(ago(hours=1), 9, event_id="x"), nps(ago(hours=1), 9, event_id="x"),
          ev("nps", ago(hours=1), rep="r2", event_id="x", score=9)],
         {"r1/24h": d(nps_responses=1), "r2/24h": d(nps_responses=1)},
         counts=d(applied=2, duplicates=1)),
    Case("duplicates: remembered while occurred_at >= watermark - 24h (edge included)",
         [nps(ago(days=2), 9, event_id="x"), nps(ago(days=1), 9, event_id="y"),
          nps(ago(days=2), 9, event_id="x")],
         {"r1/7d": d(nps_responses=2)},
         counts=d(applied=2, duplicates=1)),
    Case("duplicates: forgotten 1 µs past the horizon, so the re-send is applied again",
         [nps(ago(days=2), 9, event_id="x"), nps(ago(days=1, microseconds=-1), 9, event_id="y"),
          nps(ago(days=2), 9, event_id="x")],
         {"r1/7d": d(nps_responses=3)},
         counts=d(applied=3, duplicates=0)),
    Case("duplicates: an id reused on another type is another event (README)",
         [touch(ago(hours=1), event_id="x"), nps(ago(hours=1), 9, event_id="x")],
         {"r1/24h": d(touches=1, nps_responses=1)},
         counts=d(applied=2, duplicates=0)),
    Case("duplicates: other reps and types do not move a rep's dedupe horizon",
         [nps(ago(days=3), 9, event_id="x"),
          ev("touch", ago(hours=1), rep="r2", prospect_id="p1", channel="sms"),
          touch(ago(hours=1)),
          nps(ago(days=3), 9, event_id="x")],  # r1's newest nps is still 3 days old
         {"r1/7d": d(nps_responses=1)},
         counts=d(applied=3, duplicates=1)),
    Case("duplicates: the horizon runs from the newest event of the same rep and type",
         [nps(ago(days=3), 9, event_id="x"), nps(ago(hours=1), 9, event_id="y"),
          nps(ago(days=3), 9, event_id="x")],  # 3 days behind r1's newest nps: forgotten
         {"r1/7d": d(nps_responses=3)},
         counts=d(applied=3, duplicates=0)),
    Case("duplicates: events at or after T are not remembered and move no horizon",
         [nps(ago(days=3), 9, event_id="x"), nps(ago(days=-1), 9, event_id="y"),
          nps(ago(days=3), 9, event_id="x")],
         {"r1/7d": d(nps_responses=1)},
         counts=d(applied=1, duplicates=1, after_as_of=1)),
    Case("late: older than watermark - 30d is dropped, exactly 30d is kept",
         [nps(ago(minutes=1), 9), nps(ago(days=30, minutes=1), 9),
          nps(ago(days=30, minutes=1, microseconds=1), 9)],
         {"r1/30d": d(nps_responses=1)},  # the 30d window starts at 11:00, 30 days back
         counts=d(applied=2, late=1)),
    Case("late: judged per stream; a stream read far ahead makes no other stream late",
         [touch(ago(minutes=1)), deal(ago(days=40), "d1", "opened"),
          nps(ago(days=40), 9), touch(ago(days=31))],  # only this touch is late
         {"r1/30d": d(touches=1)},
         counts=d(applied=3, late=1)),
    Case("late: the lateness check comes before dedupe",
         [nps(ago(hours=1), 9, event_id="x"), nps(ago(days=31), 9, event_id="x")],
         {"r1/30d": d(nps_responses=1)},
         counts=d(applied=1, late=1, duplicates=0)),
    Case("after as-of: not applied, but the watermark moves (later lines may be late)",
         [nps(ago(days=-31), 9), nps(T0, 9), nps(ago(hours=1), 9)],
         {}, counts=d(applied=0, late=1, after_as_of=2, teams=[])),
    Case("offsets: +02:00, -05:00 and a lowercase z all mean the same instants",
         [nps("2026-11-20T11:38:00+02:00", 9), nps("2026-11-20T04:38:00-05:00", 9),
          nps("2026-11-20t09:38:00z", 9), nps("2026-11-20T09:37:59.999999Z", 9)],
         {"r1/1h": d(nps_responses=3), "r1/24h": d(nps_responses=4)}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(tmp_path: Path, case: Case) -> None:
    doc = run(tmp_path, case.lines, case.as_of, case.targets, case.quotas)
    check(doc, case.expect)
    counts = dict(case.counts)
    if "teams" in counts:
        assert sorted({r["team_id"] for r in doc["teams"]}) == counts.pop("teams")
    for name, want in counts.items():
        assert doc["events"][name] == want, name
    t = None if case.as_of is None else parse_timestamp(case.as_of)
    want = ref.replay(case.lines, t, CLOCK, case.targets, quotas=case.quotas)
    assert ref.differences(doc, want) == []


def test_every_measure_and_kpi_has_a_golden_value() -> None:
    named = {name for case in CASES for values in case.expect.values() for name in values}
    missing = (set(ref.MEASURES) | set(ref.KPIS) | set(ref.TEAM_KPIS)
               | set(ref.REP_ONLY_KPIS)) - named
    assert not missing


# -- window edges ------------------------------------------------------------------------

EDGES = [
    # (occurred_at, as_of, window, counted)
    ("2026-11-20T09:38:00Z", T0, "1h", True),  # the window start: included
    ("2026-11-20T09:37:59.999999Z", T0, "1h", False),  # 1 µs before the start
    ("2026-11-20T11:38:00+02:00", T0, "1h", True),
    ("2026-11-20T04:37:59.999999-05:00", T0, "1h", False),
    ("2026-11-20T10:37:00Z", T0, "1h", True),  # start of the current partial bucket
    ("2026-11-20T10:00:00Z", T0, "1h", True),  # an hour bucket edge
    ("2026-11-20T10:37:19.999999Z", T0, "1h", True),  # 1 µs before T
    ("2026-11-20T10:37:20Z", T0, "30d", False),  # exactly T: excluded
    ("2026-11-20T05:37:20-05:00", T0, "30d", False),  # T spelled with an offset
    ("2026-11-19T11:00:00Z", T0, "24h", True),  # kpis.md: 24h covers [11:00 on D-1, T)
    ("2026-11-19T10:59:59.999999Z", T0, "24h", False),
    ("2026-11-19T13:00:00+02:00", T0, "24h", True),
    ("2026-11-13T11:00:00Z", T0, "7d", True),
    ("2026-11-13T10:59:59.999999Z", T0, "7d", False),
    ("2026-10-21T11:00:00Z", T0, "30d", True),
    ("2026-10-21T10:59:59.999999Z", T0, "30d", False),
    ("2026-10-21T06:00:00-05:00", T0, "30d", True),
    # T exactly on an hour edge: the partial bucket is empty, b = T
    ("2026-11-20T09:01:00Z", "2026-11-20T10:00:00Z", "1h", True),
    ("2026-11-20T09:00:59.999999Z", "2026-11-20T10:00:00Z", "1h", False),
    ("2026-11-20T09:59:59.999999Z", "2026-11-20T10:00:00Z", "1h", True),
    ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00Z", "30d", False),
    ("2026-11-19T11:00:00Z", "2026-11-20T10:00:00Z", "24h", True),
    ("2026-11-19T10:59:59.999999Z", "2026-11-20T10:00:00Z", "24h", False),
    # fractional T; fractions beyond microseconds are truncated
    ("2026-11-20T10:37:20.4999999Z", "2026-11-20T10:37:20.5Z", "1h", True),
    ("2026-11-20T10:37:20.500000999Z", "2026-11-20T10:37:20.5Z", "30d", False),
]


@pytest.mark.parametrize(("occurred_at", "as_of", "window", "counted"), EDGES)
def test_window_edge(tmp_path: Path, occurred_at: str, as_of: str, window: str,
                     counted: bool) -> None:
    doc = run(tmp_path, [nps(occurred_at, 9)], as_of)
    rows = [r for r in doc["reps"] if r["rep_id"] == "r1" and r["window"] == window]
    assert (rows[0]["measures"]["nps_responses"] if rows else 0) == int(counted)


# -- the worked example ------------------------------------------------------------------

EXTRA_MEASURES = {"first_appointments_booked"}
EXTRA_TEAM_KPIS = set(ref.TEAM_KPIS) | set(ref.REP_ONLY_KPIS)  # they need targets and quotas


def test_worked_example_every_value() -> None:
    expected_file = next(EXAMPLE.glob("expected-*.json"))
    as_of = expected_file.stem.removeprefix("expected-")
    want = orjson.loads(expected_file.read_bytes())
    result = replay(EXAMPLE / "events.jsonl", parse_timestamp(as_of), progress=False,
                    now_us=CLOCK)
    got = orjson.loads(to_json(result))
    for section in ("reps", "teams"):
        for row_ in got[section]:
            for name in EXTRA_MEASURES:
                row_["measures"].pop(name)
            for name in EXTRA_TEAM_KPIS & set(row_["kpis"]):
                row_["kpis"].pop(name)
    assert got["events"].pop("after_as_of") == 0
    assert sum(got["events"].pop("rejected").values()) == sum(
        want["events"].pop("rejected").values()) == 1
    assert ref.differences(got, want) == []


# -- one engine read again and again, as the live worker does -----------------------------


def busy_hour_then_more(t1: str) -> list[tuple[str, Any]]:
    """A read at T1, then a rep busy for over two hours (more than 120 minute buckets)."""
    steps: list[tuple[str, Any]] = [("offer", nps(ago(t1, minutes=30), 9)), ("read", t1)]
    steps += [("offer", nps(ago(t1, minutes=-k), 9)) for k in range(130)]
    return steps + [("read", ago(t1, minutes=-130, microseconds=-1))]


LIVE_READS = {
    "busy rep folds minutes of a window read before":
        busy_hour_then_more("2026-11-20T10:00:00Z"),
    "a daily sweep folds the minute of an event newer than the last read": [
        ("offer", deal("2026-10-11T00:00:00Z", "d1", "opened")),
        ("read", "2026-10-11T00:00:00.000001Z"),
        ("offer", deal("2026-10-12T03:00:00Z", "d1", "opened")),
        ("offer", touch("2026-10-11T03:00:00.000001Z")),
        ("read", "2026-10-19T00:00:00.000001Z"),
    ],
    "reads every minute across an hour edge": [
        ("offer", nps("2026-11-20T09:00:30Z", 9)), ("read", "2026-11-20T09:59:00Z"),
        ("read", "2026-11-20T10:00:00Z"), ("read", "2026-11-20T10:00:30Z"),
        ("read", "2026-11-20T10:01:00Z"), ("read", "2026-11-20T10:01:00.000001Z"),
        ("offer", nps("2026-11-20T10:01:00Z", 9)), ("read", "2026-11-21T09:01:00Z"),
        ("read", "2026-11-21T10:00:59.999999Z"), ("read", "2026-11-21T10:01:00Z"),
    ],
}


@pytest.mark.parametrize("steps", LIVE_READS.values(), ids=LIVE_READS.keys())
def test_live_reads(steps: list[tuple[str, Any]]) -> None:
    engine, fed = Engine(), []
    for action, arg in steps:
        if action == "offer":
            fed.append(arg)
            engine.offer(parse_event(arg))
            continue
        t = parse_timestamp(arg)
        got = orjson.loads(to_json(ReplayResult(take_snapshot(engine, t), engine, 0)))
        assert ref.differences(got, ref.replay(fed, t)) == [], f"read at {arg}"


# -- float sums read incrementally --------------------------------------------------------


def test_revenue_leaving_a_window_reads_exactly_zero() -> None:
    """Running window totals must not drift: nothing won in the window means 0 revenue."""
    engine = Engine()
    for i, (at, amount) in enumerate((("2026-11-20T08:30:00Z", 1_000_000.5),
                                      ("2026-11-20T09:30:00Z", 0.1))):
        engine.offer(parse_event(deal(at, f"d{i}", "won", amount=amount)))
    t = parse_timestamp("2026-11-20T10:00:00Z")
    for hours in (0, 23, 24, 47):
        snap = take_snapshot(engine, t + hours * ref.HOUR)
        doc = orjson.loads(to_json(ReplayResult(snap, engine, 0)))
        revenue = {r["window"]: r["measures"]["revenue_won"] for r in doc["reps"]}
        won = {r["window"]: r["measures"]["deals_won"] for r in doc["reps"]}
        for window, value in revenue.items():
            if won[window] == 0:
                assert value == 0, (hours, window, value)
            else:
                assert value == pytest.approx(1_000_000.6 if won[window] == 2 else 0.1,
                                              rel=1e-9, abs=0)


def test_revenue_is_the_exact_sum_of_amounts() -> None:
    """README: amounts are summed exactly in integer millionths, in any order."""
    engine = Engine()
    amounts = (0.1, 0.2, 1234567.891011, 0.000001, 1e12)
    for i, amount in enumerate(amounts):
        engine.offer(parse_event(deal("2026-11-20T09:30:00Z", f"d{i}", "won", amount=amount)))
    snap = take_snapshot(engine, parse_timestamp(T0))
    doc = orjson.loads(to_json(ReplayResult(snap, engine, 0)))
    assert row(doc, "r1/24h")["revenue_won"] == 1_000_001_234_568.191012  # not ...0.30000000004
