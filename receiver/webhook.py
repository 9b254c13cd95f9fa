"""The webhook endpoint: authenticate, answer the CRC challenge, put the raw body durably in Redis.

It parses only what it must (that the body is a JSON object with a string `event`) and never talks
to Elasticsearch; 200 means Redis has acknowledged the write (receiver/commit.py).

It is a plain ASGI application, not a Starlette route: on the one path that takes the load,
Starlette's layers (request object, exception wrappers, body-limit middleware, routing) cost about
as much as the endpoint's own work. What they gave is done here: 405 with Allow, 413 for a body
over the limit (declared or streamed), JSON answers for every error, 500 for a bug.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

from redis import Redis
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from receiver.authentication import AuthenticationError, Authenticator, crc_answer
from receiver.commit import GroupCommit, QueueFull
from receiver.metrics import ENQUEUE_SECONDS, REQUEST_BYTES, count
from receiver.writer import EventWriter, NotReplicated
from shared import queue
from shared.config import Settings

log = logging.getLogger("zoom_ingest.receiver")

URL_VALIDATION_EVENT = "endpoint.url_validation"
# Zoom ignores Retry-After today; other senders and proxies honour it.
RETRY_AFTER_SECONDS = "5"
OUTCOME_BY_REJECTION = {
    400: "bad_request",
    401: "unauthorized",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}
TOO_LARGE_REASON = "body larger than ZOOM_INGEST_MAX_BODY_BYTES"


class Answer(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    outcome: str  # the label it is counted under in zoom_ingest_receiver_requests


def json_answer(status: int, content: Any, outcome: str, headers: dict[str, str] | None = None) -> Answer:
    # Encoded as Starlette's JSONResponse does, so every route of the receiver answers alike.
    body = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    raw = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    return Answer(status, raw, body, outcome)


def error_answer(status: int, message: str, outcome: str, headers: dict[str, str] | None = None) -> Answer:
    return json_answer(status, {"error": message}, outcome, headers)


RETRY_LATER = {"Retry-After": RETRY_AFTER_SECONDS}
QUEUED = json_answer(200, {"status": "queued"}, "accepted")
QUEUE_FULL = error_answer(503, "too many events waiting, retry later", "queue_full", RETRY_LATER)
QUEUE_UNAVAILABLE = error_answer(503, "queue unavailable, retry later", "redis_unavailable", RETRY_LATER)
# Stored on the primary only: answering 200 would promise more than holds (ZOOM_INGEST_ACK_REPLICAS).
NOT_REPLICATED = error_answer(
    503, "not yet copied to enough replicas, retry later", "not_replicated", RETRY_LATER
)
INTERNAL_ERROR = error_answer(500, "internal error", "internal_error")
# The sender left mid-body (or was cut off by the read deadline): nobody reads this answer.
DISCONNECTED = Answer(400, [(b"content-length", b"0")], b"", "client_disconnected")


class BodyNotRead(Exception):
    """The body could not be read in full; `received` bytes of it were."""

    def __init__(self, received: int) -> None:
        super().__init__(received)
        self.received = received


class BodyTooLarge(BodyNotRead):
    pass


class ClientDisconnected(BodyNotRead):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge(received)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnected(received)


def declared_length(headers: dict[str, str]) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


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


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


class WebhookEndpoint:
    """The ASGI application of the webhook path: every answer on it comes from here, and is
    counted by outcome."""

    def __init__(self, settings: Settings, redis: Redis) -> None:
        self.authenticator = Authenticator.from_settings(settings)
        self.writer = EventWriter(queue.event_queue(settings, redis), settings)
        self.commit = GroupCommit(settings, self.writer)
        self.max_body_bytes = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        try:
            answer, received = await self.answer(scope, receive)
        except Exception:
            log.exception("webhook request failed")
            answer = INTERNAL_ERROR
        count(answer.outcome)
        if scope["method"] == "POST":
            REQUEST_BYTES.observe(received)
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def answer(self, scope: Scope, receive: Receive) -> tuple[Answer, int]:
        """The answer to one request, and how many bytes of its body were read."""
        if scope["method"] != "POST":
            return self.reject(scope, 405, "Method Not Allowed", {"Allow": "POST"}), 0
        # The first of repeated headers counts, as with Starlette's Headers.get.
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])
        }
        declared = declared_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            # Refused unread: no 100 Continue, nothing buffered.
            return self.reject(scope, 413, TOO_LARGE_REASON, body_bytes=declared), 0
        try:
            body = await read_body(receive, self.max_body_bytes)
        except BodyTooLarge as refused:
            return self.reject(scope, 413, TOO_LARGE_REASON, body_bytes=refused.received), refused.received
        except ClientDisconnected as gone:
            return DISCONNECTED, gone.received
        return await self.accept(scope, headers, body), len(body)

    async def accept(self, scope: Scope, headers: dict[str, str], body: bytes) -> Answer:
        try:
            token = self.authenticator.authenticate(headers, body, time.time())
        except AuthenticationError as failure:
            return self.reject(scope, 401, str(failure))
        if not is_json_content_type(headers.get("content-type", "")):
            return self.reject(scope, 415, "content-type must be application/json")
        try:
            text, parsed = parse_event(body)
        except ValueError as failure:
            return self.reject(scope, 400, str(failure))
        event: str = parsed["event"]
        if event == URL_VALIDATION_EVENT:
            return self.url_validation(scope, parsed, token)
        received_at = datetime.now(UTC)
        try:
            started = time.perf_counter()
            await self.commit.submit(self.writer.pack(text, event, received_at))
            ENQUEUE_SECONDS.observe(time.perf_counter() - started)
        except QueueFull:
            limit = self.commit.max_queued
            log.warning("refused webhook %s: more than %d events waiting", event[:100], limit)
            return QUEUE_FULL
        except NotReplicated as failure:
            log.error("webhook %s not acknowledged: %s", event[:100], failure)
            return NOT_REPLICATED
        except RedisError as failure:
            log.error("could not enqueue webhook %s: %s", event[:100], type(failure).__name__)
            return QUEUE_UNAVAILABLE
        return QUEUED

    def url_validation(self, scope: Scope, parsed: dict[str, Any], token: bytes | None) -> Answer:
        if token is None:
            return self.reject(scope, 400, "URL validation needs ZOOM_INGEST_SECRET_TOKENS")
        payload = parsed.get("payload")
        plain_token = payload.get("plainToken") if isinstance(payload, dict) else None
        if not isinstance(plain_token, str) or not plain_token or not is_unicode(plain_token):
            return self.reject(scope, 400, "URL validation without a payload.plainToken")
        return json_answer(200, crc_answer(plain_token, token), "url_validation")

    def reject(
        self,
        scope: Scope,
        status: int,
        reason: str,
        headers: dict[str, str] | None = None,
        body_bytes: int | None = None,
    ) -> Answer:
        """Every refusal on the webhook path: one log line (never the body), then the JSON answer.
        `body_bytes`: the size declared or read so far, for a body refused as too large."""
        client = client_address(scope)
        fields: dict[str, object] = {
            "client.ip": client,
            "http.request.method": scope["method"],
            "http.response.status_code": status,
            "event.reason": reason,
        }
        if body_bytes is not None:
            fields["http.request.body.bytes"] = body_bytes
        log.warning("rejected webhook: status=%s reason=%s client=%s", status, reason, client, extra=fields)
        return error_answer(status, reason, OUTCOME_BY_REJECTION[status], headers)
