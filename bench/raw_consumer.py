"""Baseline child: a raw aiokafka consumer decoding every message (json or orjson)."""

from __future__ import annotations

import asyncio
import json

import orjson
from aiokafka import AIOKafkaConsumer

from bench.child import parse
from bench.common import Drain


async def consume(args: object) -> None:
    a: dict = vars(args)
    loads = orjson.loads if a["decoder"] == "orjson" else json.loads
    consumer = AIOKafkaConsumer(*a["topics"], bootstrap_servers=a["bootstrap"],
                                group_id=a["group"], auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    drain, bad = Drain(a["expected"]), 0
    while not drain.done():
        batches = await consumer.getmany(timeout_ms=200, max_records=5000)
        if not batches:
            continue
        drain.begin()
        n = 0
        for records in batches.values():
            for record in records:
                try:
                    loads(record.value)
                except ValueError:
                    bad += 1
            n += len(records)
        drain.hit(n)
    drain.extra["undecodable"] = bad
    drain.report()


if __name__ == "__main__":
    asyncio.run(consume(parse(__doc__ or "", "decoder")))
