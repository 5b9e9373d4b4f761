"""Session fixtures of the end-to-end tests: a webhook receiver (Kafka: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Webhook


@pytest.fixture(scope="session")
def webhook() -> Iterator[Webhook]:
    with Webhook() as hook:
        yield hook
