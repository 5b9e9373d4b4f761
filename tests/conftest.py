"""Session fixtures shared by the integration, reliability and end-to-end suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.dev.localkafka import LocalKafka


@pytest.fixture(scope="session")
def kafka() -> Iterator[LocalKafka]:
    """A started single-node Kafka broker shared by the whole session.

    A broker that cannot start raises LocalKafkaError (with the broker log's tail):
    the tests then error out; they are never skipped.
    """
    broker = LocalKafka()
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
