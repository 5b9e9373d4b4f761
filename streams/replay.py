"""`salespulse replay`: the engine over a JSON Lines file, as of an instant T."""

from __future__ import annotations

import gzip
import io
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from streams.engine import Engine, EngineConfig, Snapshot, gc_paused, kpis, take_snapshot
from streams.events import Event, Rejected, format_timestamp, parse_event

PROGRESS_MIN_BYTES = 20_000_000
PROGRESS_EVERY_S = 2.0
BATCH_EVENTS = 300_000  # taken rep by rep (Engine.take_many): ~45 MB of events, 1.8x faster


class ReplayError(Exception):
    """A problem with the input as a whole (not one bad line): stop with one line."""


@dataclass
class ReplayResult:
    snapshot: Snapshot
    engine: Engine
    after_as_of: int


GZIP_MAGIC = b"\x1f\x8b"


def _check_text(head: bytes, name: str) -> None:
    """Refuse input that is not UTF-8 text at all; bad single lines are just rejected."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4096]:
        raise ReplayError(f"{name} is not UTF-8 JSON Lines (it looks like UTF-16 or binary); "
                          "convert it, e.g. iconv -f UTF-16 -t UTF-8")


def _open(path: Path) -> tuple[BinaryIO, BinaryIO, str]:
    """(the raw stream, the text stream: gunzipped when gzip, the name for messages);
    `-` is standard input."""
    if str(path) == "-":
        raw, name = sys.stdin.buffer, "standard input"
    else:
        try:
            raw, name = path.open("rb"), str(path)
        except OSError as exc:
            raise ReplayError(f"cannot read {path}: {exc.strerror}") from None
    if raw.peek(2)[:2] != GZIP_MAGIC:  # type: ignore[union-attr, attr-defined]
        return raw, raw, name
    text = gzip.GzipFile(fileobj=raw, mode="rb")
    try:
        text.peek(1)
    except (OSError, EOFError) as exc:
        raise ReplayError(f"{name} looks gzip-compressed but cannot be read as gzip "
                          f"({exc})") from None
    return raw, text, f"{name} (gzip)"  # type: ignore[return-value]


def _lines(raw: BinaryIO, stream: BinaryIO, name: str, progress: bool) -> Iterator[bytes]:
    """The lines of `stream`; progress on stderr by the bytes read from `raw`."""
    try:
        size = os.fstat(raw.fileno()).st_size  # 0 for a pipe: no progress then
    except (OSError, ValueError, io.UnsupportedOperation):
        size = 0
    show = progress and size >= PROGRESS_MIN_BYTES
    started = last = time.monotonic()
    count = 0
    try:
        for count, line in enumerate(stream, 1):
            yield line
            if show and count % 65536 == 0 and (now := time.monotonic()) - last >= PROGRESS_EVERY_S:
                last = now
                print(f"replay: {count:,} lines, {100 * raw.tell() / size:.0f}% of {name}, "
                      f"{count / (now - started):,.0f} lines/s", file=sys.stderr, flush=True)
    except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
        raise ReplayError(f"{name} is damaged after {count:,} lines ({exc})") from None


def replay(path: Path, as_of: int | None, config: EngineConfig | None = None,
           progress: bool = True, now_us: int | None = None) -> ReplayResult:
    """Run the engine over a file (`-`: standard input; gzip is read as such) in order;
    T defaults to just after the latest event."""
    engine = Engine(config)
    clock = now_us if now_us is not None else time.time_ns() // 1000
    raw, stream, name = _open(path)
    with raw, stream, gc_paused():
        _check_text(stream.peek(4096)[:4096], name)  # type: ignore[attr-defined]
        after = _feed(engine, _lines(raw, stream, name, progress), as_of, clock)
    if as_of is None:
        as_of = engine.newest_applied + 1 if engine.newest_applied is not None else clock
    return ReplayResult(take_snapshot(engine, as_of), engine, after)


def _feed(engine: Engine, lines: Iterator[bytes], as_of: int | None, clock: int) -> int:
    """Offer every line; returns how many valid events lie at or after T (never applied)."""
    skew = engine.config.max_skew_us
    batch: list[Event] = []
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if not line.strip():
            continue
        try:
            batch.append(parse_event(line, now_us=clock, max_skew_us=skew))
        except Rejected as exc:
            engine.reject(exc.reason)
            continue
        if len(batch) == BATCH_EVENTS:
            engine.take_many(batch, as_of=as_of)
            batch = []
    engine.take_many(batch, as_of=as_of)
    return engine.counts.after_as_of


def _row_json(row: Any, kpi_values: dict[str, Any], rep: bool) -> dict[str, Any]:
    head = {"rep_id": row.group_id, "team_id": row.team_id} if rep else {"team_id": row.group_id}
    return {**head, "window": row.window, "measures": row.measures(), "kpis": kpi_values}


def to_doc(snap: Snapshot, counts: dict[str, Any], window: str | None = None
           ) -> dict[str, Any]:
    """The replay contract of architecture.md (one window's rows, if `window`)."""
    reps = [r for r in snap.reps if window in (None, r.window)]
    teams = [r for r in snap.teams if window in (None, r.window)]
    team_extra = {team: snap.team_kpis(team) for team in {r.group_id for r in teams}}
    return {
        "as_of": format_timestamp(snap.as_of),
        "reps": [_row_json(r, snap.rep_kpis(r), rep=True) for r in reps],
        "teams": [_row_json(r, kpis(r.measures()) | team_extra[r.group_id], rep=False)
                  for r in teams],
        "events": counts,
    }


def dumps(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def to_json(result: ReplayResult) -> bytes:
    """The replay contract of architecture.md, one JSON object."""
    return dumps(to_doc(result.snapshot, result.engine.counts.as_dict()))
