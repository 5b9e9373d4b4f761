"""The Apache Kafka broker jars: fetched from Maven Central once, cached per version."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

KAFKA_VERSION = "4.4.0"  # keep in step with kafka.version in kafka-broker/pom.xml
# Not "kafka/": a top-level dir of that name shadows kafka-python for mypy and ruff.
POM = Path(__file__).resolve().parents[2] / "kafka-broker" / "pom.xml"


class LocalKafkaError(RuntimeError):
    """The local broker or its toolchain could not be set up."""


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "salespulse" / f"kafka-{KAFKA_VERSION}"
    return Path(os.environ.get("SALESPULSE_KAFKA_CACHE") or default)


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LocalKafkaError(f"{tool} not found: {hint}")
    return path


def ensure_jars() -> Path:
    """Return the directory of broker jars, fetching them with Maven the first time."""
    _require("java", "install OpenJDK 17 (apt-get install openjdk-17-jre-headless)")
    root = cache_dir()
    # Versioned marker: an overridden cache dir may hold another version's jars.
    libs, marker = root / "libs", root / f".complete-{KAFKA_VERSION}"
    if marker.exists():
        return libs
    mvn = _require("mvn", "install Maven (apt-get install maven)")
    root.mkdir(parents=True, exist_ok=True)
    # Locked: parallel test runs or CI jobs may fill the same cache at once.
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return libs
        print(f"fetching Kafka {KAFKA_VERSION} jars with Maven (once, into {root})...",
              file=sys.stderr, flush=True)
        shutil.rmtree(libs, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={KAFKA_VERSION}",
               "dependency:copy-dependencies", f"-DoutputDirectory={libs}"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise LocalKafkaError(f"mvn failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        marker.touch()  # only now, so a half-done fetch is redone
    return libs
