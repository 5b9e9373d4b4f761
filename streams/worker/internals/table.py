"""The Faust table whose changelog holds the engine's state units."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from faust.tables.table import Table
from faust.types import TP

if TYPE_CHECKING:
    from streams.worker.context import Worker

log = logging.getLogger(__name__)
PAST_ANY_END = 2**62  # the changelog offset Faust's own recovery would start from


class KpiTable(Table):
    """The changelog of engine state units; the engine, not this dict, holds the state.

    Faust's recovery reads nothing (the offset it resumes from is past any end): once it
    is done, `on_recovery_completed` reads the changelog with a plain consumer, an order
    of magnitude faster than Faust's per-record path."""

    @property
    def worker(self) -> Worker:
        return self.app.worker  # type: ignore[attr-defined, no-any-return]

    def persisted_offset(self, tp: TP) -> int | None:
        return PAST_ANY_END

    def apply_changelog_batch(self, batch: Any) -> None:
        for event in batch:  # not reached (see above)
            self.worker.state.reader.read(event.message.partition, [event.message])

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP],
                           generation_id: int = 0) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        lost = {tp.partition for tp in revoked if tp.topic in self.worker.topics}
        if lost:
            log.info("partitions %s revoked: dropping their reps", sorted(lost))
            self.worker.drop(lost)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        app = self.app
        generation = app.consumer_generation_id
        try:
            if await self.worker.state.restore(
                    {tp.partition for tp in active_tps},
                    moved=lambda: app.consumer_generation_id != generation):
                # Before Faust seeks the source partitions to the committed offsets.
                await app.consumer.commit_markers()  # type: ignore[attr-defined]
        except Exception:
            log.exception("rebuilding engine state from the changelog failed")
            raise
