"""The worker's HTTP pages on Faust's web server."""

from __future__ import annotations

import gzip
from typing import Any

from faust.web import Request, Response, View

from streams.events import parse_timestamp
from streams.worker.internals.consumer import highwaters
from streams.worker.metrics import CONTENT_TYPE


class Metrics(View):
    """Prometheus scrape; `?as_of=<RFC 3339>` reads a later instant (audits, tests)."""

    async def get(self, request: Request) -> Response:
        worker = self.app.worker  # type: ignore[attr-defined]
        as_of = request.query.get("as_of")
        try:
            as_of_us = None if as_of is None else parse_timestamp(as_of)
        except ValueError:
            return self.text(f"as_of must be an RFC 3339 instant, got {as_of!r}\n", status=400)
        body = worker.pipeline.scrape(as_of_us, highwaters(worker.app, worker.topics))
        if "gzip" not in request.headers.get("Accept-Encoding", ""):
            return self.bytes(body, content_type=CONTENT_TYPE)
        response = self.bytes(gzip.compress(body, compresslevel=1), content_type=CONTENT_TYPE)
        response.headers["Content-Encoding"] = "gzip"
        return response


def add_pages(app: Any) -> None:
    app.page("/metrics")(Metrics)
