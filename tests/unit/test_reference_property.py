"""Property tests: the engine (replay, repeated and live reads) equals the brute-force reference.

State expiry: the engine forgets buckets and prospects older than its retention (30d + 5 min
+ 1 h behind the newest applied event, swept daily), which can never change a window
(everything expired lies before every window's start), and deals by the retention rule
the reference implements too (engine/deals.py), so events span the full ~40 days.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from streams.engine import Engine, EngineConfig, take_snapshot
from streams.events import Rejected, parse_event
from streams.replay import ReplayResult, replay, to_json
from tests.unit import reference as ref

US, MINUTE, HOUR, DAY = ref.US, ref.MINUTE, ref.HOUR, ref.DAY
BASE = 1_790_812_800 * US  # 2026-10-01T00:00:00Z
SPAN = 40 * DAY
FAR_FUTURE = BASE + 3650 * DAY  # the processing clock: nothing is a future_timestamp
SCALE = int(os.environ.get("PROPERTY_SCALE", "1"))  # more examples for a long bug hunt
# Shrinking these scenarios can take minutes: only a bug hunt (PROPERTY_SCALE > 1) shrinks.
PHASES = tuple(Phase) if SCALE > 1 else (Phase.explicit, Phase.reuse, Phase.generate)

REPS = ("r1", "r2", "r3")
TEAMS = ("t1", "t2", "t3")
PROSPECTS = ("p1", "p2", "p3", "p4")
DEALS = ("d1", "d2", "d3")
TARGETS = {"t1": 10_000.0, "t2": 123.45}  # t3 has none: its team KPIs stay null
QUOTAS = {"r1": 700.0, "r2": 12_345.0}  # r3 has none: its quota attainment stays null
CHANNELS = ("email", "call", "video", "social", "sms", "in_person")
OFFSETS = (None, "z", 0, 120, -300, 330, -570)  # None: "Z", "z": lowercase, else minutes
AMOUNTS = (4200, 1, 0.1, 19.99, 0, 123_456.78, 1_000_000.5)


# -- timestamps -------------------------------------------------------------------------


def rfc3339(ts: int, offset: Any, digits: int, sep: str = "T") -> str:
    """Write `ts` (µs) with the given offset and fraction digits (7-9 digits pad noise)."""
    minutes = 0 if offset in (None, "z") else offset
    local = datetime(1970, 1, 1) + timedelta(microseconds=ts + minutes * MINUTE)
    text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    micros = ts % US
    if digits:
        text += "." + f"{micros:06d}{'987'[: max(digits - 6, 0)]}"[:digits]
    if offset is None:
        return text + "Z"
    if offset == "z":
        return text + "z"
    sign = "+" if minutes >= 0 else "-"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


INDEX = st.integers(0, 2**16)  # picks from a list built at run time (cheaper than a
# fresh sampled_from per draw, which hypothesis validates anew each time)


def pick(draw: st.DrawFn, seq: Any) -> Any:
    return seq[draw(INDEX) % len(seq)]


def occurred_at(draw: st.DrawFn, ts: int) -> str:
    """A random spelling of `ts` that still parses to exactly `ts`."""
    micros = ts % US
    need = 0 if micros == 0 else 3 if micros % 1000 == 0 else 6
    digits = pick(draw, [d for d in (0, 1, 3, 6, 9) if d >= need])
    if digits == 1 and micros % 100_000:
        digits = 6
    return rfc3339(ts, pick(draw, OFFSETS), digits, pick(draw, "TTTt "))


def edges(t: int) -> list[int]:
    """Instants that sit on window boundaries when the windows are read as of t."""
    out = [t, t - 1, t + 1, t // MINUTE * MINUTE, t // HOUR * HOUR]
    for _, length, step in ref.WINDOWS:
        start = ref.window_start(t, length, step)
        out += [start, start - 1, start + 1]
    return out


def clamp(ts: int, low: int = BASE) -> int:
    return min(max(ts, low), BASE + SPAN)


# -- events -----------------------------------------------------------------------------

KINDS = ("touch", "reply", "meeting", "deal", "nps")
ENUMS = {  # repeated values are drawn more often
    "outcome": ("connected", "no_answer", "voicemail", "busy"),
    "value_message": (True, False, None),
    "sentiment": ("positive", "negative", "neutral"),
    "status": ("booked", "booked", "held", "held", "no_show", "canceled"),
    "kind": ("first_appointment", "first_appointment", "demo", "site_visit", "survey",
             "proposal", "follow_up"),
    "stage": ("opened", "opened", "proposal", "won", "won", "lost"),
}
COIN = st.booleans()
SMALL = st.integers(0, 10)
NEAR = st.integers(-2 * HOUR, 2 * HOUR)
NEAR_MINUTES = st.integers(-200, 200)
ANYWHERE_HOURS = st.integers(0, SPAN // HOUR)
ANYWHERE = st.integers(0, SPAN)
RECENT = st.integers(0, 8 * DAY)
PROFILE = st.fixed_dictionaries({
    "reps": st.lists(st.sampled_from(REPS), min_size=1, max_size=3, unique=True),
    "kinds": st.one_of(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
                       st.sampled_from([("touch", "deal"), ("touch", "deal", "meeting"),
                                        ("meeting", "deal", "meeting", "deal", "reply")])),
    "recent": st.sampled_from([0, 5, 9]),  # in tenths: how many events fall in t - 8d .. t
})


def event_fields(draw: st.DrawFn, kind: str, ts: int) -> dict[str, Any]:
    """The type-specific fields of a valid event, every enum value reachable."""
    f: dict[str, Any] = {}
    if kind in ("touch", "reply"):
        f["prospect_id"], f["channel"] = pick(draw, PROSPECTS), pick(draw, CHANNELS)
    if kind == "touch":
        if draw(COIN):
            f["outcome"] = pick(draw, ENUMS["outcome"])
        if draw(COIN):
            f["value_message"] = pick(draw, ENUMS["value_message"])
        if draw(SMALL) > 3:
            f["deal_id"] = pick(draw, DEALS)
    elif kind == "reply":
        f["sentiment"] = pick(draw, ENUMS["sentiment"])
        if draw(COIN):
            f["touch_id"] = "t-x"
    elif kind == "meeting":
        f["meeting_id"] = pick(draw, ("m1", "m2"))
        f["status"], f["kind"] = pick(draw, ENUMS["status"]), pick(draw, ENUMS["kind"])
    elif kind == "deal":
        f["deal_id"], f["stage"] = pick(draw, DEALS), pick(draw, ENUMS["stage"])
        if f["stage"] == "won" or draw(COIN):
            f["amount"] = pick(draw, AMOUNTS)
    else:
        f["score"] = draw(SMALL)
    return f


def event_time(draw: st.DrawFn, t: int, near_edges: list[int], recent: int) -> int:
    """On a window edge, near t, on a minute or hour, or anywhere in the span."""
    if draw(SMALL) < recent:
        return t - draw(RECENT)
    match draw(SMALL) % 5:
        case 0:
            return int(pick(draw, near_edges))
        case 1:
            return t + draw(NEAR)
        case 2:
            return t // MINUTE * MINUTE + draw(NEAR_MINUTES) * MINUTE
        case 3:
            return BASE + draw(ANYWHERE_HOURS) * HOUR
        case _:
            return BASE + draw(ANYWHERE)


def event(draw: st.DrawFn, number: int, t: int, near_edges: list[int],
          mix: dict[str, Any]) -> dict[str, Any]:
    kind = pick(draw, mix["kinds"])
    ts = clamp(event_time(draw, t, near_edges, mix["recent"]))
    rep = pick(draw, mix["reps"])
    home = TEAMS[REPS.index(rep) % 2]  # mostly a home team, sometimes a move
    body: dict[str, Any] = {
        "event_id": f"e{number}", "type": kind, "occurred_at": ts, "rep_id": rep,
        "team_id": pick(draw, (home, home, home, home, "t3", TEAMS[0], TEAMS[1])),
    }
    body |= event_fields(draw, kind, ts)
    if draw(SMALL) == 0:
        body |= {"region": "eu", "account_id": "acc-9", "unknown": {"nested": [1, 2]}}
    return body


def variants(draw: st.DrawFn, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Re-sent events: exact copies, the same id from another rep, or at another time."""
    out = []
    for _ in range(min(draw(SMALL) % 7, len(bodies))):
        copy = dict(pick(draw, bodies))
        how = pick(draw, ("same", "same", "other_rep", "later", "earlier"))
        if how == "other_rep":
            copy["rep_id"] = pick(draw, REPS)
        elif how in ("later", "earlier"):
            delta = pick(draw, (1, HOUR, DAY - 1, DAY, DAY + 1, 3 * DAY))
            copy["occurred_at"] = clamp(copy["occurred_at"] + (delta if how == "later"
                                                               else -delta))
        out.append(copy)
    return out


