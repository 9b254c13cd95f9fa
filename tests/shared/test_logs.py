"""What operators read in the logs: ECS JSON lines, one per refusal, never a secret or a body."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
from redis import Redis

from ops.services import RedisServer
from tests.support import TOKEN, event_body, running_receiver, service_environment, signed_headers


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
