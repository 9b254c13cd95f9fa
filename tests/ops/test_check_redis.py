"""`zoom-ingest check`'s Redis lines: the session's redis-server, throwaway redis-servers configured
the risky ways or as managed services that forbid CONFIG or INFO, and one that is not there."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis

from ops.services import RedisServer, free_port, wait_for_port
from shared import queue
from shared.config import load_settings
from tests.ops.checking import check
from tests.support import enqueue_event


def test_risky_redis_settings_warn_with_the_fix(
    environment: None,
    template: None,
    spare_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = Redis.from_url(spare_redis.url)
    client.config_set("appendonly", "no")
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", str(512 * 2**20))
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", spare_redis.url)
    code, results, _ = check(capsys)
    assert code == 0
    persistence, eviction = results["redis persistence"], results["redis eviction"]
    assert persistence["status"] == eviction["status"] == "WARN"
    assert "acknowledged events can be lost on a Redis restart" in persistence["detail"]
    assert "appendonly yes" in persistence["fix"]
    assert "allkeys-lru" in eviction["detail"] and "silently drops" in eviction["detail"]
    assert "noeviction" in eviction["fix"] and "503" in eviction["fix"]
    assert results["redis maxmemory"]["status"] == "OK"
    assert results["redis maxmemory"]["detail"].endswith("of 512 MB")

    client.config_set("maxmemory", "1")  # everything used is over the limit
    _, results, _ = check(capsys)
    assert results["redis maxmemory"]["status"] == "WARN"
    assert "the receiver answers 503" in results["redis maxmemory"]["detail"]


def start_redis(directory: Path, *arguments: str) -> tuple[subprocess.Popen[bytes], str]:
    directory.mkdir()
    port = free_port()
    binary = shutil.which("redis-server") or "redis-server"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
    process = subprocess.Popen([*command, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 20)
    return process, f"redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize(
    ("renamed", "expected"),
    [
        # Without CONFIG the same values come from INFO.
        (["CONFIG"], {"redis version": "OK", "redis persistence": "WARN", "redis maxmemory": "OK"}),
        (["INFO"], {"redis version": "WARN", "redis persistence": "WARN", "redis maxmemory": "OK"}),
        (
            ["CONFIG", "INFO"],
            {"redis version": "WARN", "redis persistence": "WARN", "redis maxmemory": "WARN"},
        ),
    ],
)
def test_managed_redis_that_forbids_config_or_info(
    renamed: list[str],
    expected: dict[str, str],
    environment: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    disabled = [argument for name in renamed for argument in ("--rename-command", name, "")]
    process, url = start_redis(tmp_path / "managed", "--maxmemory", "64mb", *disabled)
    try:
        monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", url)
        code, results, _ = check(capsys)
    finally:
        process.terminate()
        process.wait(20)
    assert code == 0
    assert {name: results[name]["status"] for name in expected} == expected
    readable = renamed != ["CONFIG", "INFO"]
    assert results["redis persistence"]["detail"].startswith(
        "appendonly no:" if readable else "could not read"
    )
    assert results["redis eviction"]["status"] == ("OK" if readable else "WARN")
    if readable:
        assert results["redis maxmemory"]["detail"].endswith("64 MB")
    assert results["queue depth"]["status"] == "OK"


def test_queue_depth_warns_near_the_limit_and_fails_at_it(
    environment: None,
    template: None,
    spare_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", spare_redis.url)
    monkeypatch.setenv("ZOOM_INGEST_MAX_QUEUED", "10")
    settings = load_settings()
    events = queue.event_queue(settings, Redis.from_url(spare_redis.url))
    for count, status in ((8, "OK"), (9, "WARN"), (10, "FAIL")):
        while events.count < count:
            body = '{"event":"meeting.started"}'
            enqueue_event(events, settings, body, "meeting.started", datetime.now(UTC))
        code, results, _ = check(capsys)
        assert results["queue depth"]["status"] == status, count
        assert results["queue depth"]["detail"].startswith(f"{count} waiting in 'zoom-webhooks'")
        assert code == (1 if status == "FAIL" else 0)
    assert "refusing events with 503" in results["queue depth"]["detail"]


def test_redis_unreachable_fails(environment: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, results, _ = check(capsys, "--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert code == 1
    assert results["redis"]["status"] == "FAIL"
    assert results["redis"]["detail"].startswith("cannot reach Redis at redis://127.0.0.1:")
    assert "ZOOM_INGEST_REDIS_URL" in results["redis"]["fix"]
    assert "redis version" not in results and results["es version"]["status"] == "OK"
