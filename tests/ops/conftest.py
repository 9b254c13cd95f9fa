"""The deployment the operator commands are pointed at: for `check`, the session's Redis and
Elasticsearch node, the index template installed, and a redis-server of the test's own; for
`status`, `replay` and `failed`, settings naming the session's Redis and the event queue, and a
connection to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from ops.services import ElasticsearchNode, RedisServer
from shared.config import Settings, load_settings
from shared.connection import connect
from tests.ops.event_queue import QUEUE
from tests.support import TOKEN
from worker.sink import Sink


@pytest.fixture
def environment(
    redis_server: RedisServer, es_node: ElasticsearchNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", redis_server.url)
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", es_node.url)
    monkeypatch.setenv("ZOOM_INGEST_SECRET_TOKENS", TOKEN)


@pytest.fixture
def template(es_node: ElasticsearchNode) -> None:
    Sink(load_settings(es_hosts=es_node.url)).install_template()


@pytest.fixture
def spare_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to reconfigure freely."""
    server = RedisServer(tmp_path / "spare-redis").start()
    yield server
    server.stop()


@pytest.fixture
def settings(redis_server: RedisServer, redis: Redis, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", redis_server.url)
    monkeypatch.setenv("ZOOM_INGEST_QUEUE", QUEUE)
    return load_settings()


@pytest.fixture
def connection(settings: Settings) -> Iterator[Redis]:
    client = connect(settings)
    yield client
    client.close()
