"""`salespulse replay` end to end through streams.cli.main: outputs, exit codes, one-line errors."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli import main
from streams.replay_text import LABEL_WIDTH
from tests.unit import reference as ref

EXAMPLE = Path(__file__).parent / "example"  # a copy of design/example
EVENTS = EXAMPLE / "events.jsonl"
AS_OF = "2026-11-21T14:30:00Z"


@pytest.fixture(autouse=True)
def no_env_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALESPULSE_TEAM_TARGETS", raising=False)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["replay", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run a replay that must fail: exit 2, nothing on stdout, one line on stderr."""
    try:
        code = main(["replay", *args])
    except Exception as exc:  # a traceback is not a clear error
        pytest.fail(f"replay raised {type(exc).__name__}: {exc}")
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.endswith("\n") and err.count("\n") == 1 and err.startswith("salespulse replay: ")
    return err


def nps(event_id: str, at: str, **extra: Any) -> bytes:
    return orjson.dumps({"event_id": event_id, "type": "nps", "occurred_at": at, "rep_id": "r1",
                         "team_id": "t1", "score": 9, **extra})


def write(tmp_path: Path, data: bytes, name: str = "events.jsonl") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_json_output_of_the_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, str(EVENTS), "--as-of", AS_OF, "--format", "json", "-q")
    assert (code, err) == (0, "")
    got = orjson.loads(out)
    want = orjson.loads((EXAMPLE / f"expected-{AS_OF}.json").read_bytes())
    for section in ("reps", "teams"):
        for row in got[section]:
            row["measures"].pop("first_appointments_booked")
            for name in (*ref.TEAM_KPIS, *ref.REP_ONLY_KPIS):  # need targets and quotas
                row["kpis"].pop(name, None)
    assert got["events"].pop("after_as_of") == 0
    assert sum(got["events"].pop("rejected").values()) == sum(
        want["events"].pop("rejected").values())
    assert ref.differences(got, want) == []


