"""`python -m streams.dev`: fetch the Kafka jars, run a local broker, create topics."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from streams.dev.kafka_jars import ensure_jars
from streams.dev.localkafka import LocalKafka, LocalKafkaError, create_topics, tail


def _run(port: int | None, data_dir: str | None) -> int:
    # SIGTERM (a supervisor, `kill`) stops the broker as cleanly as Ctrl-C does; SIGINT is
    # set too because a shell without job control starts `... &` with SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    with LocalKafka(port=port, data_dir=data_dir) as kafka:
        print(f"KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap}", flush=True)
        try:
            while kafka.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping Kafka...", file=sys.stderr, flush=True)
            return 0
        print(f"Kafka died:\n{tail(kafka.log_path)}", file=sys.stderr)
        return 1


def _create_topics(bootstrap: str | None, topics: list[str], partitions: int | None) -> int:
    """The named topics, or every topic the worker reads and writes, from the same
    environment as the worker (SALESPULSE_TOPIC_*, SALESPULSE_PARTITIONS)."""
    from streams.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = topics or sorted({*settings.event_topics, settings.dead_letter_topic})
    created = create_topics(bootstrap or settings.bootstrap_servers, names,
                            partitions or settings.partitions)
    print(f"created: {' '.join(created) or '(none: all existed)'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.dev", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="download the broker jars (once)")
    run = sub.add_parser("run", help="run a broker in the foreground until Ctrl-C/SIGTERM")
    run.add_argument("--port", type=int)
    run.add_argument("--data-dir", help="keep data here (default: a temp dir, removed on exit)")
    mk = sub.add_parser("create-topics", help="create the topics that do not exist yet; with "
                                              "none named, the worker's (its settings)")
    mk.add_argument("bootstrap", nargs="?", help="default $KAFKA_BOOTSTRAP_SERVERS")
    mk.add_argument("topics", nargs="*")
    mk.add_argument("--partitions", type=int, help="default $SALESPULSE_PARTITIONS")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "fetch":
            print(ensure_jars())
        elif args.cmd == "run":
            return _run(args.port, args.data_dir)
        else:
            return _create_topics(args.bootstrap, args.topics, args.partitions)
        return 0
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # interrupted before the broker was up
        return 130


if __name__ == "__main__":
    sys.exit(main())
