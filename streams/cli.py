"""The `salespulse` command: replay, kpis, worker, produce, generate, demo."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from streams.catalog import WINDOW_BY_NAME


def _goals(text: str | None) -> Any:
    """The goals file named (or $SALESPULSE_GOALS), else inline weekly targets
    ('emea=50000,...', or $SALESPULSE_TEAM_TARGETS)."""
    from streams.goals import Goals, load
    from streams.settings import parse_targets

    text = text or os.environ.get("SALESPULSE_GOALS") or ""
    if text and ("=" not in text or Path(text).exists()):
        return load(text)
    return Goals(targets=parse_targets(text or os.environ.get("SALESPULSE_TEAM_TARGETS", "")))


def _replay(args: argparse.Namespace) -> int:
    from streams.engine import EngineConfig
    from streams.events import parse_timestamp
    from streams.replay import ReplayError, dumps, replay, to_doc
    from streams.replay_text import to_table

    try:
        goals = _goals(args.targets)
    except ValueError as exc:  # GoalsError, or a bad inline target
        print(f"salespulse replay: {exc}", file=sys.stderr)
        return 2
    config = EngineConfig(team_targets=goals.targets, quotas=goals.quotas)
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
    doc = to_doc(result.snapshot, result.engine.counts.as_dict())
    if args.format == "json":
        sys.stdout.buffer.write(dumps(doc))
    else:
        sys.stdout.write(to_table(doc, args.window, goals, None if args.wide else 0))
    return 0


def _kpis(args: argparse.Namespace) -> int:
    """The live KPIs of a running worker (its /kpis), as the replay table or JSON."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    from streams.replay_text import to_table

    try:
        goals = _goals(args.targets)
    except ValueError as exc:
        print(f"salespulse kpis: {exc}", file=sys.stderr)
        return 2
    query = {"window": args.window, **({"as_of": args.as_of} if args.as_of else {})}
    url = f"{args.url.rstrip('/')}/kpis?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:  # the worker's own one-line reason
        print(f"salespulse kpis: {url}: {exc.read().decode(errors='replace').strip()}",
              file=sys.stderr)
        return 2
    except (urllib.error.URLError, OSError) as exc:
        print(f"salespulse kpis: no worker answers at {args.url} ({getattr(exc, 'reason', exc)})"
              "; start one (salespulse worker) or pass --url", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.buffer.write(body)
        return 0
    sys.stdout.write(to_table(json.loads(body), args.window, goals, None if args.wide else 0))
    return 0


def _worker(args: argparse.Namespace) -> int:
    import dataclasses

    from streams.settings import Settings, SettingsError
    from streams.worker.memory import limit_arenas

    limit_arenas()  # before Faust starts its threads
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"salespulse worker: {exc}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(settings, web_host=args.web_host or settings.web_host,
                                   web_port=args.web_port or settings.web_port)
    from streams.worker.startup import login_refused

    refused = login_refused(settings)
    if refused:  # Faust would only say "unable to bootstrap" after a traceback
        print(f"salespulse worker: {refused}", file=sys.stderr)
        return 3
    from streams.goals import GoalsError
    from streams.worker.app import build_app
    from streams.worker.startup import quiet_logs, say_to_stderr, wait_for_kafka

    quiet_logs()
    try:
        wait_for_kafka(settings, say_to_stderr)
    except KeyboardInterrupt:
        return 0

    try:
        app = build_app(settings)
    except GoalsError as exc:
        print(f"salespulse worker: {exc}; the worker does not start with a broken goals "
              "file (docs/goals.md)", file=sys.stderr)
        return 2
    print(f"salespulse worker: metrics on http://{settings.web_host}:{settings.web_port}/metrics"
          f", Kafka at {settings.bootstrap_servers}", file=sys.stderr, flush=True)
    sys.argv = ["salespulse", "worker", "-l", args.loglevel, "--web-port",
                str(settings.web_port), "--web-bind", settings.web_host]
    app.main()
    return 0


def _generate(args: argparse.Namespace) -> int:
    import time

    from streams.dev.generator import Generator, spaced, stream, wall_clock

    gen = Generator(reps=args.reps, teams=args.teams, seed=args.seed, skill=args.skill)
    if args.output:
        count = args.count if args.count is not None else 10_000
        step_us = int(1e6 / args.rate) if args.rate else 1_000_000
        times = spaced(time.time_ns() // 1000 - count * step_us, step_us, count, args.seed)
        with open(args.output, "wb") as out:
            for _, value in stream(gen, times, args.bad_ratio, args.dup_ratio):
                out.write(value + b"\n")
        return 0
    from streams.dev.produce import publish
    from streams.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"salespulse generate: {exc}", file=sys.stderr)
        return 2
    live = stream(gen, wall_clock(args.count or 2**62), args.bad_ratio, args.dup_ratio)
    sent = publish(settings, live, rate=args.rate, progress_every=args.progress)
    print(f"generate: sent {sent:,} events", file=sys.stderr)
    return 0


