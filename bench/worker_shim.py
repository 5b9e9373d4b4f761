"""`salespulse worker` with one bench-side guard against a crash in streams/app.py.

`StateSync.flush` iterates `pipeline.engine.reps.items()` while awaiting producer sends;
a rep first seen during that await raises `RuntimeError: dictionary changed size during
iteration` in the consumer's commit, which stops the worker (seen within the first few
thousand events of a 1,000-rep backlog). Until streams/app.py iterates a copy, this module
hands it one: `items()` of the reps dict returns a list. Nothing else changes.
"""

from __future__ import annotations

import os
import sys
from typing import Any


class SnapshotItems(dict):  # type: ignore[type-arg]
    """A dict whose items() is a list, safe to iterate across awaits."""

    def items(self) -> Any:
        return list(super().items())


def main(argv: list[str]) -> int:
    if "--web-port" in argv:  # streams.app reads its settings when imported
        os.environ["SALESPULSE_WEB_PORT"] = argv[argv.index("--web-port") + 1]
    import streams.app
    from streams.cli import main as cli

    engine = streams.app.pipeline.engine
    engine.reps = SnapshotItems(engine.reps)
    return cli(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
