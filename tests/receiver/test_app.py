"""The webhook endpoint against a real Redis: what Zoom (and attackers) get back, and what is queued."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Queue
from starlette.testclient import TestClient

from ops.services import RedisServer, free_port
from receiver.app import create_app
from receiver.authentication import crc_answer
from shared.config import ConfigError, Settings, load_settings
from shared.queue import JOB_FUNCTION, SERIALIZER
from tests.support import TOKEN, event_body, signed_headers

PATH = "/zoom-webhook"


def settings_for(redis_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"redis_url": redis_url, "secret_tokens": TOKEN}
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def client(redis_server: RedisServer, redis: Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(redis_server.url))) as test_client:
        yield test_client


def queued_jobs(redis: Redis) -> list:
    return Queue("zoom-webhooks", connection=redis, serializer=SERIALIZER).get_jobs()


def test_signed_event_is_queued_raw_with_receive_time(client: TestClient, redis: Redis) -> None:
    body = event_body("meeting.started", object={"id": 1, "uuid": "abc"})
    response = client.post(PATH, content=body, headers=signed_headers(body))
    assert response.status_code == 200
    [job] = queued_jobs(redis)
    assert job.func_name == JOB_FUNCTION
    raw, received_at = job.args
    assert raw == body.decode()
    assert received_at.endswith("+00:00")
    assert job.meta["event"] == "meeting.started"
    assert job.result_ttl is not None and job.failure_ttl is not None
    assert job.result_ttl < 3600 <= job.failure_ttl
    # RQ stores the job as JSON, not pickle.
    stored = redis.hget(job.key, "data")
    assert stored is not None
    assert json.loads(zlib.decompress(stored))[2] == [body.decode(), received_at]


def test_job_description_holds_no_payload(client: TestClient, redis: Redis) -> None:
    body = event_body(
        "recording.completed",
        object={"topic": "Board meeting secret plans"},
        download_token="tok-abcdef123456",
    )
    client.post(PATH, content=body, headers=signed_headers(body))
    [job] = queued_jobs(redis)
    assert "recording.completed" in job.description
    assert "secret plans" not in job.description and "tok-abcdef" not in job.description


def test_url_validation_is_answered_with_the_verifying_token_and_not_queued(
    redis_server: RedisServer, redis: Redis
) -> None:
    app = create_app(settings_for(redis_server.url, secret_tokens=f"other-app-token,{TOKEN}"))
    body = json.dumps(
        {"event": "endpoint.url_validation", "payload": {"plainToken": "plain123"}, "event_ts": 1654503849680}
    ).encode()
    with TestClient(app) as client:
        response = client.post(PATH, content=body, headers=signed_headers(body))
    assert response.status_code == 200
    assert response.json() == crc_answer("plain123", TOKEN.encode())
    assert queued_jobs(redis) == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b'{"event":', None, 400, "JSON"),
        (b"[1, 2]", None, 400, "object"),
        (b'{"event": 5, "payload": {}}', None, 400, "event"),
        (b'{"payload": {}}', None, 400, "event"),
        (b"\xff\xfe{}", None, 400, "JSON"),
        (event_body(), {"content-type": "text/plain"}, 415, "application/json"),
        (event_body(), {"x-zm-signature": "v0=00", "x-zm-request-timestamp": "1"}, 401, "x-zm"),
        (event_body(), {"x-zm-signature": "", "x-zm-request-timestamp": ""}, 401, "missing"),
    ],
)
def test_bad_requests_get_json_errors_and_touch_nothing(
    client: TestClient, redis: Redis, body: bytes, headers: dict[str, str] | None, status: int, error: str
) -> None:
    request_headers = signed_headers(body)
    request_headers.update(headers or {})
    before = redis.dbsize()
    response = client.post(PATH, content=body, headers=request_headers)
    assert response.status_code == status
    assert error in response.json()["error"]
    assert redis.dbsize() == before


def test_oversized_body_is_413_json(client: TestClient, redis: Redis) -> None:
    body = event_body(object={"blob": "x" * (1024 * 1024)})
    response = client.post(PATH, content=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert "error" in response.json()
    assert queued_jobs(redis) == []


def test_wrong_method_is_405_json(client: TestClient) -> None:
    response = client.get(PATH)
    assert response.status_code == 405
    assert response.json()["error"]
    assert "POST" in response.headers["allow"]


def test_custom_header_is_required_when_configured(redis_server: RedisServer, redis: Redis) -> None:
    settings = settings_for(redis_server.url, auth_header="X-Zoom-Auth", auth_value="opensesame")
    body = event_body()
    with TestClient(create_app(settings)) as client:
        assert client.post(PATH, content=body, headers=signed_headers(body)).status_code == 401
        good = signed_headers(body) | {"x-zoom-auth": "opensesame"}
        assert client.post(PATH, content=body, headers=good).status_code == 200
    assert len(queued_jobs(redis)) == 1


def test_redis_down_gives_503_with_retry_after_never_200() -> None:
    settings = settings_for(f"redis://127.0.0.1:{free_port()}/0")
    body = event_body()
    with TestClient(create_app(settings)) as client:
        response = client.post(PATH, content=body, headers=signed_headers(body))
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert response.json()["error"]
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200


def test_readyz_when_redis_is_up(client: TestClient) -> None:
    assert client.get("/readyz").json() == {"status": "ready"}


def test_refuses_to_start_without_authentication(redis_server: RedisServer) -> None:
    with pytest.raises(ConfigError, match="ZOOM_INGEST_ALLOW_UNAUTHENTICATED"):
        create_app(load_settings(redis_url=redis_server.url))
    app = create_app(load_settings(redis_url=redis_server.url, allow_unauthenticated=True))
    with TestClient(app) as client:
        body = event_body()
        assert (
            client.post(PATH, content=body, headers={"content-type": "application/json"}).status_code == 200
        )
