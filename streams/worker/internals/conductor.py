"""Faust's conductor, with the messages of event topics handed to SourceBatches."""

from __future__ import annotations

from typing import Any

from faust.transport.conductor import Conductor
from faust.types import TP


class SourceConductor(Conductor):
    """Source messages skip Faust's per-event path (Event, queue, Stream, processors,
    which cost more than all the KPI work): SourceBatches applies them in batches."""

    def _build_handler(self, tp: TP, channels: Any) -> Any:
        worker = self.app.worker  # type: ignore[attr-defined]
        if tp.topic in worker.topics:
            return worker.batches.add
        return super()._build_handler(tp, channels)