def burst(draw: st.DrawFn, first: int, t: int, mix: dict[str, Any]) -> list[dict[str, Any]]:
    """A busy rep: one touch a minute for over two hours (many minute buckets at once)."""
    start = t - draw(NEAR_MINUTES) % 240 * MINUTE
    rep, second = pick(draw, mix["reps"]), draw(INDEX) % 60 * US
    return [{"event_id": f"b{first + k}", "type": "touch", "rep_id": rep,
             "team_id": TEAMS[REPS.index(rep) % 2], "prospect_id": PROSPECTS[k % 4],
             "channel": "call", "occurred_at": clamp(start + k * MINUTE + second)}
            for k in range(100 + draw(INDEX) % 51)]


BAD_LINES = (b"not json", b"[1, 2]", b'{"type": "touch"}',
             b'{"event_id":"x","type":"nps","occurred_at":"2026-10-10T00:00:00",'
             b'"rep_id":"r1","team_id":"t1","score":5}',
             b'{"event_id":"x","type":"touch","occurred_at":"2026-10-10T00:00:00Z",'
             b'"rep_id":"r1","team_id":"t1","prospect_id":"p1","channel":"fax"}')


T = st.integers(BASE + DAY, BASE + SPAN)
EVENT_COUNT = st.integers(0, 40)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[bytes], int]:
    """(JSON lines in file order, the instant t the event times cluster around)."""
    t = draw(T)
    t = pick(draw, (t, t // MINUTE * MINUTE, t // HOUR * HOUR))
    mix, near_edges = draw(PROFILE), edges(t)
    bodies = [event(draw, i, t, near_edges, mix) for i in range(draw(EVENT_COUNT))]
    if draw(SMALL) < 3:
        bodies += burst(draw, len(bodies), t, mix)
    bodies += variants(draw, bodies)
    order = sorted(range(len(bodies)), key=lambda i: (draw(INDEX), i))  # a shuffle
    lines = []
    for body in (bodies[i] for i in order):
        text = dict(body, occurred_at=occurred_at(draw, body["occurred_at"]))
        if draw(SMALL) == 0:
            del text["type"]  # files need the type: rejected as missing_field
        lines.append(orjson.dumps(text))
    for _ in range(draw(SMALL) % 3):
        lines.insert(draw(INDEX) % (len(lines) + 1), pick(draw, BAD_LINES))
    return lines, t


def pick_as_of(draw: st.DrawFn, lines: list[bytes], t: int) -> int | None:
    """T: t itself, an event's exact time, a bucket edge near it, or none (the default)."""
    times = [e.ts for e in valid_events(lines)]
    match draw(SMALL) % 4:
        case 0:
            return t
        case 1:
            return int(pick(draw, edges(t)))
        case 2 if times:
            return int(pick(draw, times))
        case _:
            return None


def valid_events(lines: list[bytes]) -> list[Any]:
    out = []
    for line in lines:
        with contextlib.suppress(Rejected):
            out.append(parse_event(line, now_us=FAR_FUTURE))
    return out


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    diffs = ref.differences(got, want)
    if diffs:
        reps = [(r["rep_id"], r["window"]) for r in got.get("reps", [])]
        want_reps = [(r["rep_id"], r["window"]) for r in want.get("reps", [])]
        pytest.fail(f"{len(diffs)} differences (rows {reps} vs {want_reps}):\n"
                    + "\n".join(diffs[:40]))


# -- the properties ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replay") / "events.jsonl"


@settings(max_examples=400 * SCALE, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_replay_equals_reference(events_file: Path, data: st.DataObject) -> None:
    lines, t = data.draw(scenario())
    as_of = pick_as_of(data.draw, lines, t)
    if as_of is None and not valid_events(lines):
        as_of = t  # without events T would default to the wall clock
    events_file.write_bytes(b"\n".join(lines) + b"\n")
    config = EngineConfig(team_targets=dict(TARGETS), quotas=dict(QUOTAS))
    result = replay(events_file, as_of, config, progress=False, now_us=FAR_FUTURE)
    want = ref.replay(lines, as_of, now_us=FAR_FUTURE, targets=TARGETS, quotas=QUOTAS)
    assert_same(orjson.loads(to_json(result)), want)


def engine_document(engine: Engine, as_of: int) -> dict[str, Any]:
    doc = orjson.loads(to_json(ReplayResult(take_snapshot(engine, as_of), engine, 0)))
    return doc  # type: ignore[no-any-return]


@settings(max_examples=250 * SCALE, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_incremental_reads_equal_reference(data: st.DataObject) -> None:
    """One engine read at increasing T, with more events (all before the first T) between."""
    lines, t = data.draw(scenario())
    first = data.draw(st.sampled_from(edges(t)))
    lines = [line for line in lines
             if not (e := valid_events([line])) or e[0].ts < first]
    steps = data.draw(st.lists(st.sampled_from(
        [1, MINUTE - 1, MINUTE, 7 * MINUTE, HOUR - 1, HOUR, 5 * HOUR, DAY, 8 * DAY, 31 * DAY]),
        min_size=1, max_size=5))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(lines)), min_size=len(steps),
                                     max_size=len(steps))))
    engine = Engine(EngineConfig(team_targets=dict(TARGETS), quotas=dict(QUOTAS)))
    fed, as_of = 0, first
    for step, cut in zip(steps, cuts, strict=True):
        for line in lines[fed:cut]:
            try:
                engine.offer(parse_event(line, now_us=FAR_FUTURE))
            except Rejected as exc:
                engine.reject(exc.reason)
        fed = cut
        want = ref.replay(lines[:fed], as_of, now_us=FAR_FUTURE, targets=TARGETS, quotas=QUOTAS)
        assert_same(engine_document(engine, as_of), want)
        as_of += step


