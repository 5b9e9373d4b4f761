"""Sampling profiles of a running process with py-spy, summarised by where the time goes."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# A stack goes to the first category (in this order) with a marker in any of its frames.
CATEGORIES = (
    ("idle (event loop waiting)", ("EpollSelector.select",)),
    ("/metrics render", ("Pipeline.scrape", "render_measures")),
    ("changelog flush (dirty units -> producer)", ("StateSync.flush", "dirty_entries")),
    ("snapshot (window totals as of T)", ("take_snapshot",)),
    ("recovery: rebuilding reps", ("ChangelogReader.rebuild", "load_reps")),
    ("recovery: reading the changelog (fetch, record batches, latest per key)",
     ("read_partitions", "apply_changelog_batch", "Recovery.")),
    ("engine: daily sweep + minute folding (Engine._prune)", ("Engine._prune",)),
    ("engine: dedupe (RepState.admit)", ("RepState.admit",)),
    ("engine: apply (buckets, cohorts, deals)", ("RepState.apply",)),
    ("engine: other", ("Engine.offer", "RepState.")),
    ("replay: reading lines", ("_lines",)),
    ("decode + validate", ("parse_event", "_fast_parse")),
    ("pipeline bookkeeping (metrics, positions)", ("Pipeline.handle",)),
    ("Faust stream/agent per-event machinery", ("Stream.", "Agent.", "Conductor.", "Event.")),
    ("fetcher + consumer (aiokafka)", ("Fetcher.", "_drain_messages", "aiokafka/consumer",
                                       "Consumer.")),
    ("producer + sender (aiokafka)", ("aiokafka/producer", "Producer.")),
)


def spy() -> str:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"


def record(pid: int, seconds: float, out: Path, rate: int = 100) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds` into collapsed stacks at `out` (returns at once)."""
    return subprocess.Popen([spy(), "record", "--pid", str(pid), "-r", str(rate), "-d",
                             str(int(seconds)), "--format", "raw", "--nonblocking", "-o",
                             str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen[bytes]) -> None:
    """Stop a recording early: on SIGINT py-spy writes what it has and exits."""
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


def _stacks(path: Path) -> list[tuple[list[str], int]]:
    out = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


def _bucket(frames: list[str]) -> str:
    for name, markers in CATEGORIES:
        if any(m in frame for frame in frames for m in markers):
            return name
    return "other (asyncio scheduling, callbacks)"


def summarise(path: Path, top: int = 12) -> dict[str, Any]:
    """Share of samples per category, and the hottest leaf frames."""
    stacks = _stacks(path) if path.exists() else []
    total = sum(n for _, n in stacks) or 1
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, n in stacks:
        buckets[_bucket(frames)] += n
        leaves[frames[-1]] += n
    return {"samples": sum(n for _, n in stacks), "file": str(path),
            "categories": {k: round(100 * v / total, 1) for k, v in buckets.most_common()},
            "hottest_frames": {k: round(100 * v / total, 1) for k, v in leaves.most_common(top)}}
