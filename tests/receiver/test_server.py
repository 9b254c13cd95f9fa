"""`zoom-ingest receiver` as users run it: several uvicorn workers, HTTPS with their certificate."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import httpx2
from redis import Redis
from rq import Queue

from ops.services import RedisServer, free_port, wait_for_port
from shared.queue import SERIALIZER
from tests.certificates import self_signed_certificate
from tests.support import event_body, running, service_environment, signed_headers


def test_https_with_several_workers(tmp_path: Path, redis_server: RedisServer, redis: Redis) -> None:
    certificate, key = self_signed_certificate(tmp_path)
    port = free_port()
    environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default")
    arguments = [
        "receiver",
        "--port",
        str(port),
        "--workers",
        "2",
        "--tls-certfile",
        str(certificate),
        "--tls-keyfile",
        str(key),
    ]
    with running(arguments, environment, tmp_path / "receiver.log"):
        wait_for_port(port, 30)
        with httpx2.Client(
            verify=ssl.create_default_context(cafile=certificate), base_url=f"https://127.0.0.1:{port}"
        ) as client:
            for number in range(10):
                body = event_body("meeting.started", object={"id": number})
                assert (
                    client.post("/zoom-webhook", content=body, headers=signed_headers(body)).status_code
                    == 200
                )
    assert Queue("zoom-webhooks", connection=redis, serializer=SERIALIZER).count == 10


def test_a_certificate_and_key_the_wrong_way_round_stop_the_receiver_with_one_line(tmp_path: Path) -> None:
    certificate, key = self_signed_certificate(tmp_path)
    environment = service_environment(f"redis://127.0.0.1:{free_port()}/0", "http://127.0.0.1:9", "default")
    port = free_port()
    for workers in ("1", "2"):
        swapped = ["receiver", "--port", str(port), "--workers", workers]
        swapped += ["--tls-certfile", str(key), "--tls-keyfile", str(certificate)]
        result = subprocess.run(
            [sys.executable, "-m", "ops.cli", *swapped],
            env=environment, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()  # no traceback
        assert line.startswith(
            "zoom-ingest: ZOOM_INGEST_TLS_CERTFILE / ZOOM_INGEST_TLS_KEYFILE: "
            "the certificate and key do not load as a pair"
        )
        assert line.endswith(
            "(ZOOM_INGEST_TLS_CERTFILE holds the key and ZOOM_INGEST_TLS_KEYFILE the certificate)"
        )
