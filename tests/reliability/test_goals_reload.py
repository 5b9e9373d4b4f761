"""The goals file on a real worker: exported as metrics, re-read when it changes and on
SIGHUP; a broken file stops a starting worker and leaves a running one on its last good
goals."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.metrics import samples
from tests.support.world import World

pytestmark = pytest.mark.integration
GOAL = "salespulse_goal"


def goals_of(text: str | None) -> dict[tuple[str, str, str, str], float]:
    """{(scope, team or rep id, kpi, field): value} of the salespulse_goal samples."""
    out = {}
    for (name, labels), value in samples(text or "").items():
        if name == GOAL:
            d = dict(labels)
            group = d.get("team_id") or d.get("rep_id") or ""
            out[(d["scope"], group, d["kpi"], d["field"])] = value
    return out


def counter(text: str | None, name: str) -> float:
    return sum(v for (n, _), v in samples(text or "").items() if n == name)


def test_goals_are_exported_and_re_read_on_change_and_on_sighup(
        make_world: Callable[..., World], tmp_path: Path) -> None:
    path = tmp_path / "goals.yml"
    path.write_text("teams:\n  emea:\n    weekly_revenue_target: 5000\n"
                    "    goals:\n      close_ratio: 0.7\n")
    world = make_world(partitions=1)
    worker = world.worker({"SALESPULSE_GOALS": str(path)}).start()
    assert goals_of(worker.scrape()) == {("team", "emea", "close_ratio", "threshold"): 0.7}
    assert 'salespulse_team_revenue_target{team_id="emea"} 5000.0' in (worker.scrape() or "")

    path.write_text("reps:\n  r-1:\n    weekly_quota: 900\n    goals:\n"
                    "      show_rate: {threshold: 0.5, min_sample: 2}\n")
    want = {("rep", "r-1", "show_rate", "threshold"): 0.5,
            ("rep", "r-1", "show_rate", "min_sample"): 2.0}
    worker.wait_for(lambda: goals_of(worker.scrape()) == want, 30, "the changed goals")
    assert 'salespulse_rep_weekly_quota{rep_id="r-1"} 900.0' in (worker.scrape() or "")

    before = path.stat()
    path.write_text("defaults:\n  close_ratio: 0.6\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # unchanged to a poll
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGHUP)
    worker.wait_for(lambda: goals_of(worker.scrape()) == {
        ("default", "", "close_ratio", "threshold"): 0.6}, 30, "the goals read on SIGHUP")

    path.write_text("defaults:\n  close_ratio: 7\n")
    worker.wait_for(lambda: counter(worker.scrape(), "salespulse_goals_reload_failures_total")
                    == 1, 30, "the broken file to be refused")
    assert goals_of(worker.scrape()) == {("default", "", "close_ratio", "threshold"): 0.6}
    assert "goals.yml:2: defaults.close_ratio.threshold: must be between 0 and 1" in \
        worker.log_tail(50)
    assert worker.alive


def test_a_worker_does_not_start_with_a_broken_goals_file(
        make_world: Callable[..., World], tmp_path: Path) -> None:
    path = tmp_path / "goals.yml"
    path.write_text("teams:\n  emea:\n    goals:\n      close_rate: 0.6\n")
    worker = make_world(partitions=1).worker({"SALESPULSE_GOALS": str(path)})
    worker.start(timeout=0)
    assert worker.proc is not None and worker.proc.wait(60) == 2
    assert "goals.yml:4: teams.emea.goals.close_rate: unknown KPI" in worker.log_tail(5)
