"""The alerting stack of the e2e tests: Prometheus and Alertmanager (streams/dev/daemons.py,
shared with the demo) and a webhook receiver that keeps every notification."""

from __future__ import annotations

from streams.dev.daemons import Daemon, alertmanager, binary, prometheus, query
from streams.dev.pager import Receiver as Webhook

__all__ = ["Daemon", "Webhook", "alertmanager", "binary", "prometheus", "query"]
