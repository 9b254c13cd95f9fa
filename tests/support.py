"""What the tests share: signing like Zoom, running zoom-ingest processes, waiting for outcomes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from elasticsearch import Elasticsearch
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from ops.services import free_port, stop_process, wait_for_port
from receiver.authentication import sign
from receiver.writer import EventWriter
from shared import queue
from shared.config import Settings, data_stream_name, load_settings

TOKEN = "test-secret-token"
# Copies of the reference bodies and expected documents (tests/data/README.md).
TEST_DATA = Path(__file__).resolve().parent / "data"

T = TypeVar("T")


class RQWorker(SimpleWorker):
    """RQ's own worker, for tests that compare with it or have it fail jobs, without the command
    channel they never use: with redis-py 8.2 its listener thread can hold RQ's shutdown for 60 s
    (it waits in a 60 s read), past the 60 s a finished job is kept."""

    def subscribe(self) -> None:
        pass


def signed_headers(body: bytes, token: str = TOKEN, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json; charset=utf-8",
        "x-zm-request-timestamp": stamp,
        "x-zm-signature": sign(token.encode(), stamp, body),
    }


def reference_bodies(family: str) -> list[bytes]:
    lines = (TEST_DATA / "events" / f"{family}.ndjson").read_bytes().splitlines()
    return [line for line in lines if line.strip()]


def event_body(event: str = "meeting.created", **payload: Any) -> bytes:
    body = {"event": event, "event_ts": 1626230691572, "payload": {"account_id": "acc", **payload}}
    return json.dumps(body).encode()


def failure_reason(job: Job) -> str:
    """What RQ recorded when the job failed."""
    result = job.latest_result()
    assert result is not None, f"job {job.id} has no result"
    return result.exc_string or ""


def wait_for(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.2, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


def documents(es: Elasticsearch, namespace: str, dataset: str = "zoom.webhook") -> list[dict[str, Any]]:
    index = f"logs-{dataset}-{namespace}"
    if not es.indices.exists(index=index):
        return []
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=1000, query={"match_all": {}})["hits"]["hits"]
    return [hit["_source"] | {"_id": hit["_id"]} for hit in hits]


def service_environment(redis_url: str, es_url: str, namespace: str, **extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZOOM_INGEST_")}
    environment.update(
        {
            "ZOOM_INGEST_REDIS_URL": redis_url,
            "ZOOM_INGEST_ES_HOSTS": es_url,
            "ZOOM_INGEST_NAMESPACE": namespace,
            "ZOOM_INGEST_SECRET_TOKENS": TOKEN,
        }
    )
    environment.update({f"ZOOM_INGEST_{key.upper()}": value for key, value in extra.items()})
    return environment


@contextmanager
def running(
    arguments: list[str], environment: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A `zoom-ingest ...` process for the duration of the block; its output goes to `log`."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "ops.cli", *arguments], env=environment, stdout=output, stderr=output
        )
    try:
        yield process
    finally:
        stop_process(process, timeout=20)


@contextmanager
def running_receiver(environment: dict[str, str], log: Path, workers: int = 1) -> Iterator[str]:
    port = free_port()
    with running(["receiver", "--port", str(port), "--workers", str(workers)], environment, log):
        wait_for_port(port, 30)
        yield f"http://127.0.0.1:{port}"


def raw_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _send_on_one_connection(url: str, requests: list[bytes], statuses: list[int]) -> None:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for request in requests:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            statuses.append(int(status_line.split()[1]))
    finally:
        writer.close()


def send_concurrently(url: str, requests: list[bytes], connections: int) -> list[int]:
    """Send prepared HTTP/1.1 requests over `connections` keep-alive connections at once: a load
    generator light enough that the server, not the client, sets the pace."""
    statuses: list[int] = []

    async def run() -> None:
        shares = [requests[index::connections] for index in range(connections)]
        await asyncio.gather(*(_send_on_one_connection(url, share, statuses) for share in shares if share))

    asyncio.run(run())
    return statuses


def enqueue_event(events: Queue, settings: Settings, body: str, event: str, received_at: datetime) -> Job:
    """Write one webhook as the receiver writes it, without HTTP; the RQ job it became."""
    writer = EventWriter(events, settings)
    packed = writer.pack(body, event, received_at)
    writer.write([packed])
    return Job.fetch(packed.job_id, connection=events.connection, serializer=queue.SERIALIZER)


def enqueue_directly(redis_url: str, bodies: list[bytes], chunk: int = 1000) -> None:
    """Put events on the queue as the receiver does, without HTTP: for streams of thousands."""
    settings = load_settings(redis_url=redis_url)
    connection = Redis.from_url(redis_url)
    writer = EventWriter(queue.event_queue(settings, connection), settings)
    now = datetime.now(UTC)
    for start in range(0, len(bodies), chunk):
        writer.write(
            [
                writer.pack(body.decode(), json.loads(body)["event"], now)
                for body in bodies[start : start + chunk]
            ]
        )


def count_documents(es: Elasticsearch, namespace: str) -> int:
    index = data_stream_name(namespace)
    if not es.indices.exists(index=index):
        return 0
    es.indices.refresh(index=index)
    return int(es.count(index=index)["count"])


def leaf_mappings(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """An index mapping's fields, multi-fields included, as dotted path -> type."""
    leaves: dict[str, str] = {}
    for name, mapping in properties.items():
        path = f"{prefix}{name}"
        if "properties" in mapping:
            leaves.update(leaf_mappings(mapping["properties"], f"{path}."))
        else:
            leaves[path] = mapping.get("type", "object")
            leaves.update({f"{path}.{sub}": spec["type"] for sub, spec in mapping.get("fields", {}).items()})
    return leaves


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A Prometheus exposition as (sample name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
