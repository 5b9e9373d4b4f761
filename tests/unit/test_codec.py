"""Changelog round trip: state rebuilt from the dirty units equals the live state."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.dev.generator import Generator, spaced, stream
from streams.engine import (
    APPLIED,
    DUPLICATE,
    Engine,
    EngineConfig,
    RepState,
    take_snapshot,
    upgrade,
)
from streams.engine.codec import (
    FORMAT,
    NewerFormat,
    decode_key,
    dedupe_slots,
    dirty_entries,
    encode_key,
    load_reps,
    record_format,
)
from streams.engine.cohorts import prospect_time
from streams.events import Event, format_timestamp, parse_event
from tests.support.formats import format_1_lines, format_1_records, later_lines

HOUR_US = 3_600_000_000
START = 1_795_000_000_000_000


def _engine_fed(count: int, flush_every: int, now_us: int | None = None
                ) -> tuple[Engine, dict[bytes, bytes | None]]:
    """An engine fed generated events, and the changelog it wrote (latest value per key)."""
    engine = Engine(EngineConfig(track_dirty=True))
    changelog: dict[bytes, bytes | None] = {}
    gen = Generator(reps=6, teams=2, seed=5)
    for n, (_, raw) in enumerate(stream(gen, spaced(START, 90_000_000, count, seed=2),
                                        0, 0.05), 1):
        engine.offer(parse_event(raw), now_us)
        if n % flush_every == 0:
            for rep in engine.reps.values():
                changelog.update(dirty_entries(rep))
    for rep in engine.reps.values():
        changelog.update(dirty_entries(rep))
    return engine, changelog


@pytest.mark.parametrize("flush_every", [1, 97, 10_000])
def test_recovered_state_reads_like_the_live_state(flush_every: int) -> None:
    # ~50 days of events: buckets fold, prospects and deals expire, dedupe hours roll.
    live, changelog = _engine_fed(48_000, flush_every)
    recovered = Engine(EngineConfig(track_dirty=True))
    recovered.reps = load_reps((k, v, FORMAT) for k, v in changelog.items() if v is not None)
    recovered.newest_applied = live.newest_applied
    for later in (1, HOUR_US // 2, HOUR_US):  # the 1h window reads the recovered minutes
        as_of = live.newest_applied + later  # type: ignore[operator]
        assert take_snapshot(recovered, as_of) == take_snapshot(live, as_of)
    horizon = live.config.dedupe_horizon_us
    for rep_id, rep in live.reps.items():
        again = recovered.reps[rep_id]
        assert _remembered(again, horizon) == _remembered(rep, horizon)
        keep = live.newest_applied - live.config.retention_us  # type: ignore[operator]
        assert _live(again.prospects, keep) == _live(rep.prospects, keep)
        assert again.deals == rep.deals
        assert again.deal_touches == rep.deal_touches
        assert again.marks == rep.marks


def _live(prospects: dict[str, Any], keep: int) -> dict[str, Any]:
    """Prospects within the retention (older ones may linger until the daily sweep)."""
    return {p: r for p, r in prospects.items() if prospect_time(r) >= keep}


def _remembered(rep: RepState, horizon: int) -> dict[str, set[str]]:
    """The ids that still count as duplicates (expired ones may linger until a sweep)."""
    return {kind: {i for i in seen.ids if seen.is_duplicate(i, horizon)}
            for kind, seen in rep.seen.items()}


def test_expired_units_become_tombstones() -> None:
    live, changelog = _engine_fed(48_000, 500)
    tombstones = [decode_key(k)[1][0] for k, v in changelog.items() if v is None]
    assert {"h", "x"} <= set(tombstones)  # expired hours, prospects
    assert len(changelog) - len(tombstones) < 48_000  # live units stay bounded


def test_dedupe_hours_reuse_a_bounded_set_of_keys() -> None:
    """A dedupe hour past the horizon gets no tombstones: a later hour's chunks overwrite
    its keys, so ~50 days of 6 reps leave a few slots' worth of keys, not one per hour."""
    live, changelog = _engine_fed(48_000, 500)
    slots = dedupe_slots(live.config.dedupe_horizon_us)
    dedupe = {k: v for k, v in changelog.items() if decode_key(k)[1][0] == "e"}
    assert None not in dedupe.values()
    units = [decode_key(k)[1] for k in dedupe]
    assert {unit[2] for unit in units} <= set(range(slots))
    assert len(units) <= 6 * 5 * slots * 2  # reps x types x slots x ~1-2 chunks per hour


def _touch(event_id: str, at_us: int) -> Event:
    return parse_event(orjson.dumps({
        "event_id": event_id, "type": "touch", "occurred_at": format_timestamp(at_us),
        "rep_id": "r", "team_id": "t", "prospect_id": "p", "channel": "call"}))


