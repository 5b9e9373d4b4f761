"""The pipeline's own metrics and the signals its alerts read: every name the exporter,
the alert rules, the boards, the promtool cases and the docs use comes from here."""

from __future__ import annotations

from dataclasses import dataclass

from streams.catalog.measures import METRIC_PREFIX

JOB = "salespulse"  # the Prometheus scrape job of the workers
DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400)


@dataclass(frozen=True)
class PipelineMetric:
    name: str  # without the prefix
    kind: str  # "counter", "gauge" or "histogram"
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def metric(self) -> str:
        return METRIC_PREFIX + self.name

    @property
    def sample(self) -> str:
        """The name of its samples in the exposition (counters end in _total)."""
        return self.metric + "_total" if self.kind == "counter" else self.metric


PIPELINE_METRICS: tuple[PipelineMetric, ...] = (
    PipelineMetric("events_processed", "counter", "Valid events applied.", ("type",)),
    PipelineMetric("events_rejected", "counter",
                   "Messages rejected and sent to the dead-letter topic.", ("reason", "topic")),
    PipelineMetric("events_duplicate", "counter",
                   "Events ignored as duplicates of an earlier event_id.", ("type",)),
    PipelineMetric("events_late", "counter",
                   "Events dropped as older than their stream's watermark minus the lateness.",
                   ("type",)),
    PipelineMetric("events_redelivered", "counter",
                   "Messages consumed again after a restart or rebalance, skipped: the state "
                   "already includes them."),
    PipelineMetric("events_rekeyed", "counter",
                   "Messages on another partition than their rep's (keyed by something else "
                   "than rep_id, or not keyed), sent on to the re-keyed topic."),
    PipelineMetric("undecodable_batches", "counter",
                   "Kafka record batches that could not be decoded (corrupt, or an unknown "
                   "compression codec), skipped and dead-lettered.", ("topic",)),
    PipelineMetric("dead_letter_failures", "counter",
                   "Dead letters the producer failed to send."),
    PipelineMetric("processing_delay_seconds", "histogram",
                   "Processing time minus occurred_at, per applied event.",
                   buckets=DELAY_BUCKETS),
    PipelineMetric("consumer_lag", "gauge", "Messages behind the partition's end.",
                   ("topic", "partition")),
    PipelineMetric("last_event_timestamp_seconds", "gauge", "Newest occurred_at applied."),
    PipelineMetric("last_processed_timestamp_seconds", "gauge",
                   "Wall-clock time the worker last processed a message."),
    PipelineMetric("team_revenue_target", "gauge",
                   "A team's weekly revenue target (goals file).", ("team_id",)),
    PipelineMetric("reps", "gauge", "Reps whose state this worker holds."),
    PipelineMetric("build_info", "gauge", "1, with the worker's version in labels.",
                   ("version", "python", "faust")),
    PipelineMetric("goal", "gauge",
                   "A goal of the goals file (docs/goals.md): a KPI's alert threshold or "
                   "minimum sample, for everyone (scope default), a team or a rep.",
                   ("kpi", "field", "scope", "team_id", "rep_id")),
    PipelineMetric("rep_weekly_quota", "gauge", "A rep's weekly revenue quota (goals file).",
                   ("rep_id",)),
    PipelineMetric("goals_loaded_timestamp_seconds", "gauge",
                   "When the goals file in use was read."),
    PipelineMetric("goals_reload_failures", "counter",
                   "Reloads of the goals file that failed: the last good goals stay."),
    PipelineMetric("state_unreadable_partitions", "gauge",
                   "Partitions whose changelog a newer release wrote: not processed until "
                   "that release runs."),
)
PIPELINE = {m.name: m for m in PIPELINE_METRICS}


@dataclass(frozen=True)
class Signal:
    """What a pipeline alert compares with its threshold."""

    expr: str  # PromQL; {window} is the alert's window
    unit: str
    labels: tuple[str, ...]  # labels the expression keeps, usable in the summary


_REJECTED = PIPELINE["events_rejected"].sample
_PROCESSED = PIPELINE["events_processed"].sample
_LAG = PIPELINE["consumer_lag"].sample
SIGNALS: dict[str, Signal] = {
    # Judged against the topics, not the clock of sales activity: quiet nights and
    # weekends have nothing waiting, so nothing fires.
    "stalled_seconds": Signal(
        f"(time() - max({PIPELINE['last_processed_timestamp_seconds'].sample}))\n"
        f"and on ()\n(sum({_LAG}) > 0)", "duration", ()),
    "consumer_lag": Signal(f"max by (topic, partition) ({_LAG})", "messages",
                           ("topic", "partition")),
    "dead_letters": Signal(f"sum by (reason, topic) (increase({_REJECTED}[{{window}}]))",
                           "messages", ("reason", "topic")),
    "dead_letter_share": Signal(
        f"sum(rate({_REJECTED}[{{window}}]))\n/\n"
        f"(sum(rate({_PROCESSED}[{{window}}])) + sum(rate({_REJECTED}[{{window}}])) > 0)",
        "ratio", ()),
    "worker_up": Signal(f'up{{job="{JOB}"}}', "bool", ("instance", "job")),
}
