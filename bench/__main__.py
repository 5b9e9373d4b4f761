"""`python -m bench`: install the `bench` extra when a package of it is missing, then run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

EXTRA = ("quixstreams", "confluent_kafka", "psutil", "pyinstrument")


def ensure_extra() -> None:
    """`make bench` sets up the dev venv only; the bench's own packages come from pip here."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if not (Path(sys.executable).parent / "py-spy").exists():
        missing.append("py-spy")
    if missing:
        root = Path(__file__).resolve().parents[1]
        print(f"bench: installing the bench extra ({', '.join(missing)} missing)",
              file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e",
                        f"{root}[bench]"], check=True)


if __name__ == "__main__":
    ensure_extra()
    from bench.run import main

    sys.exit(main())
