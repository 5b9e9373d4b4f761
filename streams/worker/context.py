"""The one context of a worker process: settings, pipeline (engine, metrics, source
offsets), state sync, source batches and outbox, passed to every part (no singletons)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streams.settings import Settings
from streams.worker.batches import SourceBatches
from streams.worker.deadline import StopDeadline
from streams.worker.goals_watch import GoalsWatch
from streams.worker.offsets import TP
from streams.worker.outbox import Outbox
from streams.worker.pipeline import Pipeline
from streams.worker.state import StateSync


class Worker:
    def __init__(self, settings: Settings, app: Any) -> None:
        self.settings = settings
        self.app = app  # the Faust app (streams/worker/app.py)
        self.topics = settings.event_topics
        self.pipeline = Pipeline(settings)
        self.deadline = StopDeadline(lambda: bool(app.should_stop))
        self.state = StateSync(self)
        self.batches = SourceBatches(self)
        self.outbox = Outbox(self)
        self.goals = GoalsWatch(self)
        self.dead_letters: Any = None  # Faust topics and table, set by build_app
        self.table: Any = None

    @property
    def changelog_topic(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    def assigned_partitions(self) -> set[int]:
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic in self.topics}

    def committable(self, assignment: Iterable[TP]) -> dict[TP, int]:
        """Source offsets to commit: those of the last markers, every message below them
        applied and its state on the broker (never a partition a newer release wrote)."""
        return self.pipeline.offsets.committable(assignment, self.topics, self.state.unreadable)

    def drop(self, partitions: set[int]) -> None:
        """Revoked partitions: their reps, offsets, waiting messages and recovery go, so
        no rep is exported by two workers."""
        self.pipeline.drop_partitions(partitions)
        self.batches.drop(partitions)
        self.state.forget(partitions)
