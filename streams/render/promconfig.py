"""prometheus.yml: scrape the workers, load the generated rules, alert via Alertmanager.

The committed file is for docker-compose.yml (every `worker` replica is found through
DNS, so `docker compose up --scale worker=3` is scraped whole); tests render the same
config with loopback targets and a short interval.
"""

from __future__ import annotations

from typing import Any

from streams.catalog import JOB
from streams.render import yamltext

OUTPUT = "prometheus/prometheus.yml"
RULE_FILES = ["rules/*.yml"]  # relative to prometheus.yml, as mounted in the container


def config(workers: list[str] | None = None, worker_dns: tuple[str, int] | None = None,
           alertmanagers: tuple[str, ...] = ("alertmanager:9093",),
           rule_files: list[str] | None = None, interval: str = "15s",
           self_scrape: str | None = "localhost:9090") -> dict[str, Any]:
    """Workers as static `host:port` targets, or as a DNS name and port."""
    if worker_dns is not None:
        workers_sd: dict[str, Any] = {"dns_sd_configs": [
            {"names": [worker_dns[0]], "type": "A", "port": worker_dns[1]}]}
    else:
        workers_sd = {"static_configs": [{"targets": list(workers or [])}]}
    scrape = [{"job_name": JOB, "metrics_path": "/metrics", **workers_sd}]
    if self_scrape:
        scrape.append({"job_name": "prometheus", "static_configs": [{"targets": [self_scrape]}]})
        scrape += [{"job_name": "alertmanager",
                    "static_configs": [{"targets": list(alertmanagers)}]}]
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": rule_files or RULE_FILES,
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]},
        "scrape_configs": scrape,
    }


def render_prometheus() -> dict[str, str]:
    return {OUTPUT: yamltext.dump(config(worker_dns=("worker", 6066)))}
