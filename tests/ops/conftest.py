"""The deployment `zoom-ingest check` is pointed at: the session's Redis and Elasticsearch node, the
index template installed, and a redis-server of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.services import ElasticsearchNode, RedisServer
from shared.config import load_settings
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
