"""The healthchecks of compose/docker-compose.yml run for real, as compose runs them: the receiver's
against a running receiver (HTTP and HTTPS), the worker's and the poller's against a redis-server
with RQ worker registrations."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import SimpleWorker

from ops.services import RedisServer, free_port, wait_for_port
from shared import queue
from shared.config import ENV_PREFIX, Settings
from tests.certificates import self_signed_certificate
from tests.compose.compose_file import app_settings, interpolate, python_code
from tests.support import running, service_environment

RECEIVER_HEALTH_URL = re.compile(r"://127\.0\.0\.1:(?P<port>\d+)(?P<path>/[^'\"\s]*)")


@pytest.mark.usefixtures("clean_environment")
def test_the_receiver_healthcheck_targets_the_port_the_receiver_listens_on(
    services: dict[str, dict[str, Any]],
) -> None:
    receiver = services["receiver"]
    targets = RECEIVER_HEALTH_URL.findall(python_code(receiver))
    settings = app_settings(receiver)
    assert settings.listen_host == "0.0.0.0"
    assert targets == [(str(settings.listen_port), "/healthz")]
    # The published port forwards to the port the receiver listens on.
    published = [int(interpolate(str(port)).rsplit(":", 1)[-1]) for port in receiver["ports"]]
    assert published == [settings.listen_port]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_the_receiver_healthcheck_passes_on_a_running_receiver(
    services: dict[str, dict[str, Any]], tmp_path: Path, tls: bool
) -> None:
    """Run as compose runs it, against a real receiver: HTTP, or HTTPS once TLS_* are passed on.
    /healthz never touches Redis, so none is needed."""
    port = free_port()
    code = RECEIVER_HEALTH_URL.sub(
        lambda match: f"://127.0.0.1:{port}{match['path']}", python_code(services["receiver"])
    )
    environment = service_environment(f"redis://127.0.0.1:{free_port()}/0", "http://127.0.0.1:9", "default")
    if tls:
        certificate, key = self_signed_certificate(tmp_path)
        environment |= {"ZOOM_INGEST_TLS_CERTFILE": str(certificate), "ZOOM_INGEST_TLS_KEYFILE": str(key)}
    check = {key: value for key, value in environment.items() if key != "ZOOM_INGEST_TLS_KEYFILE"}
    assert run_healthcheck_with(code, check) != 0, "healthy with no receiver running"
    with running(["receiver", "--port", str(port)], environment, tmp_path / "receiver.log"):
        wait_for_port(port, 30)
        assert run_healthcheck_with(code, check) == 0, (tmp_path / "receiver.log").read_text()


# --- worker healthcheck, run for real -------------------------------------------------------------


def run_healthcheck_with(code: str, environment: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, timeout=60
    ).returncode


def run_healthcheck(code: str, redis_url: str) -> int:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    environment["ZOOM_INGEST_REDIS_URL"] = redis_url
    return run_healthcheck_with(code, environment)


@pytest.fixture
def registered_worker(redis: Redis) -> Iterator[SimpleWorker]:
    settings = Settings(_env_file=None, redis_url="redis://unused")  # type: ignore[call-arg]
    worker = SimpleWorker([queue.event_queue(settings, redis)], connection=redis, serializer=queue.SERIALIZER)
    yield worker
    if redis.sismember(worker.redis_workers_keys, worker.key):
        worker.register_death()


def exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not Path(f"/proc/{process.pid}").exists()
    return process.pid


def test_the_worker_healthcheck_is_compose_safe(services: dict[str, dict[str, Any]]) -> None:
    # compose interpolates '$' in the file; the code run in the test must be the code run in Docker.
    assert "$" not in python_code(services["worker"])


def test_the_worker_healthcheck_needs_a_live_registration_from_this_host(
    services: dict[str, dict[str, Any]],
    redis_server: RedisServer,
    redis: Redis,
    registered_worker: SimpleWorker,
) -> None:
    code = python_code(services["worker"])
    assert run_healthcheck(code, redis_server.url) == 1, "healthy with no worker registered"

    registered_worker.hostname = "another-container"
    registered_worker.register_birth()
    assert run_healthcheck(code, redis_server.url) == 1, "healthy on another host's worker"
    registered_worker.register_death()

    registered_worker.hostname = socket.gethostname()
    registered_worker.pid = exited_pid()
    registered_worker.register_birth()
    assert run_healthcheck(code, redis_server.url) == 1, "healthy on a process that has exited"
    registered_worker.register_death()

    registered_worker.pid = os.getpid()
    registered_worker.register_birth()
    assert run_healthcheck(code, redis_server.url) == 0, "unhealthy with a live worker here"

    registered_worker.register_death()
    assert run_healthcheck(code, redis_server.url) == 1, "healthy after the worker stopped"


def test_the_worker_healthcheck_fails_without_redis(services: dict[str, dict[str, Any]]) -> None:
    code = python_code(services["worker"])
    assert run_healthcheck(code, f"redis://127.0.0.1:{free_port()}/0") != 0


def test_the_poller_healthcheck_needs_redis(
    services: dict[str, dict[str, Any]], redis_server: RedisServer
) -> None:
    code = python_code(services["poller"])
    assert "$" not in code
    assert run_healthcheck(code, redis_server.url) == 0
    assert run_healthcheck(code, f"redis://127.0.0.1:{free_port()}/0") != 0
