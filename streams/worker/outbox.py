"""What the worker writes besides its state: dead letters, and messages re-keyed to
their rep's partition. The next flush waits for their delivery before its markers, so a
crash sends them again, never loses them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from streams.worker.internals.fetcher import Undecodable
from streams.worker.internals.producer import partition_count, send_batches
from streams.worker.pipeline import DeadLetter, Forward

if TYPE_CHECKING:
    from streams.worker.context import Worker

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.pending: list[Any] = []  # delivery futures the next flush waits for

    def take_pending(self) -> list[Any]:
        pending, self.pending = self.pending, []
        return pending

    async def send(self, records: list[DeadLetter | Forward]) -> None:
        """Both kinds in whole batches per partition, like the changelog (one send per
        dead letter managed ~5k a second: a flood of bad messages would crawl)."""
        worker = self.worker
        forwards = [r for r in records if isinstance(r, Forward)]
        if forwards:
            self.pending += await send_batches(
                worker.app, worker.settings.repartition_topic,
                [(f.partition, f.rep_id.encode(), f.value, f.headers) for f in forwards])
        letters = [r for r in records if isinstance(r, DeadLetter)]
        if not letters:
            return
        topic = worker.settings.dead_letter_topic
        try:  # a source partition's dead letters stay in order on one partition
            count = await partition_count(worker.app, topic)
            self.pending += await send_batches(worker.app, topic, [
                (d.partition % count, d.key, d.value, d.headers()) for d in letters])
        except Exception:  # dead letters that cannot be sent must not stop the worker
            worker.pipeline.metrics.dead_letter_failures.inc(len(letters))
            log.exception("could not send %d dead letters (reasons %s)", len(letters),
                          ", ".join(sorted({d.reason for d in letters})))

    async def undecodable(self, report: Undecodable) -> None:
        """One log line, a count and a dead letter for a batch the worker cannot decode."""
        log.error("%s; the dead-letter topic has a record naming them (reason "
                  "undecodable_batch); a codec library missing here: install salespulse's "
                  "dependencies (cramjam)", report.describe())
        pipeline = self.worker.pipeline
        pipeline.metrics.undecodable.labels(report.topic).inc()
        pipeline.offsets.skip_undecodable((report.topic, report.partition), report.first,
                                          report.end)
        await self.send([DeadLetter(None, b"", "undecodable_batch", report.describe(),
                                    report.topic, report.partition, report.first)])
