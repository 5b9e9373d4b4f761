"""Expiry scans over dicts kept in update order: from the front, to the first live entry."""

from __future__ import annotations

from typing import Any


def to_back(records: dict[Any, Any], key: Any) -> None:
    """Move an updated entry to the back, so that expiry can scan from the front."""
    records[key] = records.pop(key)


def prefix_below(tier: dict[int, Any], floor: int) -> list[int]:
    """Keys below `floor` at the front of an (almost) time-ordered dict."""
    return prefix_where(tier, lambda _: False, floor)


def prefix_where(records: dict[Any, Any], expired: Any, floor: int | None = None) -> list[Any]:
    """Leading keys that are expired; a straggler behind a live entry waits its turn."""
    keys = []
    for key, value in records.items():
        if (key >= floor) if floor is not None else not expired(value):
            break
        keys.append(key)
    return keys
