"""Series and constants shared by the generated promtool tests."""

from __future__ import annotations

import re

from streams.catalog import JOB
from streams.render.cases import Rows
from streams.render.promql import number
from streams.render.rules import ALERTS_FILE, RECORDING_FILE

RULE_FILES = [
    f"../rules/{RECORDING_FILE.rsplit('/', 1)[1]}",
    f"../rules/{ALERTS_FILE.rsplit('/', 1)[1]}",
]
SCRAPED = {"instance": "worker-1:6066", "job": JOB}


def minutes(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smh])", duration)
    if not match:
        raise ValueError(f"bad duration {duration!r}")
    seconds = int(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2]]
    return -(-seconds // 60)


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted({**SCRAPED, **labels}.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def constant(value: float, points: int) -> str:
    return f"{number(value)}x{points}"


def measure_series(rows: Rows, points: int) -> list[dict[str, str]]:
    out = []
    for (rep, team, window), values in rows.items():
        for measure, value in values.items():
            out.append(
                series(
                    f"salespulse_{measure}",
                    {"rep_id": rep, "team_id": team, "window": window},
                    constant(value, points),
                )
            )
    return out
