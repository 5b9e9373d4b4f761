"""The user docs generated from the catalog are committed and up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.catalog import ALERTS, KPIS, MEASURES
from streams.render.docs import GENERATED, kpis_markdown

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted(GENERATED))
def test_generated_docs_are_fresh(path: str) -> None:
    assert (ROOT / path).read_text(encoding="utf-8") == GENERATED[path](), (
        f"{path} is stale: run `python -m streams.render` and commit the result")


def test_every_measure_kpi_and_alert_is_documented() -> None:
    text = kpis_markdown()
    for name in [m.name for m in MEASURES] + [k.name for k in KPIS] + [a.name for a in ALERTS]:
        assert name in text
    assert all(k.seed in text for k in KPIS)