def _block(out: str, team: str) -> dict[str, list[str]]:
    """A team's block of the table: KPI words -> the cells (team first, then each rep)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["team", team])
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        words, cells = line[:LABEL_WIDTH].strip(), line[LABEL_WIDTH:].split()
        rows[words] = cells
    return rows


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, str(EVENTS), "--as-of", AS_OF, "-q", "--targets", "north=10000")
    assert (code, err) == (0, "")
    assert out.startswith(f"KPIs over the last 7d as of {AS_OF}\n")
    north, south = _block(out, "north"), _block(out, "south")
    assert "a-1" in out and "b-2" in out
    assert north["reply rate"] == ["40%", "40%"]  # 2 of 5 prospects; team, then a-1
    assert north["meeting acceptance rate"] == ["67%", "67%"]  # 2 meetings booked of 3 replies
    assert north["sales cycle (days)"] == ["11.0", "11.0"]
    assert north["revenue per sale"] == ["4,200", "4,200"]
    # magic: 10000 / (4200 * 100% * 100%) = 2.4 a week; 1 first appointment booked = 42%
    assert north["magic number (30d, team)"] == ["2.4"]
    assert north["activity ratio (7d, team)"] == ["42%"]
    assert south["magic number (30d, team)"] == ["-"] and south["close ratio"] == ["0%", "0%"]
    assert "  -  no value: nothing in the KPI's denominator" in out
    assert out.rstrip().endswith(
        "Events: 18 applied, 1 duplicates, 0 late, 1 rejected (1 invalid_enum), 0 after as-of")


def test_table_window_choice(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, str(EVENTS), "--as-of", AS_OF, "-q", "--window", "1h")
    assert code == 0 and "last 1h" in out
    north = _block(out, "north")
    assert {c for words, cells in north.items() for c in cells} == {"-"}  # a quiet hour


def _many_reps(tmp_path: Path, reps: int) -> str:
    lines = [orjson.dumps({"event_id": f"e{i}", "type": "touch", "occurred_at": AS_OF,
                           "rep_id": f"rep-{i:04d}", "team_id": "t1", "prospect_id": "p",
                           "channel": "email"}) for i in range(reps)]
    return write(tmp_path, b"\n".join(lines) + b"\n")


def test_table_fits_the_terminal_width_or_goes_wide(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = _many_reps(tmp_path, 30)
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = cli(capsys, path, "-q")
    assert max(len(line) for line in out.splitlines() if "Legend" not in line) <= 80
    headings = [line for line in out.splitlines() if line.split()[:2] == ["team", "t1"]]
    assert len(headings) == 1  # the team's column once, its reps in several blocks
    blocks = [line for line in out.splitlines() if line.startswith("touches per prospect")]
    assert len(blocks) > 3 and all(f"rep-{i:04d}" in out for i in range(30))
    _, wide, _ = cli(capsys, path, "-q", "--wide")
    assert len([x for x in wide.splitlines() if x.startswith("touches per prospect")]) == 1
    assert max(len(line) for line in wide.splitlines()) > 80 * 3


def test_standard_input_and_gzip_are_read(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, want, _ = cli(capsys, str(EVENTS), "--as-of", AS_OF, "-q", "--format", "json")
    packed = write(tmp_path, gzip.compress(EVENTS.read_bytes()), "events.jsonl.gz")
    assert cli(capsys, packed, "--as-of", AS_OF, "-q", "--format", "json")[1] == want
    for data in (EVENTS.read_bytes(), gzip.compress(EVENTS.read_bytes())):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
        assert cli(capsys, "-", "--as-of", AS_OF, "-q", "--format", "json")[1] == want


def test_a_damaged_gzip_file_is_named_as_gzip(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    packed = gzip.compress(EVENTS.read_bytes() * 50)
    err = one_line_error(capsys, write(tmp_path, packed[: len(packed) // 2]), "-q")
    assert "(gzip) is damaged after" in err


def test_targets_from_the_environment(capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESPULSE_TEAM_TARGETS", "north=10000")
    code, out, _ = cli(capsys, str(EVENTS), "--as-of", AS_OF, "--format", "json", "-q")
    teams = orjson.loads(out)["teams"]
    magic = {(r["team_id"], r["window"]): r["kpis"]["magic_number"] for r in teams}
    assert magic[("north", "1h")] == pytest.approx(10000 / 4200)
    assert magic[("south", "30d")] is None


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = one_line_error(capsys, str(tmp_path / "nope.jsonl"), "--as-of", AS_OF)
    assert "nope.jsonl" in err


def test_directory_instead_of_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one_line_error(capsys, str(tmp_path), "--as-of", AS_OF)


@pytest.mark.parametrize("as_of", [
    "yesterday", "2026-11-20", "2026-11-20T10:00:00", "2026-11-20T25:00:00Z", "",
    "9999-12-31T23:59:59-05:00",  # parses, but lies past year 9999 in UTC: not writable
])
def test_bad_as_of(capsys: pytest.CaptureFixture[str], as_of: str) -> None:
    one_line_error(capsys, str(EVENTS), "--as-of", as_of, "-q")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, encoding: str) -> None:
    data = EVENTS.read_text(encoding="utf-8").encode(encoding)
    err = one_line_error(capsys, write(tmp_path, data), "--as-of", AS_OF, "-q")
    assert "UTF-16" in err


def test_bad_lines_are_counted_and_exit_0(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    lines = [b"\xef\xbb\xbf" + nps("a", "2026-11-20T10:00:00Z"), b"not json", b"[]", b"",
             b"   ", nps("b", "2026-11-20T10:00:00"), nps("c", "2026-11-20T10:00:00Z", score=11),
             b'{"event_id":"\xff"}', nps("d", "2026-11-20T10:01:00Z", type="call"),
             nps("a", "2026-11-20T10:00:00Z")]
    code, out, err = cli(capsys, write(tmp_path, b"\r\n".join(lines)), "--format", "json", "-q")
    assert (code, err) == (0, "")
    assert orjson.loads(out)["events"] == {
        "applied": 1, "duplicates": 1, "late": 0, "after_as_of": 0,
        "rejected": {"invalid_encoding": 1, "invalid_field": 1, "invalid_json": 1,
                     "invalid_timestamp": 1, "not_an_object": 1, "unknown_type": 1}}


@pytest.mark.parametrize(("times", "as_of"), [
    (["2026-11-20T10:00:00Z"], "2026-11-20T10:00:00.000001Z"),
    (["2026-11-20T12:00:00.5+02:00", "2026-11-20T09:00:00Z"], "2026-11-20T10:00:00.500001Z"),
    (["2026-11-20T09:59:59.999999Z", "2026-11-19T10:00:00Z"], "2026-11-20T10:00:00Z"),
])
def test_default_as_of_is_just_after_the_latest_event(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path, times: list[str],
                                                       as_of: str) -> None:
    lines = [nps(f"e{i}", at) for i, at in enumerate(times)]
    code, out, _ = cli(capsys, write(tmp_path, b"\n".join(lines)), "--format", "json", "-q")
    doc = orjson.loads(out)
    assert (code, doc["as_of"], doc["events"]["applied"]) == (0, as_of, len(times))


def test_default_as_of_ignores_late_events(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    """T follows the newest *applied* event; a late line never moves it."""
    lines = [nps("a", "2026-11-20T10:00:00Z"), nps("b", "2026-10-01T00:00:00Z")]
    code, out, _ = cli(capsys, write(tmp_path, b"\n".join(lines)), "--format", "json", "-q")
    doc = orjson.loads(out)
    assert doc["as_of"] == "2026-11-20T10:00:00.000001Z"
    assert doc["events"]["late"] == 1


@pytest.mark.parametrize("args", [
    ["--format", "json", "-q"],
    ["--format", "json", "-q", "--as-of", "0001-01-01T00:00:00+01:00"],
    ["-q", "--as-of", "0001-01-01T00:00:00+01:00"],
])
def test_instants_before_year_1_utc(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    args: list[str]) -> None:
    """0001-01-01T00:00:00+01:00 is 0000-12-31T23:00Z, not writable back: a result or a
    clear error, never a traceback."""
    path = write(tmp_path, nps("a", "0001-01-01T00:00:00+01:00"))
    try:
        code = main(["replay", path, *args])
    except Exception as exc:
        pytest.fail(f"replay raised {type(exc).__name__}: {exc}")
    out, err = capsys.readouterr()
    if code == 0:
        assert out and err == ""
    else:
        assert (code, out, err.count("\n")) == (2, "", 1)


def test_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = cli(capsys, write(tmp_path, b""), "--as-of", AS_OF, "--format", "json")
    doc = orjson.loads(out)
    assert (code, doc["as_of"], doc["reps"], doc["teams"]) == (0, AS_OF, [], [])


def test_bad_targets_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, str(EVENTS), "--targets", "north=lots")
    assert code == 2 and "north=lots" in err


GOALS = """\
teams:
  north:
    weekly_revenue_target: 10000
    goals:
      show_rate: {threshold: 0.5, min_sample: 1}
