"""Prometheus metrics of the receiver, served on GET /metrics.

With several uvicorn workers each process counts for itself; `serve` points them all at one
PROMETHEUS_MULTIPROC_DIR and /metrics then adds them up (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "zoom_ingest_receiver_requests",
    "Webhook requests by outcome: accepted, url_validation, or the reason for refusing them",
    ["outcome"],
)
ENQUEUE_SECONDS = Histogram(
    "zoom_ingest_receiver_enqueue_seconds",
    "Time from accepting a webhook to Redis acknowledging it (includes waiting for its group)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
REQUEST_BYTES = Histogram(
    "zoom_ingest_receiver_request_bytes",
    "Size of webhook request bodies",
    buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
)

# Outcomes of answers the endpoint itself does not give (Starlette answers them earlier).
OUTCOME_BY_STATUS = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
OUTCOME_KEY = "zoom_ingest.outcome"


def set_outcome(request: Request, outcome: str) -> None:
    request.scope[OUTCOME_KEY] = outcome


class CountRequests:
    """Counts every answer on the webhook path by outcome, whoever gave it."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path
        # REQUESTS.labels(outcome), looked up once per outcome rather than per request.
        self.counters: dict[str, Counter] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        size = 0

        async def counting_receive() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                outcome = scope.get(OUTCOME_KEY) or OUTCOME_BY_STATUS.get(status, f"http_{status}")
                counter = self.counters.get(outcome)
                if counter is None:
                    counter = self.counters[outcome] = REQUESTS.labels(outcome)
                counter.inc()
                if scope["method"] == "POST":
                    REQUEST_BYTES.observe(size)
            await send(message)

        await self.app(scope, counting_receive, counting_send)


async def metrics(request: Request) -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
