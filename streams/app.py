"""The Faust app: topics -> pipeline -> engine, state in a changelog-backed table,
/metrics on the Faust web server. Run `salespulse worker` or `faust -A streams.app worker`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from faust.exceptions import ProducerSendError
from faust.tables.table import Table
from faust.transport.drivers.aiokafka import Consumer as KafkaConsumer
from faust.types import TP
from faust.web import Request, Response, View

from streams.engine.codec import dirty_entries, load_reps
from streams.events import parse_timestamp
from streams.exporter import CONTENT_TYPE
from streams.pipeline import DeadLetter, Pipeline
from streams.settings import KafkaSecurity, Settings

log = logging.getLogger(__name__)
settings = Settings.from_env()
pipeline = Pipeline(settings)
SOURCE_TOPICS = frozenset(settings.topics.values())
FLUSH_TIMEOUT_S = 60.0


def _credentials(security: KafkaSecurity) -> Any:
    if security.protocol.startswith("SASL"):
        return faust.SASLCredentials(username=security.username, password=security.password,
                                     mechanism=security.sasl_mechanism,
                                     ssl_context=security.ssl_context())
    if security.protocol == "SSL":
        return faust.SSLCredentials(security.ssl_context())
    return None


class KpiTable(Table):
    """The changelog of engine state units; the engine, not this dict, holds the state."""

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP],
                           generation_id: int = 0) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        lost = {tp.partition for tp in revoked if tp.topic in SOURCE_TOPICS}
        if lost:
            log.info("partitions %s revoked: dropping their reps", sorted(lost))
            pipeline.drop_partitions(lost)
            state.loaded -= lost

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        try:
            state.load({tp.partition for tp in active_tps})
        except Exception:
            log.exception("rebuilding engine state from the changelog failed")
            raise


class StateSync:
    """Moves engine state to and from the changelog: dirty units out, recovered units in."""

    def __init__(self) -> None:
        self.loaded: set[int] = set()
        self.dead_letters: list[Any] = []  # delivery futures of dead letters

    def load(self, partitions: set[int]) -> None:
        """Rebuild the reps of newly assigned partitions, then free the table's copy."""
        store: Any = table.data  # faust's memory store: .data and ._key_partition
        fresh = partitions - self.loaded
        by_partition: dict[int, list[tuple[bytes, bytes]]] = {p: [] for p in fresh}
        for key, value in store.data.items():
            partition = store._key_partition.get(key)
            if partition in by_partition and value:
                by_partition[partition].append((key, value))
        engine = pipeline.engine
        recovered = 0
        for partition, entries in by_partition.items():
            for rep_id, rep in load_reps(entries).items():
                engine.reps[rep_id] = rep
                pipeline.rep_partition[rep_id] = partition
                recovered += 1
        newest = max((rep.max_ts for rep in engine.reps.values()), default=None)
        if newest is not None:
            engine.newest_applied = max(engine.newest_applied or newest, newest)
            engine.watermark = max(engine.watermark or newest, newest)
        self.loaded |= fresh
        store.data.clear()  # the engine owns the state from here on
        store._key_partition.clear()
        log.info("recovered %d reps of partitions %s from the changelog", recovered,
                 sorted(fresh))

    async def flush(self) -> None:
        """Send every dirty unit, and wait until the broker has them all (and dead letters)."""
        futures: list[Any] = []
        send, topic = app.producer.send, table.changelog_topic.get_topic_name()
        for rep_id, rep in pipeline.engine.reps.items():
            if rep.dirty:
                partition = pipeline.rep_partition[rep_id]
                for key, value in dirty_entries(rep):
                    futures.append(await send(topic, key, value, partition, None, None))
        futures += self.dead_letters
        self.dead_letters = []
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), FLUSH_TIMEOUT_S)


class DurableConsumer(KafkaConsumer):
    """Commits source offsets only after the state they produced is on the broker."""

    async def _commit_tps(self, tps: Any, start_new_transaction: bool) -> bool:
        offsets = self._filter_committable_offsets(tps)
        if not offsets:
            return False
        try:
            await state.flush()
            await self._handle_attached(offsets)
        except (TimeoutError, ProducerSendError, OSError) as exc:
            await self.crash(exc)  # no commit: the events are consumed again after restart
            return False
        return await self._commit_offsets(offsets, start_new_transaction=start_new_transaction)


app = faust.App(
    settings.app_id,
    broker=settings.broker_urls,
    broker_credentials=_credentials(settings.security),
    store="memory://",
    datadir=settings.data_dir,
    topic_partitions=settings.partitions,
    table_standby_replicas=0,
    web_bind=settings.web_host,
    web_port=settings.web_port,
    broker_commit_interval=settings.commit_interval_s,
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
    producer_linger=0.01,
    consumer_auto_offset_reset="earliest",
    Table=KpiTable,
)
app.transport.Consumer = DurableConsumer  # type: ignore[misc]
state = StateSync()
table = app.Table("kpi_state", key_type=bytes, value_type=bytes, partitions=settings.partitions)
raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "value_serializer": "raw",
                       "internal": True, "partitions": settings.partitions}
sources = app.topic(*sorted(SOURCE_TOPICS), **raw)
dead_letters = app.topic(settings.dead_letter_topic, **raw)


@app.agent(sources)
async def process(stream: Any) -> None:
    """Apply each message synchronously (so an acked offset is an applied event)."""
    async for event in stream.events():
        message = event.message
        letter = pipeline.handle(message.topic, message.partition, message.offset,
                                 message.key, message.value)
        if letter is not None:
            await _dead_letter(letter)


async def _dead_letter(letter: DeadLetter) -> None:
    try:
        future = await dead_letters.send(key=letter.key, value=letter.value,
                                         headers=letter.headers())
        state.dead_letters.append(future)
    except Exception:  # a dead letter that cannot be sent must not stop the worker
        pipeline.metrics.dead_letter_failures.inc()
        log.exception("could not send a dead letter (reason %s) from %s[%d]@%d",
                      letter.reason, letter.topic, letter.partition, letter.offset)


@app.page("/metrics")
class Metrics(View):
    """Prometheus scrape; `?as_of=<RFC 3339>` reads a later instant (audits, tests)."""

    async def get(self, request: Request) -> Response:
        as_of = request.query.get("as_of")
        try:
            as_of_us = None if as_of is None else parse_timestamp(as_of)
        except ValueError:
            return self.text(f"as_of must be an RFC 3339 instant, got {as_of!r}\n", status=400)
        body = pipeline.scrape(as_of_us, _highwaters())
        return self.bytes(body, content_type=CONTENT_TYPE)


def _highwaters() -> dict[tuple[str, int], int]:
    try:
        consumer = app.consumer
        return {(tp.topic, tp.partition): consumer.highwater(tp)
                for tp in consumer.assignment() if tp.topic in SOURCE_TOPICS}
    except Exception:  # not started or rebalancing: lag is refreshed at the next scrape
        return {}
