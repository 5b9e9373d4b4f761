"""Item 8: `/metrics` render time and body size of the worker's pipeline at N reps (a child)."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import time
from collections import Counter

from bench.common import MARK
from bench.dataset import events
from streams.dev.produce import topic_for
from streams.settings import Settings
from streams.worker.pipeline import Pipeline

EVENTS_PER_REP = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, required=True)
    parser.add_argument("--times", type=int, default=7)
    parser.add_argument("--windows", default="", help="SALESPULSE_EXPORT_WINDOWS (default all)")
    parser.add_argument("--measures", default="",
                        help="SALESPULSE_EXPORT_MEASURES (default all)")
    args = parser.parse_args()
    # one partition: every rep is at home (with 4, the pipeline would re-key the 3/4 of reps
    # whose home is another partition, and only a quarter would be exported)
    settings = Settings.from_env({"SALESPULSE_PARTITIONS": "1",
                                  "SALESPULSE_EXPORT_WINDOWS": args.windows,
                                  "SALESPULSE_EXPORT_MEASURES": args.measures})
    pipeline = Pipeline(settings)
    count = args.reps * EVENTS_PER_REP
    offsets: Counter[str] = Counter()  # the pipeline applies each topic's offsets in order
    for rep_id, value in events(count, args.reps, 20, 7):
        topic = topic_for(settings, value)
        pipeline.handle(topic, 0, offsets[topic], rep_id.encode(), value)
        offsets[topic] += 1
    if len(pipeline.engine.reps) != args.reps:
        raise SystemExit(f"scrape: {len(pipeline.engine.reps):,} reps hold events, not "
                         f"{args.reps:,}: the figure would be for fewer reps")
    seconds, gzip_seconds, body = [], [], b""
    for _ in range(args.times):  # the first read builds each rep's window totals
        t0 = time.perf_counter()
        body = pipeline.scrape()
        seconds.append(time.perf_counter() - t0)
    for _ in range(3):  # what /metrics adds when the scraper asks for gzip (web.py)
        t0 = time.perf_counter()
        zipped = gzip.compress(body, compresslevel=1)
        gzip_seconds.append(time.perf_counter() - t0)
    doc = {"reps": len(pipeline.engine.reps), "events": count,
           "windows": args.windows or "all", "measures": args.measures or "all",
           "first_seconds": seconds[0],
           "median_seconds": statistics.median(seconds[1:]), "min_seconds": min(seconds[1:]),
           "bytes": len(body), "gzip_seconds": statistics.median(gzip_seconds),
           "gzip_bytes": len(zipped),
           # the process's peak (KiB on Linux): the reps' state plus one render in flight
           "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    os.write(1, MARK + json.dumps(doc).encode() + b"\n")


if __name__ == "__main__":
    main()
