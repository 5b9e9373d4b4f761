"""Shared helpers: progress on stderr, child processes that report JSON, drain counters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STARTED = time.monotonic()
MARK = b"BENCH-RESULT "  # prefix of a child's result line on stdout
TOPIC_KINDS = ("touch", "reply", "meeting", "deal", "nps")
_COUNTER = re.compile(
    rb"^salespulse_events_(?:processed|duplicate|late|rejected)_total\{[^}]*\} (\S+)$", re.M)
_GAUGE = r"^{name} (\S+)$"


def say(text: str) -> None:
    """One progress line on stderr, stamped with the time since the bench started."""
    print(f"[bench {time.monotonic() - STARTED:6.0f}s] {text}", file=sys.stderr, flush=True)


def http_get(url: str, timeout: float = 30) -> bytes | None:
    """The body of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read())
    except OSError:
        return None


def consumed(body: bytes) -> int:
    """Messages a worker has dealt with: processed + duplicate + late + rejected."""
    return int(sum(float(v) for v in _COUNTER.findall(body)))


def gauge(body: bytes, name: str) -> float | None:
    match = re.search(_GAUGE.format(name=re.escape(name)).encode(), body, re.M)
    return float(match[1]) if match else None


@dataclass
class Run:
    """Where one bench run keeps its broker, files and logs."""

    bootstrap: str
    kafka_dir: Path
    workdir: Path
    stamp: str
    groups: int = 0

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def group(self, name: str) -> str:
        """A fresh consumer group (and Faust app id) for each subject and attempt."""
        self.groups += 1
        return f"bench-{self.stamp}-{name}-{self.groups}"


@dataclass
class Drain:
    """Counts messages in a child consumer; done when all arrived or none came for `idle_s`."""

    expected: int
    idle_s: float = 3.0
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def begin(self) -> None:
        """Mark the arrival of the first message (before any work on it)."""
        if not self.first:
            self.first = time.time()

    def hit(self, n: int = 1) -> None:
        now = time.time()
        if not self.first:
            self.first = now
        self.count += n
        self.last = now

    def done(self) -> bool:
        if self.count >= self.expected:
            return True
        return self.count > 0 and time.time() - self.last > self.idle_s

    def report(self) -> None:
        """Print the result as the child's last stdout line and leave at once."""
        span = max(self.last - self.first, 1e-9)
        doc = {"count": self.count, "first": self.first, "last": self.last,
               "seconds": span, "rate": self.count / span, **self.extra}
        # fd 1 itself: Faust swaps sys.stdout for a logger
        os.write(1, MARK + json.dumps(doc).encode() + b"\n")
        os._exit(0)  # frameworks' own shutdown would only add time and noise

    def watch(self, every: float = 0.05) -> None:
        """Report from a daemon thread once done (for frameworks that own the main loop)."""
        def loop() -> None:
            while not self.done():
                time.sleep(every)
            self.report()
        threading.Thread(target=loop, daemon=True).start()


def run_child(module: str, args: list[str], timeout: float, log: Path,
              profile: Path | None = None) -> dict[str, Any]:
    """Run `python -m module args` (sampled by py-spy into `profile` when given) and return
    the JSON of its result line."""
    from bench.profile import record

    with log.open("ab") as err:
        child = subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.PIPE,
                                 stderr=err)
        spy = record(child.pid, timeout, profile) if profile else None
        try:
            out, _ = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise RuntimeError(f"{module} still running after {timeout:.0f}s; see {log}") from None
        finally:
            if spy is not None:
                spy.wait(30)
    lines = [line for line in out.splitlines() if line.startswith(MARK)]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"{module} exited with {child.returncode} without a result; "
                           f"see {log}")
    return dict(json.loads(lines[-1][len(MARK):]))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
