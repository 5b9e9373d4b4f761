"""The pure KPI engine (no Faust, Kafka or Prometheus imports): windows, dedupe, lateness."""

from streams.engine.core import (
    AFTER_AS_OF,
    APPLIED,
    DUPLICATE,
    LATE,
    Counts,
    Engine,
    EngineConfig,
    gc_paused,
    tune_gc,
)
from streams.engine.rep import RepState
from streams.engine.snapshot import Row, Snapshot, kpis, rep_totals, take_snapshot

__all__ = ["AFTER_AS_OF", "APPLIED", "DUPLICATE", "LATE", "Counts", "Engine", "EngineConfig",
           "RepState", "Row", "Snapshot", "kpis", "rep_totals", "take_snapshot", "tune_gc",
           "gc_paused"]