def _produce(args: argparse.Namespace) -> int:
    from collections import Counter

    from streams.dev.produce import publish, valid_lines
    from streams.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
        lines = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except (SettingsError, OSError) as exc:
        print(f"salespulse produce: {exc}", file=sys.stderr)
        return 2
    rejected: Counter[str] = Counter()
    with lines:
        sent = publish(settings, valid_lines(lines, rejected), rate=args.rate,
                       progress_every=args.progress)
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(rejected.items()))
    print(f"produce: sent {sent:,} events to {settings.bootstrap_servers}"
          + (f"; not sent (invalid): {skipped}" if skipped else ""), file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from streams.dev.demo import run

    return run(args.rate, args.web_port)


def _skill(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"LOW,HIGH such as 0.5,1.5; got {text!r}") from None
    return low, high


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salespulse", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    rp = commands.add_parser("replay", help="compute every KPI from a JSON Lines file")
    rp.add_argument("file", help="events, one JSON object per line ('-': standard input; "
                                 "gzip is read as such)")
    rp.add_argument("--as-of", default=None,
                    help="instant T (RFC 3339); default: just after the latest event")
    rp.add_argument("--format", choices=("table", "json"), default="table")
    rp.add_argument("--window", choices=tuple(WINDOW_BY_NAME), default="7d",
                    help="window shown by --format table (default 7d)")
    rp.add_argument("--targets", metavar="FILE", default=None,
                    help="the goals file (docs/goals.md; default $SALESPULSE_GOALS), or "
                         "inline weekly revenue targets, e.g. 'emea=50000,north=20000' "
                         "(default: $SALESPULSE_TEAM_TARGETS)")
    rp.add_argument("--wide", action="store_true",
                    help="one block per team however wide (default: fit the terminal)")
    rp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    rp.set_defaults(run=_replay)

    kp = commands.add_parser("kpis", help="the live KPIs of a running worker, as a table")
    kp.add_argument("--url", default=os.environ.get("SALESPULSE_URL", "http://127.0.0.1:6066"),
                    help="the worker's web address (default $SALESPULSE_URL or "
                         "http://127.0.0.1:6066)")
    kp.add_argument("--window", choices=tuple(WINDOW_BY_NAME), default="7d")
    kp.add_argument("--as-of", default=None, help="a later instant (RFC 3339); default: now")
    kp.add_argument("--format", choices=("table", "json"), default="table")
    kp.add_argument("--targets", metavar="FILE", default=None,
                    help="the goals file, to mark missed goals (default $SALESPULSE_GOALS)")
    kp.add_argument("--wide", action="store_true", help="do not fit the terminal width")
    kp.set_defaults(run=_kpis)

    wk = commands.add_parser("worker", help="run the Faust worker (Kafka -> /metrics)")
    wk.add_argument("--web-host", help="address /metrics binds to (default $SALESPULSE_WEB_HOST "
                                       "or 127.0.0.1)")
    wk.add_argument("--web-port", type=int, help="port of /metrics (default "
                                                 "$SALESPULSE_WEB_PORT or 6066)")
    wk.add_argument("-l", "--loglevel", default="info",
                    choices=("crit", "error", "warn", "info", "debug"))
    wk.set_defaults(run=_worker)

    pr = commands.add_parser("produce", help="publish a JSON Lines file to the typed topics, "
                                             "keyed by rep_id")
    pr.add_argument("file", help="events, one JSON object per line ('-': standard input)")
    pr.add_argument("--rate", type=float, default=0, help="events per second (default: as "
                                                          "fast as Kafka takes them)")
    pr.add_argument("--progress", type=int, default=10_000, help="report every N events")
    pr.set_defaults(run=_produce)

    gn = commands.add_parser("generate", help="realistic demo events to Kafka or a file")
    gn.add_argument("--output", help="write JSON Lines here instead of producing to Kafka")
    gn.add_argument("--rate", type=float, default=50.0, help="events per second (default 50)")
    gn.add_argument("--count", type=int, help="events to make (default: forever to Kafka, "
                                              "10,000 to a file)")
    gn.add_argument("--reps", type=int, default=20)
    gn.add_argument("--teams", type=int, default=4)
    gn.add_argument("--bad-ratio", type=float, default=0.01, help="share of invalid messages")
    gn.add_argument("--dup-ratio", type=float, default=0.01, help="share of re-sent events")
    gn.add_argument("--seed", type=int, default=7)
    gn.add_argument("--skill", type=_skill, default=(0.5, 1.5), metavar="LOW,HIGH",
                    help="range of the reps' skill (default 0.5,1.5; 1.0 is on the goals)")
    gn.add_argument("--progress", type=int, default=1000, help="report every N events")
    gn.set_defaults(run=_generate)

    dm = commands.add_parser("demo", help="Kafka, worker, Prometheus, Alertmanager, a console "
                                          "pager and demo traffic, until Ctrl-C")
    dm.add_argument("--rate", type=float, default=20.0, help="demo events per second")
    dm.add_argument("--web-port", type=int, help="port of the worker's pages (default "
                                                 "$SALESPULSE_WEB_PORT or 6066)")
    dm.set_defaults(run=_demo)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
