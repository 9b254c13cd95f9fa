"""The webhook endpoint as the ASGI server drives it, message by message, against a real Redis:
how bodies arrive (declared, streamed, cut off) and what goes back for each."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import MutableMapping
from typing import Any

import pytest
from redis import Redis

from ops.services import RedisServer
from receiver.webhook import WebhookEndpoint
from shared.config import load_settings
from tests.support import TOKEN, event_body, signed_headers

LIMIT = 4096


class Exchange:
    """One request handed to the endpoint as uvicorn would, recording what the endpoint reads and
    what it sends back."""

    def __init__(
        self,
        headers: dict[str, str] | list[tuple[str, str]],
        messages: list[dict[str, Any]],
        method: str = "POST",
    ) -> None:
        pairs = list(headers.items()) if isinstance(headers, dict) else headers
        self.scope = {
            "type": "http",
            "method": method,
            "path": "/zoom-webhook",
            "client": ("198.51.100.7", 40000),
            "headers": [(name.lower().encode(), value.encode()) for name, value in pairs],
        }
        self.messages = messages
        self.reads = 0
        self.sent: list[MutableMapping[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        message = self.messages[self.reads]
        self.reads += 1
        return message

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(message)

    def run(self, endpoint: WebhookEndpoint) -> tuple[int, dict[bytes, bytes], Any]:
        asyncio.run(endpoint(self.scope, self.receive, self.send))
        start, body = self.sent
        assert body["type"] == "http.response.body" and not body.get("more_body")
        headers = dict(start["headers"])
        assert int(headers[b"content-length"]) == len(body["body"])
        return start["status"], headers, json.loads(body["body"]) if body["body"] else None


def chunks(body: bytes, size: int) -> list[dict[str, Any]]:
    pieces = [body[start : start + size] for start in range(0, len(body), size)]
    return [
        {"type": "http.request", "body": piece, "more_body": number < len(pieces) - 1}
        for number, piece in enumerate(pieces)
    ]


@pytest.fixture
def endpoint(redis_server: RedisServer, redis: Redis) -> WebhookEndpoint:
    settings = load_settings(redis_url=redis_server.url, secret_tokens=TOKEN, max_body_bytes=LIMIT)
    return WebhookEndpoint(settings, redis)


def queued(redis: Redis) -> int:
    return int(redis.llen("rq:queue:zoom-webhooks"))


def test_a_body_streamed_in_pieces_is_queued_whole(endpoint: WebhookEndpoint, redis: Redis) -> None:
    body = event_body(object={"topic": "x" * 3000})
    exchange = Exchange(signed_headers(body), chunks(body, 700))
    assert exchange.run(endpoint)[::2] == (200, {"status": "queued"})
    assert queued(redis) == 1


def test_a_streamed_body_over_the_limit_is_413_and_not_read_further(
    endpoint: WebhookEndpoint, redis: Redis
) -> None:
    body = event_body(object={"topic": "x" * (3 * LIMIT)})
    exchange = Exchange(signed_headers(body), chunks(body, 1024))
    status, headers, answer = exchange.run(endpoint)
    assert (status, headers[b"content-type"]) == (413, b"application/json")
    assert "ZOOM_INGEST_MAX_BODY_BYTES" in answer["error"]
    assert exchange.reads == LIMIT // 1024 + 1  # stopped at the first piece past the limit
    assert queued(redis) == 0


def test_a_declared_length_over_the_limit_is_413_before_reading(
    endpoint: WebhookEndpoint, redis: Redis
) -> None:
    body = event_body(object={"topic": "x" * LIMIT})
    exchange = Exchange(signed_headers(body) | {"content-length": str(len(body))}, chunks(body, 1024))
    assert exchange.run(endpoint)[0] == 413
    # Nothing read: uvicorn sends "100 Continue" on the first read, so a client that waits for it
    # never sends the body at all.
    assert exchange.reads == 0
    assert queued(redis) == 0


def test_a_client_gone_mid_body_queues_nothing(endpoint: WebhookEndpoint, redis: Redis) -> None:
    body = event_body()
    messages = [*chunks(body, 40)[:2], {"type": "http.disconnect"}]
    assert Exchange(signed_headers(body), messages).run(endpoint)[0] == 400
    assert queued(redis) == 0


def test_any_method_but_post_is_405_with_allow(endpoint: WebhookEndpoint) -> None:
    for method in ("GET", "HEAD", "PUT", "OPTIONS"):
        exchange = Exchange({}, [], method=method)
        status, headers, answer = exchange.run(endpoint)
        assert (status, headers[b"allow"], answer) == (405, b"POST", {"error": "Method Not Allowed"})
        assert exchange.reads == 0


def test_the_first_of_repeated_signature_headers_counts(endpoint: WebhookEndpoint, redis: Redis) -> None:
    body = event_body()
    good, bad = signed_headers(body), signed_headers(body, token="wrong")
    for first, second, status in ((good, bad, 200), (bad, good, 401)):
        headers = [*good.items(), ("x-zm-signature", second["x-zm-signature"])]
        headers[-2] = ("x-zm-signature", first["x-zm-signature"])
        assert Exchange(headers, chunks(body, 1024)).run(endpoint)[0] == status
    assert queued(redis) == 1


def test_a_failure_inside_the_endpoint_is_a_json_500_and_logged(
    endpoint: WebhookEndpoint, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken_receive() -> dict[str, Any]:
        raise RuntimeError("the server broke")

    exchange = Exchange(signed_headers(event_body()), [])
    exchange.receive = broken_receive  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="zoom_ingest.receiver"):
        status, headers, answer = exchange.run(endpoint)
    assert (status, headers[b"content-type"], answer) == (
        500,
        b"application/json",
        {"error": "internal error"},
    )
    assert "the server broke" in caplog.text
    assert queued(redis) == 0
