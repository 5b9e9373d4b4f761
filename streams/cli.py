"""The `salespulse` command: replay, worker, generate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.catalog import WINDOW_BY_NAME


def _targets(text: str) -> dict[str, float]:
    from streams.settings import parse_targets

    try:
        return parse_targets(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _replay(args: argparse.Namespace) -> int:
    from streams.engine import EngineConfig
    from streams.replay import ReplayError, replay, to_json
    from streams.table import to_table

    from streams.events import parse_timestamp

    config = EngineConfig(team_targets=args.targets)
    try:
        as_of = None if args.as_of is None else parse_timestamp(args.as_of)
    except (ValueError, OverflowError):
        print(f"salespulse replay: --as-of {args.as_of!r} is not an RFC 3339 instant with an "
              "offset, e.g. 2026-11-20T10:37:20Z", file=sys.stderr)
        return 2
    try:
        result = replay(Path(args.file), as_of, config, progress=not args.quiet)
    except ReplayError as exc:
        print(f"salespulse replay: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.buffer.write(to_json(result))
    else:
        sys.stdout.write(to_table(result, args.window))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salespulse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    rp = commands.add_parser("replay", help="compute every KPI from a JSON Lines file")
    rp.add_argument("file", help="events, one JSON object per line")
    rp.add_argument("--as-of", default=None,
                    help="instant T (RFC 3339); default: just after the latest event")
    rp.add_argument("--format", choices=("table", "json"), default="table")
    rp.add_argument("--window", choices=tuple(WINDOW_BY_NAME), default="7d",
                    help="window shown by --format table (default 7d)")
    rp.add_argument("--targets", type=_targets, default={},
                    help="weekly revenue targets, e.g. 'emea=50000,north=20000' "
                         "(default: $SALESPULSE_TEAM_TARGETS)")
    rp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    rp.set_defaults(run=_replay)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "targets", None) == {}:
        from streams.settings import targets_from_env

        args.targets = targets_from_env()
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
