"""Peer child: a Quix Streams app doing nothing, or counting per rep in hopping or tumbling
windows."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from quixstreams import Application

from bench.child import parse
from bench.common import Drain


def event_time(value: Any, headers: Any, timestamp: int, kind: Any) -> int:
    """occurred_at in ms (windows in event time, as the worker's), else the broker's stamp."""
    try:
        return int(datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000)
    except (TypeError, KeyError, ValueError):
        return timestamp


def main() -> None:
    args = parse(__doc__ or "", "mode")
    drain = Drain(args.expected)
    errors = {"skipped": 0}

    def skip(exc: Exception, *rest: Any) -> bool:
        errors["skipped"] += 1  # bad JSON: skipped (as a user would configure it) and counted
        drain.hit()
        return True

    app = Application(broker_address=args.bootstrap, consumer_group=args.group,
                      auto_offset_reset="earliest",
                      state_dir=args.state_dir or tempfile.mkdtemp(prefix="quix-"),
                      loglevel="WARNING", on_consumer_error=skip, on_processing_error=skip,
                      on_message_processed=lambda *_: drain.hit())
    frames = [app.dataframe(app.topic(name, timestamp_extractor=event_time))
              for name in args.topics]
    sdf = reduce(lambda a, b: a.concat(b), frames)
    if args.mode == "hopping":
        window = sdf.hopping_window(duration_ms=timedelta(days=1), step_ms=timedelta(hours=1))
        sdf = window.count().final()
    elif args.mode == "tumbling":
        sdf = sdf.tumbling_window(duration_ms=timedelta(hours=1)).count().final()
    drain.extra = errors
    drain.watch()
    app.run()


if __name__ == "__main__":
    main()
