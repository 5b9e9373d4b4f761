"""Child: `replay` of a JSON Lines file, timed, with the process's CPU time and memory."""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import psutil

from bench.common import MARK
from streams.replay import replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--json-baseline", action="store_true",
                        help="time plain json.loads of every line instead (issue 15's yardstick)")
    args = parser.parse_args()
    if args.json_baseline:
        os.write(1, MARK + json.dumps(json_loads(args.file)).encode() + b"\n")
        return
    process = psutil.Process()
    base_rss = process.memory_info().rss
    wall, cpu = time.perf_counter(), time.process_time()
    result = replay(args.file, None, progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = result.engine.counts
    messages = counts.applied + counts.duplicates + counts.late + sum(counts.rejected.values())
    doc = {"messages": messages, "applied": counts.applied, "reps": len(result.engine.reps),
           "seconds": wall, "cpu_seconds": cpu, "rate": messages / wall,
           "rate_per_cpu_second": messages / cpu, "rss_bytes": process.memory_info().rss,
           "rss_before_bytes": base_rss,
           "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    os.write(1, MARK + json.dumps(doc).encode() + b"\n")


def json_loads(path: Path) -> dict[str, float]:
    """Plain json.loads of every line of the file (read into memory first, like replay's
    chunks), per CPU-second; undecodable lines count too, as replay reads them."""
    lines = path.read_bytes().splitlines()
    cpu = time.process_time()
    for line in lines:
        try:  # noqa: SIM105 (contextlib.suppress would slow the yardstick down)
            json.loads(line)
        except (ValueError, RecursionError):
            pass
    cpu = time.process_time() - cpu
    return {"json_loads_rate_per_cpu_second": len(lines) / cpu}


if __name__ == "__main__":
    main()
