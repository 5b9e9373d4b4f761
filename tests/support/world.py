"""One isolated test world on a broker: its own topics and consumer group, its workers,
and the producer and consumers the tests use to talk to it."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource

from streams.dev.localkafka import LocalKafka, create_topics
from streams.dev.produce import publish
from streams.events import format_timestamp
from tests.support.metrics import assert_same, measure_samples, replay_samples, samples
from tests.support.poll import until as poll_until
from tests.support.traffic import now_us, replay_at, world_settings
from tests.support.worker import WorkerProcess, topic_env

SOURCE_KINDS = ("touch", "reply", "meeting", "deal", "nps")


class World:
    """Topics `<prefix>.sales.*` with `partitions` partitions, created up front."""

    def __init__(self, kafka: LocalKafka, workdir: Path, partitions: int = 4,
                 user: str | None = None, topic_config: dict[str, str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.kafka, self.workdir, self.partitions = kafka, workdir, partitions
        self.prefix = f"rel{uuid.uuid4().hex[:8]}"
        self.client = kafka.client_config(user) if kafka.scram_users else {
            "bootstrap_servers": kafka.bootstrap}
        self.env = {**self._security_env(), **(env or {})}
        self.settings = world_settings(kafka.bootstrap, self.prefix, **self.env)
        self.topics = dict(self.settings.topics)
        # every topic the workers consume: the typed ones and the re-keyed one
        self.event_topics = [*self.topics.values(), self.settings.repartition_topic]
        self.dead_letter_topic = self.settings.dead_letter_topic
        admin = {k: v for k, v in self.client.items() if k != "bootstrap_servers"}
        create_topics(kafka.bootstrap, list(topic_env(self.prefix).values()), partitions,
                      config=topic_config, **admin)
        self.workers: list[WorkerProcess] = []
        self._group: KafkaConsumer | None = None

    def _security_env(self) -> dict[str, str]:
        if "sasl_plain_username" not in self.client:
            return {}
        return {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": self.client["sasl_mechanism"],
                "KAFKA_SASL_USERNAME": self.client["sasl_plain_username"],
                "KAFKA_SASL_PASSWORD": self.client["sasl_plain_password"]}

    def worker(self, env: dict[str, str] | None = None, host: str = "127.0.0.1"
               ) -> WorkerProcess:
        """A worker of this world's consumer group (not started)."""
        admin = {k: v for k, v in self.client.items() if k != "bootstrap_servers"}
        worker = WorkerProcess(self.kafka.bootstrap, self.prefix, self.workdir,
                               self.partitions, {**self.env, **(env or {})}, host, admin)
        self.workers.append(worker)
        return worker

    def publish(self, messages: Iterable[tuple[str, bytes]]) -> int:
        """Events to their typed topics, keyed by rep_id (as producers must); fails when
        the broker did not get them all (the producer does not check each send, and a
        message lost here would look like one the worker lost)."""
        before = self.source_records()
        count = publish(self.settings, messages)
        stored = self.source_records() - before
        assert stored == count, f"published {count} messages, the broker stored {stored}"
        return count

    def source_records(self) -> int:
        """Records ever written to the source topics."""
        return sum(self.end_offsets(topic) for topic in self.topics.values())

    def send_raw(self, records: Iterable[tuple[str, bytes | None, bytes | None]],
                 max_request_size: int = 1_048_576) -> int:
        """(topic kind, key, value) as is: for input no well-behaved producer sends."""
        producer = KafkaProducer(acks="all", linger_ms=10, max_request_size=max_request_size,
                                 **self.client)
        count = 0
        try:
            for kind, key, value in records:
                producer.send(self.topics[kind], key=key, value=value)
                count += 1
            producer.flush()
        finally:
            producer.close()
        return count

    def dead_letters(self, expected: int, timeout_s: float = 30) -> list[Any]:
        """Every record of the dead-letter topic (at least `expected` of them)."""
        consumer = KafkaConsumer(self.dead_letter_topic, auto_offset_reset="earliest",
                                 consumer_timeout_ms=int(timeout_s * 1000),
                                 fetch_max_bytes=64 * 1024 * 1024,
                                 max_partition_fetch_bytes=16 * 1024 * 1024, **self.client)
        records = []
        try:
            for record in consumer:
                records.append(record)
                if len(records) >= expected:
                    consumer.consumer_timeout_ms = 3000  # then drain what else is there
        finally:
            consumer.close()
        return records

    def end_offsets(self, topic: str) -> int:
        """Records ever written to a topic (the sum of its partitions' end offsets)."""
        consumer = KafkaConsumer(**self.client)
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in partitions]
            return sum(consumer.end_offsets(tps).values())
        finally:
            consumer.close()

    def topic_config(self, topic: str) -> dict[str, str]:
        """The settings a topic was given beyond the broker's defaults."""
        admin = KafkaAdminClient(**self.client)
        try:
            described = admin.describe_configs([ConfigResource("topic", topic)])
        finally:
            admin.close()
        [configs] = [entry for by_name in described.values() for entry in by_name.values()]
        return {key: data["value"] if isinstance(data, dict) else data
                for key, data in configs.items()}

    def consumed_all(self) -> bool:
        """The group has committed the end of every source partition: whatever was sent
        so far is handled and its state flushed (the workers' own lag gauges can read 0
        while their last fetch is older than the newest message)."""
        return not self.uncommitted()

    def uncommitted(self) -> dict[str, tuple[int, int]]:
        """{"topic[partition]": (committed, end)} of the source partitions not committed
        to their end."""
        if self._group is None:
            self._group = KafkaConsumer(group_id=self.prefix, enable_auto_commit=False,
                                        **self.client)
        tps = [TopicPartition(topic, p) for topic in self.event_topics
               for p in range(self.partitions)]
        ends = self._group.end_offsets(tps)
        committed = {tp: self._group.committed(tp) or 0 for tp in tps}
        return {f"{tp.topic}[{tp.partition}]": (committed[tp], end)
                for tp, end in ends.items() if committed[tp] < end}

    def wait_caught_up(self, workers: list[WorkerProcess], timeout: float, what: str,
                       settled: Callable[[list[str]], bool] = lambda texts: True) -> list[str]:
        """The workers' scrapes once they have caught up (see `caught_up`) and `settled`
        holds; on a timeout, an error with where each partition and worker stands."""
        def ready() -> list[str] | None:
            texts = caught_up(self, workers)
            return texts if texts and settled(texts) else None

        return poll_until(ready, timeout, what, lambda: self.standing(workers))  # type: ignore[no-any-return]

    def standing(self, workers: list[WorkerProcess]) -> str:
        """Uncommitted partitions, the partitions each worker holds, their log tails."""
        lines = [f"not committed to the end (committed, end): {self.uncommitted()}"]
        for worker in workers:
            text = worker.scrape()
            held = "no answer" if text is None else sorted(
                (topic.rsplit(".", 1)[-1], int(p), lag) for (topic, p), lag in lags(text).items())
            lines += [f"--- worker :{worker.port} holds (topic, partition, lag) {held}",
                      worker.log_tail(25)]
        return "\n".join(lines)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        if self._group is not None:
            self._group.close()


