"""`python -m streams.render [--check]`: write (or check) every generated file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.render.alertmanager import TEAMS_FILE, load_routing, render_alertmanager

try:  # the boards are built with Grafana's SDK, an extra of its own
    from streams.render.dashboards import DASHBOARDS_DIR, render_grafana
except ModuleNotFoundError as exc:
    if not (exc.name or "").startswith("grafana_foundation_sdk"):
        raise
    raise SystemExit(f"python -m streams.render: {exc.name} is missing: install the render "
                     "extra, e.g. pip install -e '.[render]'") from None
from streams.render.docs import GENERATED as DOCS
from streams.render.promconfig import render_prometheus
from streams.render.promtests import TESTS_DIR, render_promtool_tests
from streams.render.rules import render_rules
from streams.render.runbook import render_runbook
from streams.render.schema import render_schema

# Folders whose every file of that kind is generated: a leftover one is stale too.
OWNED = ((DASHBOARDS_DIR, "*.json"), (TESTS_DIR, "*.yml"), ("prometheus/rules", "*.yml"))


def render_all(root: Path) -> dict[str, str]:
    """{repo-relative path: text} of every generated file, from the sources under root."""
    return {**render_rules(), **render_promtool_tests(), **render_prometheus(),
            **render_alertmanager(load_routing(root / TEAMS_FILE)), **render_grafana(),
            **render_runbook(), **render_schema(),
            **{path: render() for path, render in DOCS.items()}}


def stale(files: dict[str, str], out: Path) -> list[str]:
    """Paths under `out` that differ from `files`, are missing, or should not exist."""
    found = [path for path, text in files.items()
             if not (out / path).is_file() or (out / path).read_text() != text]
    for folder, pattern in OWNED:
        found += sorted(str(p.relative_to(out)) for p in (out / folder).glob(pattern)
                        if str(p.relative_to(out)) not in files)
    return found


def write(files: dict[str, str], out: Path) -> None:
    for folder, pattern in OWNED:
        for leftover in (out / folder).glob(pattern):
            if str(leftover.relative_to(out)) not in files:
                leftover.unlink()
    for path, text in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.render", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the files that are stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help=f"the repository ({TEAMS_FILE} is read from here; default: .)")
    parser.add_argument("--out", type=Path, help="write here instead of --root")
    args = parser.parse_args(argv)
    files = render_all(args.root)
    out = args.out or args.root
    if args.check:
        outdated = stale(files, out)
        if outdated:
            print("stale generated files (run `python -m streams.render` and commit them):\n  "
                  + "\n  ".join(outdated), file=sys.stderr)
            return 1
        print(f"{len(files)} generated files are up to date")
        return 0
    write(files, out)
    print(f"wrote {len(files)} files under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
