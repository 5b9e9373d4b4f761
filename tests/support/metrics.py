"""Read /metrics samples and compare them with `salespulse replay` output."""

from __future__ import annotations

import math
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from streams.catalog import MEASURES


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} for every sample in an exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def measure_samples(text: str) -> dict[tuple[str, str, str, str], float]:
    """{(measure, rep_id, team_id, window): value} of the salespulse_<measure> gauges."""
    names = {m.metric: m.name for m in MEASURES}
    out = {}
    for (name, labels), value in samples(text).items():
        if name in names:
            d = dict(labels)
            out[(names[name], d["rep_id"], d["team_id"], d["window"])] = value
    return out


def replay_samples(report: dict[str, Any]) -> dict[tuple[str, str, str, str], float]:
    """The same keys, from replay's JSON rep rows."""
    return {(name, row["rep_id"], row["team_id"], row["window"]): float(value)
            for row in report["reps"] for name, value in row["measures"].items()}


def assert_same(scraped: dict[Any, float], expected: dict[Any, float]) -> None:
    missing = sorted(set(expected) - set(scraped))[:5]
    extra = sorted(set(scraped) - set(expected))[:5]
    assert not missing and not extra, f"missing {missing}, unexpected {extra}"
    wrong = [(k, scraped[k], v) for k, v in expected.items()
             if not math.isclose(scraped[k], v, rel_tol=1e-9, abs_tol=1e-9)]
    assert not wrong, f"{len(wrong)} samples differ from replay, e.g. {wrong[:5]}"
