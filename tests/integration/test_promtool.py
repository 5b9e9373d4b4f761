"""promtool and amtool (Debian packages) accept the generated rules and configs, and the
generated promtool unit tests pass: every alert fires where it must and nowhere else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from streams.render.alertmanager import OUTPUT as AM_OUTPUT
from streams.render.alertmanager import (
    TEAMS_FILE,
    load_routing,
    render_alertmanager,
    with_webhooks,
)
from streams.render.rules import ALERTS_FILE, RECORDING_FILE, render_rules

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TESTS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "prometheus/tests").glob("*.yml"))


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # fail, never skip: CI must have the real tools
        pytest.fail(f"{name} not found: apt-get install prometheus prometheus-alertmanager "
                    "(scripts/setup.sh alerting)")
    return path


def run(*argv: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{output}"
    return output


@pytest.mark.parametrize("args", [
    ("check", "rules", RECORDING_FILE, ALERTS_FILE),
    ("check", "config", "prometheus/prometheus.yml"),
    ("test", "rules", *TESTS),
], ids=["check-rules", "check-config", "test-rules"])
def test_promtool(args: tuple[str, ...]) -> None:
    assert len(TESTS) >= 2
    out = run(tool("promtool"), *args)
    assert "FAILED" not in out


def test_amtool_accepts_the_committed_config() -> None:
    out = run(tool("amtool"), "check-config", AM_OUTPUT)
    assert "SUCCESS" in out


def test_the_short_test_variants_are_valid_too(tmp_path: Path) -> None:
    """The e2e test runs these: `for: 0s` rules and webhook receivers."""
    for path, text in render_rules(for_override="0s").items():
        (tmp_path / Path(path).name).write_text(text)
    routing = with_webhooks(load_routing(ROOT / TEAMS_FILE), lambda n: f"http://127.0.0.1:9/{n}",
                            {"group_wait": "1s"})
    (tmp_path / "alertmanager.yml").write_text(render_alertmanager(routing)[AM_OUTPUT])
    run(tool("promtool"), "check", "rules", *(str(p) for p in sorted(tmp_path.glob("*-*.yml"))))
    run(tool("amtool"), "check-config", str(tmp_path / "alertmanager.yml"))


def _routes() -> list[tuple[str, list[str]]]:
    routing = load_routing(ROOT / TEAMS_FILE)
    cases = [(receiver, [f"team_id={team}", "alertname=SalesCloseRatioLow", "component=kpi"])
             for team, receiver in routing.teams.items()]
    cases.append((routing.ops_receiver, ["alertname=SalespulseWorkerDown",
                                         "component=pipeline"]))
    cases.append((routing.ops_receiver, ["team_id=a-team-not-in-the-map", "component=kpi"]))
    return cases


@pytest.mark.parametrize("receiver, labels", _routes())
def test_amtool_routes_each_alert_to_the_mapped_receiver(receiver: str,
                                                         labels: list[str]) -> None:
    out = run(tool("amtool"), "config", "routes", "test", f"--config.file={AM_OUTPUT}",
              f"--verify.receivers={receiver}", *labels)
    assert out.splitlines()[0] == receiver
