"""What operators read in the logs: ECS JSON lines, one per refusal, never a secret or a body."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx2
import pytest
from redis import Redis

from ops.services import RedisServer, free_port
from tests.support import (
    TOKEN,
    event_body,
    running,
    running_receiver,
    service_environment,
    signed_headers,
    wait_for,
)


def test_refusals_are_logged_as_ecs_with_reason_and_client_but_no_secrets(
    tmp_path: Path, redis_server: RedisServer, redis: Redis
) -> None:
    environment = service_environment(
        redis_server.url, "http://127.0.0.1:9", "default", log_format="ecs",
        auth_header="X-Zoom-Auth", auth_value="header-secret-value",
    )  # fmt: skip
    body = event_body("user.updated", object={"email": "private-person@example.com"})
    log = tmp_path / "receiver.log"
    with running_receiver(environment, log) as url:
        forged = signed_headers(body, token="attacker-token") | {"x-zoom-auth": "header-secret-value"}
        assert httpx2.post(f"{url}/zoom-webhook", content=body, headers=forged).status_code == 401
        wrong_header = signed_headers(body) | {"x-zoom-auth": "guess"}
        assert httpx2.post(f"{url}/zoom-webhook", content=body, headers=wrong_header).status_code == 401
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    refusals = [line for line in lines if line["message"].startswith("rejected webhook")]
    assert len(refusals) == 2
    for refusal in refusals:
        assert refusal["log.level"] == "warning"
        assert refusal["client"]["ip"] == "127.0.0.1"
        assert refusal["http"]["response"]["status_code"] == 401
        assert refusal["event"]["reason"]
    text = log.read_text()
    for secret in (
        TOKEN,
        "attacker-token",
        "header-secret-value",
        "guess",
        "private-person",
        forged["x-zm-signature"],
    ):
        assert secret not in text


def refusal_addresses(log: Path) -> list[str]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line["client"]["ip"] for line in lines if line["message"].startswith("rejected webhook")]


def test_client_address_behind_a_trusted_proxy(
    tmp_path: Path, redis_server: RedisServer, redis: Redis
) -> None:
    body = event_body()
    headers = signed_headers(body, token="wrong") | {"x-forwarded-for": "203.0.113.9"}
    for trusted, expected in (("127.0.0.1", "203.0.113.9"), ("", "127.0.0.1")):
        environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default", log_format="ecs",
                                          trusted_proxies=trusted)  # fmt: skip
        log = tmp_path / f"receiver-{trusted or 'none'}.log"
        with running_receiver(environment, log) as url:
            assert httpx2.post(f"{url}/zoom-webhook", content=body, headers=headers).status_code == 401
        # Only a configured proxy may say who the client is; anyone else could forge the header.
        assert refusal_addresses(log) == [expected]


def ecs_lines(log: Path) -> list[dict[str, Any]]:
    """Every line of the log, each of which must be an ECS JSON object."""
    lines = log.read_text().splitlines()
    assert lines, "nothing logged"
    for line in lines:
        assert line.startswith("{"), f"not an ECS line: {line!r}"
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_receiver_line_is_ecs_with_service_and_role_uvicorns_own_included(
    tmp_path: Path, workers: int
) -> None:
    """One process, or uvicorn's supervisor and the workers it spawns. No Redis needed: these
    refusals come before any write."""
    environment = service_environment(
        f"redis://127.0.0.1:{free_port()}/0", "http://127.0.0.1:9", "default", log_format="ecs",
        max_body_bytes="1024",
    )  # fmt: skip
    log = tmp_path / "receiver.log"
    large = event_body(object={"blob": "private-payload-" * 100})
    with running_receiver(environment, log, workers=workers) as url:
        declared = httpx2.post(f"{url}/zoom-webhook", content=large, headers=signed_headers(large))
        assert declared.status_code == 413
        assert httpx2.get(f"{url}/zoom-webhook").status_code == 405
    lines = ecs_lines(log)
    for line in lines:
        assert line["service"]["name"] == "zoom-ingest", line
        assert line["service"]["node"]["role"] == "receiver", line
        assert "color_message" not in line, line
        assert "\x1b" not in json.dumps(line), line
    loggers = {line["log"]["logger"] for line in lines}
    assert {"uvicorn.error", "zoom_ingest.receiver"} <= loggers, loggers
    assert any(line["message"].startswith("Uvicorn running on") for line in lines)

    refusals = [line for line in lines if line["message"].startswith("rejected webhook")]
    refusals.sort(key=lambda refusal: -refusal["http"]["response"]["status_code"])
    assert [refusal["http"]["response"]["status_code"] for refusal in refusals] == [413, 405]
    too_large, not_allowed = refusals
    assert too_large["log.level"] == "warning"
    assert too_large["client"]["ip"] == "127.0.0.1"
    assert too_large["event"]["reason"] == "body larger than ZOOM_INGEST_MAX_BODY_BYTES"
    assert too_large["http"]["request"]["body"]["bytes"] == len(large)
    assert not_allowed["http"]["request"]["method"] == "GET"
    assert "private-payload" not in log.read_text()


def idle_poller_log(tmp_path: Path, log_format: str) -> Path:
    """The log of a poller without Zoom credentials, which idles: a process that logs without
    Redis; stopped with SIGTERM once it said so."""
    environment = service_environment(
        "redis://unused", "http://127.0.0.1:9", "default", log_format=log_format
    )
    log = tmp_path / "poll.log"
    with running(["poll", "--if-configured"], environment, log) as poller:
        wait_for(lambda: "the poller is off" in log.read_text(), what="the poller's first line")
        poller.send_signal(signal.SIGTERM)
        assert poller.wait(30) == 0
    return log


def test_each_process_names_its_role(tmp_path: Path) -> None:
    log = idle_poller_log(tmp_path, "ecs")
    roles = {(line["service"]["name"], line["service"]["node"]["role"]) for line in ecs_lines(log)}
    assert roles == {("zoom-ingest", "poll")}


def test_human_lines_name_the_role_too(tmp_path: Path) -> None:
    log = idle_poller_log(tmp_path, "human")
    [line] = [line for line in log.read_text().splitlines() if "the poller is off" in line]
    assert " INFO poll zoom_ingest.poller: the poller is off" in line
