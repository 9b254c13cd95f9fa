"""Receiver metrics as an operator scrapes them from /metrics."""

from __future__ import annotations

from pathlib import Path

import httpx2
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from starlette.testclient import TestClient

from ops.services import RedisServer
from receiver.app import create_app
from shared.config import load_settings
from tests.support import TOKEN, event_body, running_receiver, service_environment, signed_headers


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_by(outcome: str, scraped: dict) -> float:
    return scraped.get(("zoom_ingest_receiver_requests_total", (("outcome", outcome),)), 0.0)


def test_outcomes_sizes_and_enqueue_latency_are_counted(redis_server: RedisServer, redis: Redis) -> None:
    settings = load_settings(redis_url=redis_server.url, secret_tokens=TOKEN, max_body_bytes=2048)
    with TestClient(create_app(settings)) as client:
        before = samples(client.get("/metrics").text)
        body = event_body()
        client.post("/zoom-webhook", content=body, headers=signed_headers(body))
        client.post("/zoom-webhook", content=body, headers=signed_headers(body, token="wrong"))
        client.post("/zoom-webhook", content=b"{", headers=signed_headers(b"{"))
        large = event_body(object={"blob": "x" * 4096})
        client.post("/zoom-webhook", content=large, headers=signed_headers(large))
        client.get("/zoom-webhook")
        after = samples(client.get("/metrics").text)
    for outcome in ("accepted", "unauthorized", "bad_request", "too_large", "method_not_allowed"):
        assert requests_by(outcome, after) - requests_by(outcome, before) == 1, outcome
    enqueued = ("zoom_ingest_receiver_enqueue_seconds_count", ())
    assert after[enqueued] - before.get(enqueued, 0) == 1
    sized = ("zoom_ingest_receiver_request_bytes_count", ())
    assert after[sized] - before.get(sized, 0) == 4  # the POSTs


def test_several_uvicorn_workers_report_one_sum(
    tmp_path: Path, redis_server: RedisServer, redis: Redis
) -> None:
    environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default")
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (
        running_receiver(environment, tmp_path / "receiver.log", workers=3) as url,
        httpx2.Client(base_url=url) as client,
    ):
        for number in range(30):
            body = event_body(object={"id": number})
            assert client.post("/zoom-webhook", content=body, headers=signed_headers(body)).status_code == 200
        # Each scrape may land on any worker; every one must report the total of all three.
        scrapes = [samples(client.get("/metrics").text) for _ in range(6)]
    assert all(requests_by("accepted", scraped) == 30 for scraped in scrapes)
