"""Baseline child: a Faust agent doing nothing over a json `faust.Record` stream."""

from __future__ import annotations

import sys
import tempfile
from typing import Any

import faust
from faust.serializers import codecs

from bench.child import parse
from bench.common import Drain

STRINGS = ("event_id", "type", "occurred_at", "rep_id", "team_id", "prospect_id", "channel",
           "outcome", "deal_id", "sentiment", "meeting_id", "status", "kind", "stage",
           "account_id")
FIELDS: dict[str, type] = dict.fromkeys(STRINGS, str) | {"value_message": bool,
                                                          "amount": float, "score": int}


class TolerantJson(codecs.json):  # type: ignore[misc]
    """Faust's json codec (orjson inside); bad input becomes an empty record, not a crashed
    agent (a ValueDecodeError ends a Faust agent; the worker dead-letters such messages)."""

    def _loads(self, s: bytes) -> Any:
        try:
            value = super()._loads(s)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


codecs.register("tolerant_json", TolerantJson())


def record_class() -> Any:
    """A Record with every field of the five event types, all optional, so any object loads."""
    namespace = {"__annotations__": {n: t | None for n, t in FIELDS.items()},
                 **dict.fromkeys(FIELDS)}
    return type("Sale", (faust.Record,), namespace, serializer="tolerant_json")


args = parse(__doc__ or "")
drain = Drain(args.expected)
app = faust.App(args.group, broker=f"kafka://{args.bootstrap}", store="memory://",
                datadir=args.state_dir or tempfile.mkdtemp(prefix="bench-faust-"),
                web_enabled=False,
                broker_session_timeout=10.0, broker_heartbeat_interval=1.0,
                consumer_auto_offset_reset="earliest", producer_linger=0.01)
topic = app.topic(*args.topics, value_type=record_class())


@app.agent(topic)
async def noop(stream: Any) -> None:
    """Count and drop."""
    async for _sale in stream:
        drain.hit()


if __name__ == "__main__":
    drain.watch()
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()
