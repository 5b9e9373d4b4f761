"""The worker's HTTP pages on Faust's web server: /metrics for Prometheus, /kpis for people
and scripts (the replay JSON), /runbook where the pages' runbook links point."""

from __future__ import annotations

import gzip
from typing import Any

from faust.web import Request, Response, View

from streams.catalog import WINDOW_BY_NAME
from streams.events import parse_timestamp
from streams.worker.internals.consumer import highwaters
from streams.worker.metrics import CONTENT_TYPE


def _as_of(request: Request) -> int | None:
    as_of = request.query.get("as_of")
    try:
        return None if as_of is None else parse_timestamp(as_of)
    except (ValueError, OverflowError):
        raise ValueError(f"as_of must be an RFC 3339 instant with an offset, e.g. "
                         f"2026-11-20T10:37:20Z; got {as_of!r}") from None


class Metrics(View):
    """Prometheus scrape; `?as_of=<RFC 3339>` reads a later instant (audits, tests)."""

    async def get(self, request: Request) -> Response:
        worker = self.app.worker  # type: ignore[attr-defined]
        try:
            as_of_us = _as_of(request)
        except ValueError as exc:
            return self.text(f"{exc}\n", status=400)
        body = worker.pipeline.scrape(as_of_us, highwaters(worker.app, worker.topics))
        if "gzip" not in request.headers.get("Accept-Encoding", ""):
            return self.bytes(body, content_type=CONTENT_TYPE)
        response = self.bytes(gzip.compress(body, compresslevel=1), content_type=CONTENT_TYPE)
        response.headers["Content-Encoding"] = "gzip"
        return response


class Kpis(View):
    """This worker's reps and their teams as the replay JSON; `?window=` keeps one window,
    `?as_of=` reads a later instant. With several workers each serves the reps it holds."""

    async def get(self, request: Request) -> Response:
        from streams.replay import dumps, to_doc

        pipeline = self.app.worker.pipeline  # type: ignore[attr-defined]
        window = request.query.get("window")
        if window is not None and window not in WINDOW_BY_NAME:
            return self.text(f"window must be one of {', '.join(WINDOW_BY_NAME)}; got "
                             f"{window!r}\n", status=400)
        try:
            as_of_us = _as_of(request)
        except ValueError as exc:
            return self.text(f"{exc}\n", status=400)
        doc = to_doc(pipeline.snapshot(as_of_us), pipeline.engine.counts.as_dict(), window)
        return self.bytes(dumps(doc), content_type="application/json")


class Runbook(View):
    """docs/runbook.md as a page, one anchor per alert (the pages' runbook_url)."""

    async def get(self, request: Request) -> Response:
        from streams.render.runbook import runbook_html

        return self.html(runbook_html())


def add_pages(app: Any) -> None:
    app.page("/metrics")(Metrics)
    app.page("/kpis")(Kpis)
    app.page("/runbook")(Runbook)
