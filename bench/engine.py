"""Item 4 and the engine half of 6: `replay` over 1M events, and its memory at full scale."""

from __future__ import annotations

from typing import Any

from bench.common import Run, run_child, say
from bench.dataset import write_jsonl
from bench.profile import summarise

TIMEOUT_S = 1800.0


def replay_file(run: Run, name: str, events: int, days: float, reps: int = 1000,
                profile: bool = False, json_baseline: bool = False) -> dict[str, Any]:
    """Generate `events` over `days` into a file, then time `replay` of it in a child."""
    path = run.workdir / f"{name}.jsonl"
    say(f"{name}: writing {events:,} events ({reps:,} reps, {days:g} days) to {path.name}")
    write_jsonl(path, events, reps, 20, days)
    raw = run.workdir / f"{name}.pyspy.txt" if profile else None
    say(f"{name}: replaying{' (profiled)' if profile else ''}")
    result = run_child("bench.engine_alone", [str(path)], TIMEOUT_S, run.log(name), raw)
    if json_baseline:  # its own child, outside the engine's profile
        result |= run_child("bench.engine_alone", [str(path), "--json-baseline"], TIMEOUT_S,
                            run.log(f"{name}-json"))
    path.unlink()
    say(f"{name}: {result['rate']:,.0f} events/s wall, {result['rate_per_cpu_second']:,.0f} "
        f"per CPU-second, RSS {result['rss_bytes'] / 2**20:,.0f} MiB")
    return {**result, "days": days, **({"profile": summarise(raw)} if raw else {})}


def measure(run: Run, events: int, full_events: int, history_events: int) -> dict[str, Any]:
    """Throughput at `events` (sampled by py-spy without pausing it); memory at that size,
    at full scale and at the size of the worker's history (for the extrapolation)."""
    out = {"replay": replay_file(run, "engine_replay", events, 30, profile=True,
                                 json_baseline=True),
           "replay_full": replay_file(run, "engine_full", full_events, 30)}
    if history_events not in (events, full_events):
        out["replay_history_size"] = replay_file(run, "engine_history", history_events, 30)
    return out
