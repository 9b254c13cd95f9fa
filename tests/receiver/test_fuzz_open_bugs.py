"""The bugs the fuzzing found, each pinned by a strict xfail while it is open (OPEN_BUGS in
tests/receiver/fuzzing.py)."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from redis import Redis
from starlette.testclient import TestClient

from ops.services import RedisServer
from receiver.app import create_app
from tests.receiver.fuzzing import (
    MAX_BODY,
    PATH,
    QUEUE_KEY,
    SENDERS,
    assert_json_error,
    bug_is_open,
    queue_state,
    receiver_settings,
    signed,
)


@bug_is_open("timestamp-of-310-digits-or-more")
@pytest.mark.parametrize("digits", [310, 4301])
def test_timestamp_of_hundreds_of_digits_is_401(
    clients: dict[str, TestClient], store: Redis, digits: int
) -> None:
    """310 digits: `now - int(timestamp)` overflows a float; over 4300: int() refuses the string."""
    body = b'{"event": "meeting.started", "payload": {}}'
    response = clients["one token"].post(PATH, content=body, headers=signed(body, "1" * digits))
    assert response.status_code == 401
    assert_json_error(response)


@bug_is_open("deeply-nested-json")
def test_deeply_nested_signed_body_is_400(clients: dict[str, TestClient], store: Redis) -> None:
    body = b'{"event": "meeting.started", "payload": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    assert len(body) <= MAX_BODY
    before = queue_state(store)
    response = clients["one token"].post(PATH, content=body, headers=signed(body))
    assert response.status_code == 400
    assert_json_error(response)
    assert queue_state(store) == before


@bug_is_open("surrogate-in-event")
def test_event_name_with_a_lone_surrogate_is_400_and_does_not_fail_its_group(
    redis_server: RedisServer, store: Redis
) -> None:
    """Requests that arrive together are written in one Redis transaction (receiver/commit.py):
    one event that cannot be written must not fail the others."""
    store.flushdb()
    bad = b'{"event": "\\ud800", "payload": {}}'
    good = [b'{"event": "meeting.started", "payload": {"n": %d}}' % number for number in range(5)]
    app = create_app(receiver_settings(redis_server.url, SENDERS[1]))

    async def send_together() -> list[httpx2.Response]:
        transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="http://receiver") as client:
            return await asyncio.gather(
                *(client.post(PATH, content=body, headers=signed(body)) for body in [good[0], bad, *good[1:]])
            )

    responses = asyncio.run(send_together())
    assert [response.status_code for response in responses] == [200, 400, 200, 200, 200, 200]
    assert store.llen(QUEUE_KEY) == 5


@bug_is_open("surrogate-in-plain-token")
def test_url_validation_with_a_lone_surrogate_plain_token_is_400(
    clients: dict[str, TestClient], store: Redis
) -> None:
    body = b'{"event": "endpoint.url_validation", "payload": {"plainToken": "\\udc00"}}'
    response = clients["one token"].post(PATH, content=body, headers=signed(body))
    assert response.status_code == 400
    assert_json_error(response)
