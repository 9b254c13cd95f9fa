"""The receivers the fuzzing drives in-process, and the Redis they write to (tests/receiver/fuzzing.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis
from starlette.testclient import TestClient

from ops.services import RedisServer
from receiver.app import create_app
from tests.receiver.fuzzing import SENDERS, receiver_settings


@pytest.fixture(scope="module")
def clients(redis_server: RedisServer) -> Iterator[dict[str, TestClient]]:
    Redis.from_url(redis_server.url).flushall()
    opened: dict[str, TestClient] = {}
    try:
        for sender in SENDERS:
            app = create_app(receiver_settings(redis_server.url, sender))
            client = TestClient(app, raise_server_exceptions=False)
            opened[sender.name] = client.__enter__()
        yield opened
    finally:
        for client in opened.values():
            client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def store(redis_server: RedisServer) -> Iterator[Redis]:
    connection = Redis.from_url(redis_server.url)
    yield connection
    connection.close()
