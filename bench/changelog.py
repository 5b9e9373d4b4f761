"""The worker's state changelog topic: how many records and bytes it holds."""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bench.common import Run


def changelog(run: Run, group: str, partitions: int) -> dict[str, Any]:
    """Records and bytes on disk of the worker's state changelog (not yet compacted)."""
    topic = f"{group}-kpi_state-changelog"
    dirs = [run.kafka_dir / "logs" / f"{topic}-{p}" for p in range(partitions)]
    size = sum(f.stat().st_size for d in dirs if d.exists() for f in d.glob("*.log"))
    consumer = KafkaConsumer(bootstrap_servers=run.bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        consumer.close()
    return {"topic": topic, "records": sum(ends.values()), "bytes": size}
