"""Compact, per-unit serialisation of rep state for a compacted changelog.

A rep's state is split into small units (its meta, each hour bucket with the
minute deltas the 1h window still reads, each prospect, each deal, each deal's touch
times, append-only chunks of each dedupe hour, its pending events) so a batch writes
only what changed. Keys are JSON arrays, so ids may hold any character.

Every record carries the format it is written in (the `v` header, FORMAT). Units of an
older format are upgraded as they are read (engine/upgrade.py) and marked dirty, so the
next flush rewrites them; a newer format is refused (NewerFormat), never guessed at.

Dedupe chunks are keyed by the hour's slot (hour modulo the horizon in hours + 2), not
the hour: a new hour's chunks overwrite those of an hour long past the horizon, so
compaction drops them and forgotten hours need no tombstones (they were half of all
dedupe records). The chunk's value names its hour; a stale chunk read back (an old
hour that had more chunks than the slot's new one) is forgotten at the next sweep.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import Any

import msgspec
import orjson

from streams.engine import upgrade
from streams.engine.core import EngineConfig
from streams.engine.dedupe import Seen
from streams.engine.rep import Key, RepState
from streams.engine.windows import HOUR_US
from streams.events import Event

FORMAT = 2  # 1: release 0.1 (no header); 2: per-stream watermarks, deal touch times
VERSION_HEADER = "v"
HEADERS = [(VERSION_HEADER, str(FORMAT).encode())]  # on every record the worker writes


EVENT_FIELDS = Event.__struct_fields__
_event_values = attrgetter(*EVENT_FIELDS)


class NewerFormat(ValueError):
    """State written by a newer release, in a format this one cannot read."""


def record_format(headers: Iterable[tuple[str, bytes]]) -> int:
    """The format of a changelog record from its headers (none: format 1)."""
    for name, value in headers:
        if name == VERSION_HEADER:
            return int(value)
    return 1

# Not orjson.dumps: each bytes it returns keeps a ~4 KiB allocation (orjson 3.13), and a
# flush holds every key and value until sent (a 15 s flush held 2.3 GB for 18 MB).
to_json = msgspec.json.Encoder().encode
_key_from_json = msgspec.json.Decoder(tuple).decode  # a key straight to a tuple: recovery


def encode_key(rep_id: str, unit: Key) -> bytes:
    return to_json([rep_id, *unit])


def decode_key(raw: bytes) -> tuple[str, Key]:
    key = _key_from_json(raw)
    return key[0], key[1:]


def unit_value(rep: RepState, unit: Key) -> Any:
    """The current value of one unit, or None when it no longer exists (a tombstone)."""
    tag = unit[0]
    if tag == "meta":
        return [rep.team_id, rep.team_ts, rep.max_ts, rep.marks]
    if tag == "t":
        times = rep.deal_touches.get(unit[1])
        return None if times is None else times.tolist()
    if tag == "pending":
        # An Event's own fields: a decoded one also carries those only checked (decode.py)
        return [dict(zip(EVENT_FIELDS, _event_values(e), strict=True))
                for e in rep.pending] or None
    if tag == "h":
        vector = rep.hours.get(unit[1])
        if vector is None:
            return None
        first = unit[1] * 60
        return [vector, [[m, rep.minutes[m]] for m in range(first, first + 60)
                         if m in rep.minutes]]
    return _stores(rep)[tag].get(unit[1])


def load_unit(rep: RepState, unit: Key, value: Any) -> None:
    """Apply one recovered unit to a rep (the inverse of unit_value); the most numerous
    units first: recovery calls this once per unit."""
    tag = unit[0]
    if tag == "x":
        rep.prospects[unit[1]] = value
    elif tag == "h":
        rep.hours[unit[1]], minutes = value
        rep.minutes.update(minutes)  # stale ones go at the rep's next sweep
    elif tag == "e":
        seen = rep.seen.get(unit[1])
        if seen is None:
            seen = rep.seen[unit[1]] = Seen()
        hour, entries = value
        seen.load(hour, unit[3], entries)
    elif tag == "d":
        rep.deals[unit[1]] = value
    elif tag == "t":
        rep.deal_touches[unit[1]] = array("q", value)
    elif tag == "meta":
        rep.team_id, rep.team_ts, rep.max_ts, rep.marks = value
    elif tag == "pending":
        rep.pending = [Event(**fields) for fields in value]
    else:
        raise ValueError(f"unknown state unit {unit!r}")


def _stores(rep: RepState) -> dict[str, dict[Any, Any]]:
    return {"x": rep.prospects, "d": rep.deals}


def dedupe_slots(horizon_us: int) -> int:
    """Distinct key slots for dedupe hours: every hour within the horizon has its own."""
    return -(-horizon_us // HOUR_US) + 2


def dirty_entries(rep: RepState, dedupe_horizon_us: int = EngineConfig.dedupe_horizon_us
                  ) -> Iterator[tuple[bytes, bytes | None]]:
    """(key, value or None) for every unit changed since the last call; clears the set."""
    assert rep.dirty is not None, "the engine was built without track_dirty"
    units, rep.dirty = rep.dirty, set()
    slots = dedupe_slots(dedupe_horizon_us)
    for unit in units:
        if unit[0] == "e":  # a dedupe hour grows by chunks: never rewrite its older ids
            seen, hour = rep.seen[unit[1]], unit[2]
            chunk = seen.chunk(hour)
            # an hour `slots` behind the newest is past the horizon: its slot is a live hour's
            if chunk is not None and hour + slots > seen.newest // HOUR_US:
                yield (encode_key(rep.rep_id, ("e", unit[1], hour % slots, chunk[0])),
                       to_json([hour, chunk[1]]))
            continue
        value = unit_value(rep, unit)
        yield encode_key(rep.rep_id, unit), None if value is None else to_json(value)


def load_reps(entries: Iterable[tuple[bytes, bytes, int]], track_dirty: bool = True
              ) -> dict[str, RepState]:
    """Rebuild reps from (key, value, format) changelog entries, latest value per key;
    units of an older format are upgraded and left dirty, to be written anew."""
    reps: dict[str, RepState] = {}
    upgraded: set[str] = set()
    for raw_key, raw_value, version in entries:
        if version > FORMAT:
            raise NewerFormat(f"state unit {raw_key[:80]!r} is in format {version}; this "
                              f"release reads formats up to {FORMAT}")
        rep_id, unit = decode_key(raw_key)
        rep = reps.get(rep_id)
        if rep is None:
            rep = reps[rep_id] = RepState(rep_id, track_dirty)
        value = orjson.loads(raw_value)
        if version == FORMAT:
            load_unit(rep, unit, value)
            continue
        upgraded.add(rep_id)
        for new_unit, new_value in upgrade.unit(unit, value, version):
            if new_unit[0] != "e":  # dedupe chunks keep their keys: rewritten as they grow
                rep.mark(new_unit)
            load_unit(rep, new_unit, new_value)
    for rep_id in upgraded:
        upgrade.settle(reps[rep_id])
    return reps