def test_a_reused_dedupe_slot_answers_like_the_live_engine() -> None:
    """An hour with five chunks, then an hour one slot cycle later with one: its chunk 0
    overwrites the old hour's, chunks 1-4 stay behind, stale. Recovered, re-sends get the
    live engine's answers: the old hour's ids are past the horizon, the new one is not."""
    live, changelog = Engine(EngineConfig(track_dirty=True)), {}
    slots = dedupe_slots(live.config.dedupe_horizon_us)
    for at, event_id in [(START + n * 60_000_000, f"old-{n}") for n in range(5)] + [
            (START + slots * HOUR_US, "new-0")]:
        live.offer(_touch(event_id, at))
        changelog.update(dirty_entries(live.reps["r"]))
    assert [k for k in changelog if decode_key(k)[1][:1] == ("e",) and decode_key(k)[1][3] == 4]
    recovered = Engine(EngineConfig(track_dirty=True))
    recovered.reps = load_reps((k, v, FORMAT) for k, v in changelog.items() if v is not None)
    recovered.newest_applied = live.newest_applied
    later = START + slots * HOUR_US + 1_000_000
    answers = [(e.offer(_touch("old-0", later)), e.offer(_touch("new-0", later)))
               for e in (live, recovered)]
    assert answers == [(APPLIED, DUPLICATE)] * 2


def test_pending_events_survive_a_restart() -> None:
    engine = Engine(EngineConfig(track_dirty=True))
    raw = orjson.dumps({"event_id": "f1", "type": "touch", "occurred_at":
                        "2026-11-20T10:00:30Z", "rep_id": "r", "team_id": "t",
                        "prospect_id": "p", "channel": "call"})
    event = parse_event(raw)
    engine.offer(event, now_us=event.ts - 10_000_000)  # 10 s in the worker's future
    changelog = dict(dirty_entries(engine.reps["r"]))
    recovered = Engine()
    recovered.reps = load_reps((k, v, FORMAT) for k, v in changelog.items() if v is not None)
    row = take_snapshot(recovered, event.ts + 1).reps[0]
    assert row.measures()["touches"] == 1


@pytest.mark.parametrize("rep_id", ["r-1", 'quote"back\\slash', "new\nline", "\x00nul", "ü-日本"])
def test_keys_hold_any_rep_id(rep_id: str) -> None:
    assert decode_key(encode_key(rep_id, ("x", "p\x00q"))) == (rep_id, ("x", "p\x00q"))


def test_each_event_id_is_written_once() -> None:
    """Dedupe hours grow by chunks: flushing after every event must not rewrite old ids
    (a busy rep's hour would otherwise cost its whole id list at every flush)."""
    engine = Engine(EngineConfig(track_dirty=True))
    written = 0
    gen = Generator(reps=3, teams=1, seed=9)
    for _, raw in stream(gen, spaced(START, 2_000_000, 5000, seed=3), 0, 0.05):
        engine.offer(parse_event(raw))
        for rep in engine.reps.values():
            for key, value in dirty_entries(rep):
                if decode_key(key)[1][0] == "e" and value is not None:
                    written += len(orjson.loads(value)[1])  # [hour, ids]
    assert written == engine.counts.applied


# -- state written by release 0.1 (changelog format 1) -------------------------------

FORMAT_1_MEASURES = {upgrade.RENAMED.get(m, m) for m in upgrade.FORMAT_1_MEASURES}


def _format_1_state() -> dict[str, RepState]:
    """The format-1 changelog read as recovery does: the latest value per key."""
    latest = {k: v for k, v in format_1_records() if not k.startswith(b"\x00")}
    return load_reps((k, v, record_format([])) for k, v in latest.items() if v is not None)


def _rows(engine: Engine, as_of: int) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.group_id, r.window): r.measures() for r in take_snapshot(engine, as_of).reps}


def test_format_1_state_recovers_exactly_after_measures_are_added() -> None:
    recovered = Engine(EngineConfig(track_dirty=True))
    recovered.reps = _format_1_state()
    recovered.newest_applied = max(rep.max_ts for rep in recovered.reps.values())
    assert all(rep.dirty for rep in recovered.reps.values())  # rewritten at the next flush
    full = Engine()
    for line in format_1_lines():
        full.offer(parse_event(line))
    as_of = recovered.newest_applied + 1
    old, new = _rows(recovered, as_of), _rows(full, as_of)
    assert old.keys() == new.keys() and len(old) == 5 * 4
    for key, measures in old.items():  # every measure release 0.1 had is exact
        assert {m: v for m, v in measures.items() if m in FORMAT_1_MEASURES} == {
            m: v for m, v in new[key].items() if m in FORMAT_1_MEASURES}, key
    assert sum(m["touches_on_won_deals"] + m["won_cycle_seconds"] for m in old.values()) > 0
    later = [parse_event(raw) for _, raw in later_lines()]
    afterwards = Engine()
    for event in later:
        recovered.offer(event)
        full.offer(event)
        afterwards.offer(event)
    as_of = max(e.ts for e in later) + 1
    old, new, only_later = (_rows(e, as_of) for e in (recovered, full, afterwards))
    for key, measures in old.items():
        assert {m: v for m, v in measures.items() if m in FORMAT_1_MEASURES} == {
            m: v for m, v in new[key].items() if m in FORMAT_1_MEASURES}, key
        # Measures added since count from the upgrade on.
        for name in ("deals_opened", "proposals_sent"):
            assert measures[name] == only_later.get(key, {}).get(name, 0), (key, name)
    assert sum(m["deals_opened"] + m["proposals_sent"] for m in old.values()) > 0


def test_a_newer_format_is_refused_with_a_clear_error() -> None:
    key = encode_key("r-1", ("meta",))
    with pytest.raises(NewerFormat, match="format 3; this release reads formats up to 2"):
        load_reps([(key, b'["t", 1, 1, {}]', 3)])