@settings(max_examples=250 * SCALE, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_live_reads_equal_reference(data: st.DataObject) -> None:
    """The live worker's pattern: read at T1, take a batch of events stamped before T2, read
    at T2, ..."""
    lines, t = data.draw(scenario())
    reads = [data.draw(st.sampled_from(edges(t - 3 * HOUR)))]
    for step in data.draw(st.lists(st.sampled_from(
            [1, MINUTE, 7 * MINUTE, HOUR - 1, HOUR, 3 * HOUR, DAY, 8 * DAY]),
            min_size=1, max_size=6)):
        reads.append(reads[-1] + step)
    times = [e[0].ts if (e := valid_events([line])) else -1 for line in lines]
    engine = Engine(EngineConfig(team_targets=dict(TARGETS), quotas=dict(QUOTAS)))
    fed: list[bytes] = []
    for low, as_of in zip([-2, *reads], reads, strict=False):
        batch = []  # the worker takes a fetch rep by rep
        for line, ts in zip(lines, times, strict=True):
            if low <= ts < as_of or (ts == -1 and low == -2):
                fed.append(line)
                try:
                    event = parse_event(line, now_us=FAR_FUTURE)
                except Rejected as exc:
                    engine.reject(exc.reason)
                    continue
                batch.append(event)
        engine.take_many(batch)
        want = ref.replay(fed, as_of, now_us=FAR_FUTURE, targets=TARGETS, quotas=QUOTAS)
        assert_same(engine_document(engine, as_of), want)
