"""Configuration from the environment (12-factor), with the defaults of the design docs."""

from __future__ import annotations

import os


def parse_targets(text: str) -> dict[str, float]:
    """'emea=50000,north=20000' -> {'emea': 50000.0, 'north': 20000.0}."""
    targets: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        team, sep, amount = item.rpartition("=")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not sep or not team or value <= 0:
            raise ValueError(f"bad team target {item!r}: write team=amount with amount > 0, "
                             "e.g. emea=50000")
        targets[team] = value
    return targets


def targets_from_env() -> dict[str, float]:
    return parse_targets(os.environ.get("SALESPULSE_TEAM_TARGETS", ""))
