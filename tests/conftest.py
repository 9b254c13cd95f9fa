"""Real services for the tests: one redis-server and one Elasticsearch node per session, and
MaxMind's test databases for the GeoIP cases."""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from redis import Redis

from ops.services import ElasticsearchNode, RedisServer
from tests.secured import ADMIN, secured_node
from tests.secured_node import SecuredElasticsearchNode
from tests.sentinel import ReplicatedRedis

_names = itertools.count(1)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no ZOOM_INGEST_* settings of the machine they run on, and ops.cli.main(), which
    writes flags into os.environ for the processes it starts, cannot leak them into later tests."""
    for name in list(os.environ):
        if name.startswith("ZOOM_INGEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(os, "environ", os.environ.copy())


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


@pytest.fixture
def replicated_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedRedis]:
    """A primary, two replicas and three Sentinels of its own (tests kill and restart them)."""
    group = ReplicatedRedis(tmp_path_factory.mktemp("replicated")).start()
    yield group
    group.stop()


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


@pytest.fixture(scope="session")
def secured_es_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredElasticsearchNode]:
    """A second node, as users run Elasticsearch: security on, HTTPS, file-realm users (tests/secured.py).
    Started only by the tests that ask for it."""
    base_dir = Path(tempfile.mkdtemp(prefix="zoom-ingest-secured-es-"))
    node = secured_node(base_dir, tmp_path_factory.mktemp("certificates")).start()
    yield node
    node.stop()
    shutil.rmtree(base_dir, ignore_errors=True)


@pytest.fixture
def secured_es(secured_es_node: SecuredElasticsearchNode) -> Iterator[Elasticsearch]:
    """A superuser's client of the secured node."""
    client = Elasticsearch(
        secured_es_node.url, basic_auth=ADMIN, ca_certs=str(secured_es_node.security.ca), request_timeout=30
    )
    yield client
    client.close()


@pytest.fixture
def namespace() -> str:
    """A data stream namespace of its own for each test, so tests never see each other's documents."""
    return f"test{next(_names)}"


MAXMIND_CACHE = Path(
    os.environ.get("ZOOM_INGEST_MAXMIND_CACHE", Path.home() / ".cache" / "zoom-ingest" / "maxmind")
)
DATABASES = ("GeoLite2-City-Test.mmdb", "GeoLite2-ASN-Test.mmdb")
SDIST_DIR = "tests/data/test-data"


@pytest.fixture(scope="session")
def maxmind_databases() -> dict[str, Path]:
    """{"city": path, "asn": path} of MaxMind's test databases.

    They ship in the maxminddb source distribution on PyPI; it is downloaded once (for the installed
    version) into the cache directory. When the download is impossible the GeoIP tests are skipped.
    """
    version = importlib.metadata.version("maxminddb")
    directory = MAXMIND_CACHE / version
    paths = {name: directory / name for name in DATABASES}
    if not all(path.is_file() for path in paths.values()):
        _fetch(version, directory)
    return {"city": paths[DATABASES[0]], "asn": paths[DATABASES[1]]}


def _fetch(version: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"maxminddb=={version}",
        "-d",
        str(directory),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", None) or error
        pytest.skip(
            f"GeoIP tests need MaxMind's test databases; downloading maxminddb {version} failed: {detail}"
        )
    archives = sorted(directory.glob(f"maxminddb-{version}.tar.gz"))
    if not archives:
        pytest.fail(f"pip download left no maxminddb-{version}.tar.gz in {directory}")
    with tarfile.open(archives[0]) as archive:
        for name in DATABASES:
            member = next((m for m in archive.getmembers() if m.name.endswith(f"{SDIST_DIR}/{name}")), None)
            if member is None:
                pytest.fail(f"{archives[0].name} has no {SDIST_DIR}/{name}")
            extracted = archive.extractfile(member)
            assert extracted is not None
            partial = directory / f"{name}.partial"
            partial.write_bytes(extracted.read())
            partial.replace(directory / name)
