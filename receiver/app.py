"""The webhook endpoint: authenticate, answer the CRC challenge, put the raw body durably in Redis.

It parses only what it must (that the body is a JSON object with a string `event`) and never talks
to Elasticsearch; 200 means Redis has acknowledged the write. Redis calls run in a worker thread so
the event loop keeps accepting requests while one write is in flight.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from redis import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from receiver.authentication import AuthenticationError, Authenticator, crc_answer
from receiver.commit import GroupCommit, QueueFull
from receiver.metrics import ENQUEUE_SECONDS, CountRequests, metrics, set_outcome
from shared import queue
from shared.config import ConfigError, Settings, load_settings

log = logging.getLogger("zoom_ingest.receiver")

URL_VALIDATION_EVENT = "endpoint.url_validation"
# Zoom ignores Retry-After today; other senders and proxies honour it.
RETRY_AFTER_SECONDS = "5"
OUTCOME_BY_REJECTION = {400: "bad_request", 401: "unauthorized", 415: "unsupported_media_type"}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class Queued(Response):
    """The answer to an accepted webhook, as JSONResponse({"status": "queued"}) gives it, built
    without encoding it again for every request."""

    media_type = "application/json"
    queued_body = JSONResponse({"status": "queued"}).body
    queued_headers = JSONResponse({"status": "queued"}).raw_headers

    def __init__(self) -> None:
        self.status_code = 200
        self.background = None
        self.body = self.queued_body
        self.raw_headers = list(self.queued_headers)


async def read_body(request: Request) -> bytes:
    """request.body(), without its stream generator: the same messages, the same ClientDisconnect."""
    receive = request.receive
    message = await receive()
    chunks = []
    while True:
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
        message = await receive()


def is_json_content_type(value: str) -> bool:
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def parse_event(body: bytes) -> tuple[str, dict[str, Any]]:
    """Return (body as text, parsed object); raise ValueError with a client-facing reason."""
    try:
        text = body.decode("utf-8")
        parsed = json.loads(text)
    # ValueError also covers integers past Python's digit limit; RecursionError, absurd nesting.
    except (ValueError, RecursionError):
        raise ValueError("body is not valid UTF-8 JSON") from None
    if not isinstance(parsed, dict):
        raise ValueError("body must be a JSON object")
    if not isinstance(parsed.get("event"), str) or not parsed["event"]:
        raise ValueError('body must have a non-empty string "event"')
    if not is_unicode(parsed["event"]):
        # JSON can escape a lone surrogate ("\ud800"); it cannot be written to Redis as text, and
        # would fail the whole group of events written with it.
        raise ValueError('"event" holds an unpaired surrogate escape')
    return text, parsed


def is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class WebhookEndpoint:
    def __init__(self, settings: Settings, redis: Redis) -> None:
        self.settings = settings
        self.authenticator = Authenticator.from_settings(settings)
        self.writer = queue.EventWriter(queue.event_queue(settings, redis), settings)
        self.commit = GroupCommit(settings, self.writer)

    def reject(self, request: Request, status: int, reason: str) -> JSONResponse:
        client = request.client.host if request.client else "-"
        set_outcome(request, OUTCOME_BY_REJECTION.get(status, f"http_{status}"))
        log.warning(
            "rejected webhook: status=%s reason=%s client=%s",
            status,
            reason,
            client,
            extra={"client.ip": client, "http.response.status_code": status, "event.reason": reason},
        )
        return error(status, reason)

    async def handle(self, request: Request) -> Response:
        try:
            body = await read_body(request)
        except ClientDisconnect:
            # The sender left mid-body (or was cut off by the read deadline); nobody to answer.
            set_outcome(request, "client_disconnected")
            return Response(status_code=400)
        try:
            token = self.authenticator.authenticate(request.headers, body, time.time())
        except AuthenticationError as failure:
            return self.reject(request, 401, str(failure))
        if not is_json_content_type(request.headers.get("content-type", "")):
            return self.reject(request, 415, "content-type must be application/json")
        try:
            text, parsed = parse_event(body)
        except ValueError as failure:
            return self.reject(request, 400, str(failure))
        event: str = parsed["event"]
        if event == URL_VALIDATION_EVENT:
            return self.url_validation(request, parsed, token)
        received_at = datetime.now(UTC)
        try:
            started = time.perf_counter()
            await self.commit.submit(self.writer.pack(text, event, received_at))
            ENQUEUE_SECONDS.observe(time.perf_counter() - started)
        except QueueFull:
            set_outcome(request, "queue_full")
            log.warning(
                "refused webhook %s: more than %d events waiting", event[:100], self.settings.max_queued
            )
            return error(503, "too many events waiting, retry later", {"Retry-After": RETRY_AFTER_SECONDS})
        except RedisError as failure:
            set_outcome(request, "redis_unavailable")
            log.error("could not enqueue webhook %s: %s", event[:100], type(failure).__name__)
            return error(503, "queue unavailable, retry later", {"Retry-After": RETRY_AFTER_SECONDS})
        set_outcome(request, "accepted")
        return Queued()

    def url_validation(self, request: Request, parsed: dict[str, Any], token: bytes | None) -> Response:
        if token is None:
            return self.reject(request, 400, "URL validation needs ZOOM_INGEST_SECRET_TOKENS")
        payload = parsed.get("payload")
        plain_token = payload.get("plainToken") if isinstance(payload, dict) else None
        if not isinstance(plain_token, str) or not plain_token or not is_unicode(plain_token):
            return self.reject(request, 400, "URL validation without a payload.plainToken")
        set_outcome(request, "url_validation")
        return JSONResponse(crc_answer(plain_token, token))


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def readiness(redis: Redis) -> Any:
    async def readyz(request: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(redis.ping)
        except RedisError:
            return error(503, "redis unreachable", {"Retry-After": RETRY_AFTER_SECONDS})
        return JSONResponse({"status": "ready"})

    return readyz


class JSONTooLarge:
    """Starlette's body limit answers a declared-too-large body itself, in plain text; rewrite that
    answer so every error from this service is JSON."""

    body = json.dumps({"error": "body larger than ZOOM_INGEST_MAX_BODY_BYTES"}).encode()

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rewriting = False

        async def send_json(message: Message) -> None:
            nonlocal rewriting
            if message["type"] == "http.response.start" and message["status"] == 413:
                rewriting = True
                headers = MutableHeaders(raw=list(message["headers"]))
                headers["content-type"] = "application/json"
                headers["content-length"] = str(len(self.body))
                message = {**message, "headers": headers.raw}
            elif message["type"] == "http.response.body" and rewriting:
                if message.get("more_body", False):
                    return
                message = {**message, "body": self.body}
            await send(message)

        await self.app(scope, receive, send_json)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail, dict(exc.headers or {}))


def create_app(settings: Settings | None = None, redis: Redis | None = None) -> Starlette:
    settings = settings or load_settings()
    if not settings.authentication_configured and not settings.allow_unauthenticated:
        raise ConfigError(
            "no authentication configured: set ZOOM_INGEST_SECRET_TOKENS (and/or ZOOM_INGEST_AUTH_HEADER"
            " with ZOOM_INGEST_AUTH_VALUE), or ZOOM_INGEST_ALLOW_UNAUTHENTICATED=true to accept anyone"
        )
    redis = redis or queue.connect(settings)
    routes = [
        Route(
            settings.webhook_path,
            WebhookEndpoint(settings, redis).handle,
            methods=["POST"],
            max_body_size=settings.max_body_bytes,
        ),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readiness(redis), methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error},
        middleware=[Middleware(CountRequests, path=settings.webhook_path), Middleware(JSONTooLarge)],
    )
    # Starlette would answer "/zoom-webhook/" with a redirect built from the client's Host header.
    app.router.redirect_slashes = False
    return app
