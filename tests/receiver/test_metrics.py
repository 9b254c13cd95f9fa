"""Receiver metrics as an operator scrapes them: on the monitoring listener
(ZOOM_INGEST_METRICS_HOST:METRICS_PORT), never on the webhook port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx2
from prometheus_client import generate_latest
from redis import Redis
from starlette.testclient import TestClient

from ops.services import RedisServer, free_port
from receiver import metrics
from receiver.app import create_app
from shared.config import load_settings
from tests.support import (
    TOKEN,
    event_body,
    metric_samples,
    running_receiver,
    service_environment,
    signed_headers,
)


def requests_by(outcome: str, scraped: dict) -> float:
    return scraped.get(("zoom_ingest_receiver_requests_total", (("outcome", outcome),)), 0.0)


def test_outcomes_sizes_and_enqueue_latency_are_counted(redis_server: RedisServer, redis: Redis) -> None:
    settings = load_settings(redis_url=redis_server.url, secret_tokens=TOKEN, max_body_bytes=2048)

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return metric_samples(generate_latest(metrics.registry()).decode())

    with TestClient(create_app(settings)) as client:
        before = scrape()
        body = event_body()
        client.post("/zoom-webhook", content=body, headers=signed_headers(body))
        client.post("/zoom-webhook", content=body, headers=signed_headers(body, token="wrong"))
        client.post("/zoom-webhook", content=b"{", headers=signed_headers(b"{"))
        large = event_body(object={"blob": "x" * 4096})
        client.post("/zoom-webhook", content=large, headers=signed_headers(large))
        client.get("/zoom-webhook")
        after = scrape()
    for outcome in ("accepted", "unauthorized", "bad_request", "too_large", "method_not_allowed"):
        assert requests_by(outcome, after) - requests_by(outcome, before) == 1, outcome
    enqueued = ("zoom_ingest_receiver_enqueue_seconds_count", ())
    assert after[enqueued] - before.get(enqueued, 0) == 1
    sized = ("zoom_ingest_receiver_request_bytes_count", ())
    assert after[sized] - before.get(sized, 0) == 4  # the POSTs


def test_several_uvicorn_workers_report_one_sum(
    tmp_path: Path, redis_server: RedisServer, redis: Redis
) -> None:
    port = free_port()
    environment = service_environment(
        redis_server.url, "http://127.0.0.1:9", "default", metrics_port=str(port)
    )
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (
        running_receiver(environment, tmp_path / "receiver.log", workers=3) as url,
        httpx2.Client(base_url=url) as client,
    ):
        for number in range(30):
            body = event_body(object={"id": number})
            assert client.post("/zoom-webhook", content=body, headers=signed_headers(body)).status_code == 200
        # One listener for the three uvicorn workers, reporting the total of all three.
        scraped = metric_samples(httpx2.get(f"http://127.0.0.1:{port}/metrics").text)
    assert requests_by("accepted", scraped) == 30


def test_metrics_are_not_served_on_the_webhook_port(tmp_path: Path) -> None:
    """The webhook port faces the internet; by default no other port is opened at all."""
    environment = service_environment(f"redis://127.0.0.1:{free_port()}/0", "http://127.0.0.1:9", "default")
    log = tmp_path / "receiver.log"
    with running_receiver(environment, log) as url:
        response = httpx2.get(f"{url}/metrics")
        assert response.status_code == 404
        assert response.json() == {"error": "Not Found"}
    assert "metrics on" not in log.read_text()


def test_the_monitoring_listener_is_on_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    port = free_port()
    environment = service_environment(
        f"redis://127.0.0.1:{free_port()}/0", "http://127.0.0.1:9", "default", metrics_port=str(port)
    )
    log = tmp_path / "receiver.log"
    with running_receiver(environment, log):
        scraped = metric_samples(httpx2.get(f"http://127.0.0.1:{port}/metrics").text)
    assert ("zoom_ingest_receiver_enqueue_seconds_count", ()) in scraped
    assert f"metrics on http://127.0.0.1:{port}/metrics" in log.read_text()


def test_a_taken_metrics_port_stops_the_receiver_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = service_environment(
            f"redis://127.0.0.1:{free_port()}/0", "http://127.0.0.1:9", "default", metrics_port=str(port)
        )
        result = subprocess.run(
            [sys.executable, "-m", "ops.cli", "receiver", "--port", str(free_port())],
            env=environment, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"zoom-ingest: ZOOM_INGEST_METRICS_PORT: cannot listen on 127.0.0.1:{port} (Address already in use)"
    ]