def lags(text: str) -> dict[tuple[str, str], float]:
    """{(topic, partition): lag} of one scrape."""
    return {(d["topic"], d["partition"]): value for (name, labels), value in samples(text).items()
            if name == "salespulse_consumer_lag" for d in [dict(labels)]}


def caught_up(world: World, workers: list[WorkerProcess]) -> list[str] | None:
    """The workers' scrapes once all that was sent is consumed and every source partition
    is held by exactly one of them; None before that."""
    if not world.consumed_all():
        return None
    texts = [worker.scrape() for worker in workers]
    if any(text is None for text in texts):
        return None
    held = [lags(text) for text in texts if text is not None]
    every = [tp for lag in held for tp in lag]
    expected = len(world.event_topics) * world.partitions
    if len(every) != expected or len(set(every)) != expected:
        return None
    if any(value for lag in held for value in lag.values()):
        return None
    return texts  # type: ignore[return-value]


def log_mentions(log: str, word: str) -> bool:
    """`word` as a whole token of the log (ids are not substrings of other ids)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", log) is not None


def assert_split(world: World, workers: list[WorkerProcess], path: Path, scrapes: int = 3,
                 timeout: float = 240) -> None:
    """Once the group has settled and caught up, at a few common instants: each rep in
    one worker only, and the sums of their /metrics equal replay of `path`."""
    world.wait_caught_up(workers, timeout, "the group to settle and catch up, every worker "
                         "holding partitions", settled=lambda texts: all(map(lags, texts)))
    for _ in range(scrapes):
        as_of = now_us()
        texts = [worker.scrape(format_timestamp(as_of)) for worker in workers]
        assert all(text is not None for text in texts)
        per_worker = [measure_samples(text) for text in texts]  # type: ignore[arg-type]
        reps = [{rep for _, rep, _, _ in scraped} for scraped in per_worker]
        assert sum(map(len, reps)) == len(set().union(*reps)), "a rep exported twice"
        total: Counter[tuple[str, str, str, str]] = Counter()
        for scraped in per_worker:
            total.update(scraped)
        expected = replay_samples(replay_at(path, as_of))
        assert_same(dict(total), expected)
