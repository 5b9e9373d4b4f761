"""An Alertmanager webhook receiver: keeps every notification, and as the demo's console
pager prints each firing alert as a line a person reads."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

Notification = tuple[str, dict[str, Any]]  # (receiver: the URL path, Alertmanager's payload)


class Receiver:
    """Webhook endpoint on a free loopback port; `{url}/{receiver}` per receiver."""

    def __init__(self, on_notification: Callable[[str, dict[str, Any]], None] | None = None
                 ) -> None:
        self.received: list[Notification] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver, payload = self.path.strip("/"), json.loads(body)
                with hook._lock:
                    hook.received.append((receiver, payload))
                if on_notification is not None:
                    on_notification(receiver, payload)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def alerts(self, receiver: str | None = None) -> list[dict[str, Any]]:
        """Every alert delivered (to `receiver`)."""
        with self._lock:
            return [alert for path, payload in self.received
                    if receiver is None or path == receiver for alert in payload["alerts"]]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def page_line(receiver: str, alert: dict[str, Any]) -> str:
    """`PAGE team-02-manager: <summary> (<the counts behind it>)`."""
    notes = alert.get("annotations", {})
    text = notes.get("summary") or alert["labels"].get("alertname", "an alert")
    extra = [notes[k] for k in ("counts", "team_value") if notes.get(k)]
    word = "PAGE" if alert.get("status", "firing") == "firing" else "RESOLVED"
    return f"{word} {receiver}: {text}" + (f" ({'; '.join(extra)})" if extra else "")


def console_pager(out: TextIO = sys.stdout) -> Receiver:
    """A receiver that prints a line per alert when it starts firing (a notification
    repeats every alert of its group) and when it resolves."""
    lock = threading.Lock()
    firing: set[tuple[str, str]] = set()

    def show(receiver: str, payload: dict[str, Any]) -> None:
        with lock:
            for alert in payload.get("alerts", []):
                key = (receiver, alert.get("fingerprint") or str(sorted(alert["labels"].items())))
                now_firing = alert.get("status", "firing") == "firing"
                if now_firing != (key in firing):
                    (firing.add if now_firing else firing.discard)(key)
                    print(page_line(receiver, alert), file=out, flush=True)

    return Receiver(show)
