"""SCRAM authentication from the environment, clear refusals, no secrets or ids in logs."""

from __future__ import annotations

import secrets
import urllib.request
from collections.abc import Callable

import orjson
import pytest

from streams.dev.localkafka import LocalKafka
from tests.support.metrics import samples
from tests.support.traffic import assert_equals_replay, generated, write_lines
from tests.support.world import World, log_mentions

pytestmark = pytest.mark.integration
PRIVATE_FIELDS = ("event_id", "prospect_id", "account_id", "deal_id", "meeting_id", "touch_id")


def private_ids(messages: list[tuple[str, bytes]]) -> set[str]:
    """Every id of the input that must never reach a label or an info log line."""
    ids = set()
    for _, value in messages:
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            ids |= {event[f] for f in PRIVATE_FIELDS if isinstance(event.get(f), str)}
    return ids


def test_scram_worker_counts_with_right_credentials_and_refuses_wrong_ones(
        make_world: Callable[..., World]) -> None:
    password = secrets.token_hex(16)
    with LocalKafka(scram_users={"sales": password}) as broker:
        world = make_world(broker, partitions=2, user="sales")
        good = world.worker(host="127.0.0.2").start()
        messages = generated(1500, days=1, reps=8, bad_ratio=0.02, dup_ratio=0.02)
        path = write_lines(world.workdir / "events.jsonl", messages)
        world.publish(messages)  # the producer logs in from the same environment
        [text] = world.wait_caught_up([good], 120, "the SCRAM worker")
        assert_equals_replay(text, path)

        bad = world.worker({"KAFKA_SASL_PASSWORD": f"not-{password}"}).start(timeout=0)
        assert bad.proc is not None and bad.proc.wait(60) != 0
        last_line = bad.log_path.read_text().strip().splitlines()[-1]
        assert last_line == (
            f"salespulse worker: Kafka at {broker.bootstrap} refused the SCRAM-SHA-256 login "
            "of user 'sales' (SaslAuthenticationFailed): check KAFKA_SASL_USERNAME and "
            "KAFKA_SASL_PASSWORD")

    with pytest.raises(OSError):  # /metrics binds only where SALESPULSE_WEB_HOST says
        urllib.request.urlopen(f"http://127.0.0.1:{good.port}/metrics", timeout=5)
    logs = good.log_path.read_text() + bad.log_path.read_text()
    assert password not in logs
    ids = private_ids(messages)
    assert len(ids) > 1000
    leaked = sorted(i for i in ids if log_mentions(logs, i))
    assert not leaked, f"ids in the info log: {leaked[:5]}"
    labels = {v for _, labelset in samples(text) for _, v in labelset}
    assert not labels & ids
