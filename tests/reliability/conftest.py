"""Fixtures of the reliability suite: isolated test worlds on the session's broker
(tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.dev.localkafka import LocalKafka
from tests.support.world import World


@pytest.fixture
def make_world(kafka: LocalKafka, tmp_path: Path) -> Iterator[Callable[..., World]]:
    """World(kafka, tmp_path, **options); every worker of every world dies at the end."""
    worlds: list[World] = []

    def make(broker: LocalKafka | None = None, **options: Any) -> World:
        world = World(broker or kafka, tmp_path, **options)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()
