"""The local Kafka broker: round trip, data kept across restarts, SCRAM authentication."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from streams.dev.__main__ import main as dev_main
from streams.dev.localkafka import LocalKafka, create_topics, free_port
from streams.settings import Settings
from tests.support.poll import until
from tests.support.worker import topic_env

pytestmark = pytest.mark.integration


def _produce(config: dict[str, Any], topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(acks="all", **config)
    try:
        for value in values:
            producer.send(topic, value).get(timeout=30)
    finally:
        producer.close()


def _consume(config: dict[str, Any], topic: str, count: int) -> list[bytes]:
    consumer = KafkaConsumer(topic, group_id=f"g-{uuid.uuid4().hex[:8]}",
                             auto_offset_reset="earliest", consumer_timeout_ms=30_000, **config)
    try:
        got: list[bytes] = []
        for record in consumer:
            got.append(record.value)
            if len(got) == count:
                break
        return got
    finally:
        consumer.close()


def test_round_trip(kafka: LocalKafka) -> None:
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    _produce(kafka.client_config(), topic, [b"hello", b"kafka"])
    assert _consume(kafka.client_config(), topic, 2) == [b"hello", b"kafka"]


def test_create_topics_is_idempotent(kafka: LocalKafka) -> None:
    topic = f"made-{uuid.uuid4().hex[:8]}"
    assert create_topics(kafka.bootstrap, [topic, topic], partitions=3) == [topic]
    assert create_topics(kafka.bootstrap, [topic], partitions=3) == []
    admin = KafkaAdminClient(**kafka.client_config())
    try:
        [desc] = admin.describe_topics([topic])
        assert len(desc["partitions"]) == 3
    finally:
        admin.close()


def test_create_topics_makes_the_worker_topics_from_its_environment(
        kafka: LocalKafka, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the compose topic job runs: no names, the same SALESPULSE_* as the worker."""
    env = {**topic_env(f"job{uuid.uuid4().hex[:8]}"), "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
           "SALESPULSE_PARTITIONS": "3"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert dev_main(["create-topics"]) == 0
    settings = Settings.from_env()
    wanted = sorted({*settings.event_topics, settings.dead_letter_topic})
    assert len(wanted) == 7
    admin = KafkaAdminClient(**kafka.client_config())
    try:
        described = admin.describe_topics(wanted)
        assert {d["name"]: len(d["partitions"]) for d in described} == \
            dict.fromkeys(wanted, 3)
    finally:
        admin.close()


def test_restart_keeps_data() -> None:
    # Its own broker: restarting the shared one would cut other tests' connections.
    with LocalKafka() as broker:
        bootstrap, config = broker.bootstrap, broker.client_config()
        _produce(config, "durable", [b"before-restart"])
        broker.restart()
        assert broker.bootstrap == bootstrap
        assert _consume(config, "durable", 1) == [b"before-restart"]
        broker.kill()  # a crash, not a clean shutdown
        broker.restart()
        _produce(config, "durable", [b"after-crash"])
        assert _consume(config, "durable", 2) == [b"before-restart", b"after-crash"]
    assert not broker.running
    broker.stop()  # idempotent


def _broker_log_says(broker: LocalKafka, text: str, timeout_s: float = 30) -> bool:
    """Whether the broker's log has `text`, waiting up to `timeout_s` for it to appear."""
    try:
        return bool(until(lambda: text in broker.log_path.read_text(errors="replace"),
                          timeout_s, f"{text!r} in the broker log", every=0.2))
    except TimeoutError:
        return False


def test_scram_right_credentials_work_wrong_ones_fail() -> None:
    with LocalKafka(scram_users={"alice": "alice-secret"}) as broker:
        good = broker.client_config("alice")
        _produce(good, "secured", [b"for-alice"])
        assert _consume(good, "secured", 1) == [b"for-alice"]

        bad = {**good, "sasl_plain_password": "not-alices"}
        with pytest.raises(KafkaError):
            KafkaAdminClient(bootstrap_timeout_ms=10_000, **bad).list_topics()
        # The cause, from the broker: kafka-python 3.0 only reports "unable to bootstrap",
        # and its own log names the SASL error only when the broker's error response and
        # its close of the socket arrive in separate reads (it drops data read together
        # with the end of the stream, and logs "socket disconnected"), a race.
        assert _broker_log_says(broker, "due to invalid credentials with SASL mechanism "
                                        "SCRAM-SHA-256")

        plain = {"bootstrap_servers": broker.bootstrap}
        with pytest.raises(KafkaError):
            KafkaAdminClient(bootstrap_timeout_ms=10_000, **plain).list_topics()


def test_a_worker_started_before_kafka_waits_quietly_then_runs(tmp_path: Path) -> None:
    """The newcomer's order of things: the worker first, the broker a few seconds later.
    One waiting line; no traceback, no ERROR, no terminal escape codes."""
    port, web = free_port(), free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
           "SALESPULSE_WEB_PORT": str(web), "SALESPULSE_DATA_DIR": str(tmp_path / "data"),
           "SALESPULSE_APP_ID": f"early{uuid.uuid4().hex[:6]}"}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "-l", "warn"],
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        until(lambda: "waiting for Kafka" in log.read_text(), 30, "the waiting line")
        with LocalKafka(port=port):
            until(lambda: _answers(f"http://127.0.0.1:{web}/metrics"), 90, "/metrics",
                  lambda: log.read_text()[-3000:])
            assert worker.poll() is None
            text = log.read_text()  # before the broker stops under the worker
    finally:
        worker.terminate()
        worker.wait(30)
    assert text.count("waiting for Kafka at 127.0.0.1") == 1
    assert "Traceback" not in text and "[ERROR]" not in text and "\x1b[" not in text, text


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False
