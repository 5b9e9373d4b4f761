"""Fixtures of the reliability suite: a broker of its own and isolated test worlds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.dev.localkafka import LocalKafka
from tests.support.world import World


@pytest.fixture(scope="session")
def kafka() -> Iterator[LocalKafka]:
    """A started broker shared by the suite; a broker that cannot start is an error."""
    with LocalKafka() as broker:
        yield broker


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
