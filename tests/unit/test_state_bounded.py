"""60 days of events: engine state stays within the retention horizon, 30d reads stay exact."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.engine import Engine, EngineConfig, take_snapshot
from streams.events import parse_event
from streams.replay import ReplayResult, to_json
from tests.unit import reference as ref

US, MINUTE, HOUR, DAY = ref.US, ref.MINUTE, ref.HOUR, ref.DAY
START = 1_790_812_800 * US  # 2026-10-01T00:00:00Z
DAYS = 60
SLOT = 10 * MINUTE  # one event per rep every ten minutes
DEAL_SLOTS = 2 * DAY // SLOT  # one deal per rep every two days, opened then won
REPS = ("r1", "r2", "r3")
RETENTION = EngineConfig().retention_us  # 30d + max skew + 1h
DEAL_RETENTION = EngineConfig().min_deal_retention_us  # so that deals expire too
SWEEP = DAY  # state past the retention goes at the next daily sweep


def body(rep: str, i: int) -> dict[str, Any]:
    """The i-th event of a rep: every type, fresh prospects each day, a deal every 2 days."""
    ts = START + i * SLOT + REPS.index(rep) * US
    day, deal_no, in_deal = i * SLOT // DAY, i // DEAL_SLOTS, i % DEAL_SLOTS
    common = {"event_id": f"{rep}-{i}", "occurred_at": ref.format_instant(ts), "rep_id": rep,
              "team_id": "t1" if rep != "r3" else "t2"}
    prospect = f"p{day}-{i % 7}"
    match i % 5:
        case 0:
            return common | {"type": "touch", "prospect_id": prospect, "channel": "call",
                             "outcome": "connected", "deal_id": f"d{deal_no}"}
        case 1:
            return common | {"type": "reply", "prospect_id": prospect, "channel": "email",
                             "sentiment": ("positive", "negative", "neutral")[i % 3]}
        case 2:
            return common | {"type": "meeting", "meeting_id": f"m{i}",
                             "status": ("booked", "held")[i % 2], "kind": "first_appointment"}
        case 3 if in_deal < 5:
            return common | {"type": "deal", "deal_id": f"d{deal_no}", "stage": "opened"}
        case 3 if in_deal >= DEAL_SLOTS - 5:
            return common | {"type": "deal", "deal_id": f"d{deal_no}", "stage": "won",
                             "amount": 1000 + deal_no}
        case _:
            return common | {"type": "nps", "score": i % 11}


def stream() -> list[bytes]:
    """In time order, with a re-sent event every 50 and a 10-days-late event every 97."""
    lines = []
    for i in range(DAYS * DAY // SLOT):
        for rep in REPS:
            lines.append(orjson.dumps(body(rep, i)))
            if i % 50 == 49:
                lines.append(orjson.dumps(body(rep, i - 12)))  # sent again 2 hours later
            if i % 97 == 96:
                late = body(rep, i - 10 * DAY // SLOT) | {"event_id": f"{rep}-late-{i}",
                                                          "type": "nps", "score": 9}
                lines.append(orjson.dumps(late))
    return lines


@pytest.fixture(scope="module")
def fed() -> tuple[Engine, list[bytes], int]:
    lines = stream()
    engine = Engine(EngineConfig(deal_retention_us=DEAL_RETENTION))
    for line in lines:
        engine.offer(parse_event(line))
    assert engine.newest_applied is not None
    return engine, lines, engine.newest_applied


def test_the_stream_is_what_it_claims(fed: tuple[Engine, list[bytes], int]) -> None:
    engine, _, newest = fed
    assert newest - START >= (DAYS - 1) * DAY
    assert engine.counts.duplicates == 3 * (DAYS * DAY // SLOT // 50)
    assert engine.counts.late == 0


@pytest.mark.parametrize("rep_id", REPS)
def test_state_covers_only_the_retention_horizon(fed: tuple[Engine, list[bytes], int],
                                                 rep_id: str) -> None:
    engine, lines, newest = fed
    take_snapshot(engine, newest + 1)  # a read also expires what is due
    rep = engine.reps[rep_id]
    assert len(rep.minutes) <= 2 * 60 + 1  # the 1h window, the skew and some slack
    assert len(rep.hours) <= (RETENTION + SWEEP) // HOUR + 2
    assert min(rep.hours) >= (newest - RETENTION - SWEEP) // HOUR
    days_kept = (RETENTION + SWEEP) // DAY + 2
    assert len(rep.prospects) <= 7 * days_kept  # seven new prospects a day
    deal_days = (DEAL_RETENTION + SWEEP) // DAY + 2
    assert len(rep.deals) <= deal_days // 2 + 1  # a deal every two days
    assert len(rep.deal_touches) <= (deal_days + RETENTION // DAY) // 2 + 1
    remembered = sum(len(getattr(ids, "ids", ids)) for ids in rep.seen.values())
    recent = sum(1 for line in lines if (e := parse_event(line)).rep_id == rep_id
                 and e.ts >= newest - 2 * ref.DEDUPE_HORIZON - HOUR)
    assert remembered <= recent


def test_reads_after_60_days_match_the_reference(fed: tuple[Engine, list[bytes], int]) -> None:
    engine, lines, newest = fed
    as_of = newest + 1
    got = orjson.loads(to_json(ReplayResult(take_snapshot(engine, as_of), engine, 0)))
    want = ref.replay(lines, as_of, deal_retention=DEAL_RETENTION)
    assert ref.differences(got, want) == []
    r1 = next(r["measures"] for r in got["reps"] if (r["rep_id"], r["window"]) == ("r1", "30d"))
    assert r1["deals_won_with_cycle"] >= 14 and r1["prospects_replied"] > 0  # not vacuous
