"""compose/docker-compose.ha.yml: the high-availability overlay, checked without a Docker engine.

The overlay is merged onto docker-compose.yml as Compose merges files (mappings such as environment
and depends_on merged key by key, everything else replaced) and held against the code: the Sentinel
settings are real settings naming the Sentinels and master the Sentinel services monitor, replicas
keep the primary's durability, and the worker healthcheck runs for real through Sentinel.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from redis import Redis
from rq import SimpleWorker

from shared import queue
from shared.config import ENV_PREFIX, Settings
from tests.compose.compose_cli import VALIDATORS, run_compose, validating_compose
from tests.compose.compose_file import (
    COMPOSE_FILE,
    app_settings,
    command,
    healthcheck_test,
    interpolate,
    python_code,
)
from tests.sentinel import ReplicatedRedis

HA_FILE = COMPOSE_FILE.with_name("docker-compose.ha.yml")
REPLICAS = ("redis-replica-1", "redis-replica-2")
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
MERGED_KEYS = ("environment", "depends_on")


def merged() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    for name, overlay in yaml.safe_load(HA_FILE.read_text())["services"].items():
        service = dict(services.get(name, {}))
        for key, value in overlay.items():
            service[key] = {**service.get(key, {}), **value} if key in MERGED_KEYS else value
        services[name] = service
    return services


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return merged()


def options(service: dict[str, Any]) -> dict[str, str]:
    arguments = command(service)
    return {arguments[i]: interpolate(arguments[i + 1]) for i in range(len(arguments) - 1)}


def sentinel_config(service: dict[str, Any]) -> list[str]:
    """The configuration lines the Sentinel service writes on its first start."""
    shell, flag, script = command(service)
    assert (shell, flag) == ("sh", "-c")
    written = script.split("> /data/sentinel.conf")[0].split("printf '%s\\n'", 1)[1]
    lines = shlex.split(written.replace("\\\n", " "))
    assert "exec redis-sentinel /data/sentinel.conf" in script
    return [line.replace("$$(hostname)", service["hostname"]) for line in lines]


def test_one_primary_two_replicas_three_sentinels(services: dict[str, dict[str, Any]]) -> None:
    assert {"redis", *REPLICAS, *SENTINELS} <= set(services)
    for name in (*REPLICAS, *SENTINELS):
        assert services[name]["image"] == services["redis"]["image"], name
        assert any(str(volume).endswith(":/data") for volume in services[name]["volumes"]), name


def test_replicas_follow_the_primary_with_its_durability(services: dict[str, dict[str, Any]]) -> None:
    primary = options(services["redis"])
    for name in REPLICAS:
        replica = options(services[name])
        arguments = command(services[name])
        follows = arguments.index("--replicaof") + 1
        assert arguments[follows : follows + 2] == ["redis", "6379"]
        for setting in ("--appendonly", "--appendfsync", "--maxmemory", "--maxmemory-policy"):
            assert replica[setting] == primary[setting], (name, setting)
        assert replica["--replica-announce-ip"] == name
    assert primary["--replica-announce-ip"] == "redis"


def test_sentinels_watch_the_master_the_applications_ask_for(services: dict[str, dict[str, Any]]) -> None:
    for name in ("receiver", "worker", "poller"):
        settings = app_settings(services[name])
        assert settings.redis_sentinel_master is not None
        assert [host for host, _ in settings.sentinel_addresses] == list(SENTINELS)
        master = settings.redis_sentinel_master
        for sentinel in SENTINELS:
            assert services[sentinel]["hostname"] == sentinel
            lines = sentinel_config(services[sentinel])
            port = next(int(line.split()[1]) for line in lines if line.startswith("port "))
            assert (sentinel, port) in settings.sentinel_addresses
            # A majority of the three must agree before a failover.
            assert f"sentinel monitor {master} redis 6379 2" in lines
            assert f"sentinel announce-ip {sentinel}" in lines
            assert any(line.startswith(f"sentinel down-after-milliseconds {master} ") for line in lines)
        # Acknowledged by a replica, and not by more than exist (that would refuse every event).
        assert 1 <= settings.ack_replicas <= len(REPLICAS)


def test_every_zoom_ingest_name_in_the_overlay_is_a_real_setting() -> None:
    names = set(re.findall(rf"{ENV_PREFIX}[A-Z0-9_]+", HA_FILE.read_text()))
    assert {name.removeprefix(ENV_PREFIX).lower() for name in names} <= set(Settings.model_fields)


def test_the_dashboard_asks_the_same_sentinels_for_the_same_master(
    services: dict[str, dict[str, Any]],
) -> None:
    arguments = command(services["dashboard"])
    url = urlsplit(arguments[arguments.index("--redis-url") + 1])
    settings = app_settings(services["worker"])
    assert url.scheme == "redis+sentinel"
    assert url.netloc.split(",") == settings.redis_sentinels
    master, database = url.path.strip("/").split("/")
    assert master == settings.redis_sentinel_master
    assert database == urlsplit(settings.redis_url).path.strip("/")
    assert "--json" in arguments


def test_everything_using_redis_waits_for_the_sentinels(services: dict[str, dict[str, Any]]) -> None:
    for name in ("receiver", "worker", "poller", "dashboard"):
        for sentinel in SENTINELS:
            assert services[name]["depends_on"][sentinel]["condition"] == "service_healthy", name
    for sentinel in SENTINELS:
        assert "get-master-addr-by-name" in " ".join(healthcheck_test(services[sentinel]))


@pytest.mark.parametrize("validator", VALIDATORS)
def test_a_compose_cli_accepts_both_files_together(validator: str, tmp_path: Path) -> None:
    tool = validating_compose(validator, tmp_path)
    result = run_compose([*tool, "-f", str(COMPOSE_FILE)], HA_FILE, "config", "--services", token="stand-in")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == set(merged())


def test_the_worker_healthcheck_through_sentinel(
    services: dict[str, dict[str, Any]], replicated_redis: ReplicatedRedis
) -> None:
    code = python_code(services["worker"])
    variables = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    variables |= {
        "ZOOM_INGEST_REDIS_SENTINELS": replicated_redis.sentinel_addresses,
        "ZOOM_INGEST_REDIS_SENTINEL_MASTER": replicated_redis.master,
    }

    def healthcheck() -> int:
        run = subprocess.run([sys.executable, "-c", code], env=variables, capture_output=True, timeout=60)
        return run.returncode

    assert healthcheck() == 1, "healthy with no worker registered"
    primary = Redis(port=replicated_redis.primary().port)
    settings = Settings(_env_file=None, redis_url="redis://unused")  # type: ignore[call-arg]
    events = queue.event_queue(settings, primary)
    worker = SimpleWorker([events], connection=primary, serializer=queue.SERIALIZER)
    worker.hostname = socket.gethostname()
    worker.pid = os.getpid()
    worker.register_birth()
    try:
        assert healthcheck() == 0, "unhealthy with a live worker registered on the primary"
    finally:
        worker.register_death()
