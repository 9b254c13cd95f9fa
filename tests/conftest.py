"""Real services for the tests: one redis-server and one Elasticsearch node per session."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from redis import Redis

from shared.services import ElasticsearchNode, RedisServer

_names = itertools.count(1)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis(redis_server: RedisServer) -> Iterator[Redis]:
    client = Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def es_node() -> Iterator[ElasticsearchNode]:
    # Not under pytest's tmp dir: that is private to root, and the node runs as its own user.
    base_dir = Path(tempfile.mkdtemp(prefix="zoom-ingest-es-"))
    node = ElasticsearchNode(base_dir).start()
    yield node
    node.stop()
    shutil.rmtree(base_dir, ignore_errors=True)


@pytest.fixture
def es(es_node: ElasticsearchNode) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_node.url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def namespace() -> str:
    """A data stream namespace of its own for each test, so tests never see each other's documents."""
    return f"test{next(_names)}"
