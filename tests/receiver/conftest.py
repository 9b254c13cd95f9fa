"""The receivers the fuzzing drives in-process and the Redis they write to (tests/receiver/fuzzing.py),
and the receiver process the slow and abusive clients connect to (tests/receiver/receiver_process.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from redis import Redis
from starlette.testclient import TestClient

from ops.services import RedisServer, free_port, wait_for_port
from receiver.app import create_app
from tests.receiver.fuzzing import SENDERS, receiver_settings
from tests.receiver.receiver_process import Receiver, post_event, uvicorn_arguments
from tests.support import running, service_environment


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


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Receiver]:
    port = free_port()
    environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default")
    log = tmp_path_factory.mktemp("slow-clients") / "receiver.log"
    with running(["receiver", "--port", str(port)], environment, log) as process:
        wait_for_port(port, 30)
        yield Receiver(port, process, log, uvicorn_arguments(redis_server.url))
    assert process.returncode in (0, -15), (
        f"receiver ended with {process.returncode}: {log.read_text()[-3000:]}"
    )


@pytest.fixture
def alive(receiver: Receiver, redis: Redis) -> Iterator[Receiver]:
    """The receiver, checked alive and serving after the test (the queue is emptied before)."""
    yield receiver
    assert receiver.process.poll() is None
    assert asyncio.run(post_event(receiver.port, 99)).status == 200
