"""The goals file: precedence, shorthands, and one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.goals import Goal, Goals, GoalsError, load, parse

ROOT = Path(__file__).resolve().parents[2]
FILE = """\
defaults:
  close_ratio: 0.6
teams:
  emea:
    weekly_revenue_target: 50000
    goals:
      close_ratio: 0.7
      meeting_acceptance_rate: {threshold: 0.25, min_sample: 8}
  apac:
    goals:
      avg_revenue_per_sale: 0.5
reps:
  r-7:
    weekly_quota: 12000
    goals:
      close_ratio: {min_sample: 2}
  r-8:
    goals:
      close_ratio: 0.9
"""


def test_a_rep_beats_its_team_which_beats_the_defaults_which_beat_the_catalog() -> None:
    goals = parse(FILE)
    assert goals.goal("close_ratio", "emea", "r-8") == Goal(0.9, 5)  # the rep's threshold
    assert goals.goal("close_ratio", "emea", "r-7") == Goal(0.7, 2)  # team's, rep's sample
    assert goals.goal("close_ratio", "emea", "r-1") == Goal(0.7, 5)
    assert goals.goal("close_ratio", "nordics", "r-1") == Goal(0.6, 5)  # the defaults
    assert goals.goal("show_rate", "emea", "r-7") == Goal(0.7, 5)  # the catalog's
    assert goals.goal("meeting_acceptance_rate", "emea") == Goal(0.25, 8)
    assert goals.goal("avg_revenue_per_sale", "apac") == Goal(0.5, 3)  # a factor
    assert goals.targets == {"emea": 50_000.0} and goals.quotas == {"r-7": 12_000.0}


def test_overrides_list_every_goal_the_file_sets() -> None:
    assert sorted(parse(FILE).overrides()) == sorted([
        ("default", "", "close_ratio", "threshold", 0.6),
        ("team", "emea", "close_ratio", "threshold", 0.7),
        ("team", "emea", "meeting_acceptance_rate", "threshold", 0.25),
        ("team", "emea", "meeting_acceptance_rate", "min_sample", 8),
        ("team", "apac", "avg_revenue_per_sale", "threshold", 0.5),
        ("rep", "r-7", "close_ratio", "min_sample", 2),
        ("rep", "r-8", "close_ratio", "threshold", 0.9)])


def test_the_shipped_file_holds_the_demo_targets_and_an_empty_file_no_goals() -> None:
    shipped = load(ROOT / "goals.yml")
    assert shipped.targets == {"team-00": 50_000.0, "team-01": 40_000.0, "team-02": 30_000.0,
                               "team-03": 20_000.0}
    assert list(shipped.overrides()) == [] and shipped.quotas == {}
    assert parse("") == Goals()


@pytest.mark.parametrize("text, error", [
    ("teams:\n  emea:\n    goals:\n      close_rate: 0.6\n",
     "goals.yml:4: teams.emea.goals.close_rate: unknown KPI; goals can be set for "),
    ("defaults:\n  close_ratio: 1.5\n",
     "goals.yml:2: defaults.close_ratio.threshold: must be between 0 and 1, got 1.5"),
    ("reps:\n  r-1:\n    weekly_quota: -100\n",
     "goals.yml:3: reps.r-1.weekly_quota: must be above 0, got -100"),
    ("teams:\n  emea:\n    weekly_target: 100\n",
     "goals.yml:3: teams.emea.weekly_target: unknown key; expected one of "
     "weekly_revenue_target, goals"),
    ("targets: {}\n", "goals.yml:1: targets: unknown key; expected one of defaults, teams"),
    ("defaults:\n  close_ratio: {threshold: 0.5, min: 3}\n",
     "goals.yml:2: defaults.close_ratio.min: unknown key; expected one of threshold"),
    ("defaults:\n  show_rate: lots\n",
     "goals.yml:2: defaults.show_rate.threshold: must be a number, got 'lots'"),
    ("defaults:\n  show_rate: {min_sample: -1}\n",
     "goals.yml:2: defaults.show_rate.min_sample: must be at least 0, got -1"),
    ("teams: [emea]\n", "goals.yml:1: teams: must be a mapping"),
    ("defaults: {close_ratio: 0.5\n", "goals.yml:2: not valid YAML"),
])
def test_a_mistake_is_one_error_naming_the_file_line_and_key(text: str, error: str) -> None:
    with pytest.raises(GoalsError) as caught:
        parse(text)
    assert str(caught.value).startswith(error), str(caught.value)


def test_a_missing_file_is_an_error_too(tmp_path: Path) -> None:
    with pytest.raises(GoalsError, match="cannot read the goals file"):
        load(tmp_path / "nope.yml")
