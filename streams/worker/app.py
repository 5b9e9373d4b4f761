"""build_app(settings): the Faust app of one worker, wired to its context.

Faust keeps the consumer group, the changelog topic of the `kpi_state` table and the
web server; source messages reach SourceBatches from the consumer's fetch loop, state
reaches the changelog through StateSync (README "How it works")."""

from __future__ import annotations

import logging
from typing import Any

import faust
from mode.types.signals import BaseSignalT

from streams.settings import KafkaSecurity, Settings
from streams.worker import web
from streams.worker.context import Worker
from streams.worker.internals import fetcher
from streams.worker.internals.consumer import DurableConsumer
from streams.worker.internals.producer import StoppableProducer
from streams.worker.internals.table import KpiTable
from streams.worker.startup import QuietWorker

# Kafka compacts only closed segments (default: 1 GiB or 7 days), and every start reads
# the whole changelog: roll hourly so it stays near the live state. Records stay
# uncompacted for 10 minutes, time for a restarted worker to rewrite an unfinished flush.
CHANGELOG_CONFIG = {"segment.ms": str(3_600_000), "min.cleanable.dirty.ratio": "0.2",
                    "min.compaction.lag.ms": str(600_000)}


class App(faust.App):
    """A Faust app that carries its worker context (`app.worker`) to every part."""

    worker: Worker


class CommitOverlapIsExpected(logging.Filter):
    """mode warns whenever a tick of its commit timer (our flush) outlasts the commit
    interval: the flush of a backlog's state takes seconds by design (see
    DurableConsumer._can_wait), and StateSync.flush logs its own duration."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (str(record.msg).startswith("Timer %s is overlapping")
                    and isinstance(record.args, tuple) and record.args[:1] == ("commit",))


FETCH_PARTITION_BYTES = 4 * 1024 * 1024


def build_app(settings: Settings) -> App:
    """The worker's Faust app; `app.main()` runs it. GoalsError when the goals file is
    broken."""
    logging.getLogger("mode.timers").addFilter(CommitOverlapIsExpected())
    fetcher.install()
    app = App(
        settings.app_id,
        broker=settings.broker_urls,
        broker_credentials=credentials(settings.security),
        store="memory://",
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        table_standby_replicas=0,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        broker_commit_interval=settings.commit_interval_s,
        # Static membership: a restarted worker (same instance id) gets its partitions back
        # at once, without waiting for its old session to time out.
        consumer_group_instance_id=settings.group_instance_id,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=1.0,
        producer_linger=0.01,
        # bytes per partition and fetch: Faust's 1 MiB made the fetch loop wait on the
        # broker between small fetches (a 500k backlog: 32k events/s, with 4 MiB 57k);
        # at most this much per assigned partition waits in the fetcher
        consumer_max_fetch_size=FETCH_PARTITION_BYTES,
        producer_max_batch_size=512 * 1024,  # changelog flushes go out in whole batches
        # a dead letter carries up to dead_letter_max_bytes of the message, plus headers
        producer_max_request_size=settings.dead_letter_max_bytes + 64 * 1024,
        consumer_auto_offset_reset="earliest",
        recovery_consistency_check=False,  # it rejects KpiTable's offset past any end
        Table=KpiTable,
        Worker=QuietWorker,
    )
    app.transport.Consumer = DurableConsumer  # type: ignore[misc]
    app.transport.Producer = StoppableProducer  # type: ignore[misc]
    worker = app.worker = Worker(settings, app)
    worker.goals.load()  # a broken goals file stops the worker here, with its error
    _wire(app, worker, settings)
    return app


def _wire(app: App, worker: Worker, settings: Settings) -> None:
    worker.table = app.Table("kpi_state", key_type=bytes, value_type=bytes,
                             partitions=settings.partitions,
                             extra_topic_configs=CHANGELOG_CONFIG)
    raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "value_serializer": "raw",
                           "internal": True, "partitions": settings.partitions}
    sources = app.topic(*sorted(worker.topics), **raw)
    worker.dead_letters = app.topic(settings.dead_letter_topic, **raw)

    async def process(stream: Any) -> None:
        """Subscribes the event topics; their messages go to SourceBatches instead."""
        async for _ in stream.noack():
            raise RuntimeError("source messages reach SourceBatches, never this stream")

    async def apply_source_batches() -> None:
        await worker.dead_letters.maybe_declare()  # dead letters go out in raw batches
        await worker.batches.run()  # an error here stops the worker: nothing is skipped

    async def hand_over(sender: Any, /, *args: Any, signal: BaseSignalT, **kw: Any) -> None:
        """Flush before partitions move, so their next owner resumes where we stop."""
        await worker.state.flush()

    async def watch_goals() -> None:
        await worker.goals.run()

    app.agent(sources, name="salespulse.process")(process)
    app.task(apply_source_batches)
    app.task(watch_goals)
    app.on_partitions_revoked.connect(hand_over)
    web.add_pages(app)


def credentials(security: KafkaSecurity) -> Any:
    """Faust's form of the client security settings."""
    if security.protocol.startswith("SASL"):
        return faust.SASLCredentials(username=security.username, password=security.password,
                                     mechanism=security.sasl_mechanism,
                                     ssl_context=security.ssl_context())
    if security.protocol == "SSL":
        return faust.SSLCredentials(security.ssl_context())
    return None
