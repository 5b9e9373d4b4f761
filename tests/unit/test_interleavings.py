"""Property test of events.md "Streams, order and delivery": for random event sets, every
interleaving that keeps each stream (one rep's events of one type) in order gives the same
replay document (every measure and KPI of every window, at random as-of instants, and the
event counts), which also equals the brute-force reference.

Deal retention is the smallest allowed (~31 days), so within the ~40 days of events deals
are forgotten and touches fall out of reach of later wins: the time relations that make
those rules order-free are exercised, not only the easy case.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.engine import EngineConfig
from streams.events import Rejected, parse_event
from streams.replay import replay, to_json
from tests.unit import reference as ref
from tests.unit.test_reference_property import (
    FAR_FUTURE,
    PHASES,
    QUOTAS,
    SCALE,
    TARGETS,
    assert_same,
    pick_as_of,
    scenario,
    valid_events,
)

CONFIG = EngineConfig(team_targets=dict(TARGETS), quotas=dict(QUOTAS),
                      deal_retention_us=EngineConfig().min_deal_retention_us)
TOPIC_ORDER = ("deal", "nps", "meeting", "reply", "touch")  # a backfill, deals first
EXAMPLES = 300 * SCALE


def streams(lines: list[bytes]) -> dict[Any, list[bytes]]:
    """Lines by stream, each in file order; lines that are no valid event form one more
    "stream" of their own (they are only counted, wherever they come)."""
    out: dict[Any, list[bytes]] = defaultdict(list)
    for line in lines:
        try:
            event = parse_event(line, now_us=FAR_FUTURE)
        except Rejected:
            out["rejected"].append(line)
            continue
        out[(event.type, event.rep_id)].append(line)
    return out


def topic_by_topic(by_stream: dict[Any, list[bytes]], order: tuple[str, ...]) -> list[bytes]:
    """Each topic drained before the next, as a backfill produced topic by topic reads."""
    rank = {kind: n for n, kind in enumerate(order)}
    keys = sorted(by_stream, key=lambda k: (-1, "") if k == "rejected" else (rank[k[0]], k[1]))
    return [line for key in keys for line in by_stream[key]]


def merged(by_stream: dict[Any, list[bytes]], picks: list[int]) -> list[bytes]:
    """A random merge: at each step the next line of a stream chosen by `picks`."""
    queues = [list(reversed(lines)) for lines in by_stream.values()]
    out: list[bytes] = []
    for choice in picks:
        live = [q for q in queues if q]
        if not live:
            break
        out.append(live[choice % len(live)].pop())
    return out + [line for q in queues for line in reversed(q)]


def with_ties(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    """Events of other types and teams at the very instant of a rep's latest event, so
    the rep's team is decided by a tie of occurred_at."""
    events = valid_events(lines)
    if not events or not draw(st.booleans()):
        return lines
    latest = max(events, key=lambda e: e.ts)
    extra = []
    for n, (kind, team) in enumerate(draw(st.lists(st.sampled_from(
            [("nps", "t1"), ("nps", "t3"), ("meeting", "t2"), ("meeting", "t0")]),
            min_size=1, max_size=3))):
        body = {"event_id": f"tie{n}", "type": kind, "rep_id": latest.rep_id,
                "team_id": team, "occurred_at": ref.format_instant(latest.ts)}
        body |= {"score": 9} if kind == "nps" else {"meeting_id": "m", "status": "held",
                                                    "kind": "demo"}
        extra.append(orjson.dumps(body))
    return lines + extra


def document(path: Path, lines: list[bytes], as_of: int | None) -> dict[str, Any]:
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = replay(path, as_of, CONFIG, progress=False, now_us=FAR_FUTURE)
    return orjson.loads(to_json(result))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("interleavings") / "events.jsonl"


@settings(max_examples=EXAMPLES, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_stream_order_preserving_interleaving_gives_the_same_result(
        events_file: Path, data: st.DataObject) -> None:
    lines, t = data.draw(scenario())
    lines = with_ties(data.draw, lines)
    as_of = pick_as_of(data.draw, lines, t)
    if as_of is None and not valid_events(lines):
        as_of = t  # without events T would default to the wall clock
    by_stream = streams(lines)
    orders = {
        "file": lines,
        "deals first, touches last": topic_by_topic(by_stream, TOPIC_ORDER),
        "touches first, deals last": topic_by_topic(by_stream, TOPIC_ORDER[::-1]),
        "random merge": merged(by_stream, data.draw(st.lists(st.integers(0, 50),
                                                             max_size=len(lines)))),
    }
    want = document(events_file, lines, as_of)
    for name, order in orders.items():
        assert sorted(order) == sorted(lines), name
        got = document(events_file, order, as_of)
        assert got == want, f"{name} differs: {ref.differences(got, want)[:20]}"
    assert_same(want, ref.replay(lines, as_of, now_us=FAR_FUTURE, targets=TARGETS, quotas=QUOTAS,
                                 deal_retention=CONFIG.deal_retention_us))