reps:
  a-1:
    weekly_quota: 1400
    goals:
      show_rate: {threshold: 1.0, min_sample: 1}
  b-2:
    weekly_quota: 700
    goals:
      show_rate: {min_sample: 1}
"""


def test_the_goals_file_gives_quotas_targets_and_marks_each_missed_goal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    goals = write(tmp_path, GOALS.encode(), "goals.yml")
    code, out, _ = cli(capsys, str(EVENTS), "--as-of", AS_OF, "-q", "--targets", goals,
                       "--format", "json")
    doc = orjson.loads(out)
    row = {(r["rep_id"], r["window"]): r["kpis"] for r in doc["reps"]}
    # a-1 won 4,200 within 7 days: a quota of 1,400 a week is 300% over 7d, 70% over 30d
    assert row[("a-1", "7d")]["quota_attainment"] == pytest.approx(3.0)
    assert row[("a-1", "30d")]["quota_attainment"] == pytest.approx(4200 / 6000)
    assert row[("b-2", "30d")]["quota_attainment"] == 0.0
    north = next(r["kpis"] for r in doc["teams"] if (r["team_id"], r["window"])
                 == ("north", "30d"))
    assert north["magic_number"] == pytest.approx(10000 / 4200)
    assert north["reps_at_quota_ratio"] == 0.0  # a-1 at 70% over 30d
    code, out, _ = cli(capsys, str(EVENTS), "--as-of", AS_OF, "-q", "--targets", goals)
    north, south = _block(out, "north"), _block(out, "south")
    # a-1 held its one meeting (show rate 100%): its own goal of 100% is met, nothing marked
    assert code == 0 and north["show rate"] == ["100%", "100%"]
    assert north["quota attainment"] == ["-", "300%"]
    assert south["show rate"] == ["0%", "0%!"]  # b-2 missed its one: 0% against 70%
    assert "  !  the rep misses its goal" in out


def test_a_broken_goals_file_is_a_one_line_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    goals = write(tmp_path, b"reps:\n  a-1:\n    weekly_quota: -5\n", "goals.yml")
    err = one_line_error(capsys, str(EVENTS), "--targets", goals)
    assert "goals.yml:3: reps.a-1.weekly_quota: must be above 0" in err
