"""Command line of the consumer children: where to read and how much to expect."""

from __future__ import annotations

import argparse
import logging


def parse(description: str, *extra: str) -> argparse.Namespace:
    """--bootstrap, --topics (comma-separated), --group, --expected, --state-dir (where a
    framework keeps its files), and `extra` string options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topics", required=True, type=lambda s: s.split(","))
    parser.add_argument("--group", required=True)
    parser.add_argument("--expected", required=True, type=int)
    parser.add_argument("--state-dir", default=None)
    for name in extra:
        parser.add_argument(f"--{name}", default="")
    for noisy in ("aiokafka", "faust", "mode", "quixstreams"):  # as the worker does
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return parser.parse_args()
