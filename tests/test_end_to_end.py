"""The whole line on real processes: signed POST -> receiver -> Redis -> worker -> Elasticsearch."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from elasticsearch import Elasticsearch
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from ops.services import ElasticsearchNode, RedisServer
from shared.queue import SERIALIZER
from tests.support import (
    documents,
    event_body,
    failure_reason,
    reference_bodies,
    running,
    running_receiver,
    service_environment,
    signed_headers,
    wait_for,
)

QUEUE = "zoom-webhooks"


@dataclass
class Stack:
    url: str
    environment: dict[str, str]
    redis: Redis
    logs: Path

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx2.Response:
        return httpx2.post(f"{self.url}/zoom-webhook", content=body, headers=headers or signed_headers(body))

    def finished(self) -> int:
        return FinishedJobRegistry(QUEUE, connection=self.redis, serializer=SERIALIZER).count

    def failed(self) -> FailedJobRegistry:
        return FailedJobRegistry(QUEUE, connection=self.redis, serializer=SERIALIZER)


@pytest.fixture
def stack(
    tmp_path: Path, redis_server: RedisServer, redis: Redis, es_node: ElasticsearchNode, namespace: str
) -> Iterator[Stack]:
    environment = service_environment(redis_server.url, es_node.url, namespace)
    with running_receiver(environment, tmp_path / "receiver.log") as url:
        yield Stack(url, environment, redis, tmp_path)


@pytest.fixture
def worker(stack: Stack) -> Iterator[subprocess.Popen[bytes]]:
    with running(["worker"], stack.environment, stack.logs / "worker.log") as process:
        yield process


def test_signed_webhook_becomes_a_document(
    stack: Stack, worker: object, es: Elasticsearch, namespace: str
) -> None:
    body = next(b for b in reference_bodies("meeting") if b'"meeting.participant_joined"' in b)
    response = stack.post(body)
    assert response.status_code == 200
    [document] = wait_for(lambda: documents(es, namespace), what="the document")
    assert document["event"]["action"] == "meeting.participant_joined"
    assert document["event"]["kind"] == ["event"]
    assert document["observer"] == {"vendor": "Zoom", "product": "Webhook"}
    assert document["data_stream"] == {"type": "logs", "dataset": "zoom.webhook", "namespace": namespace}
    original = json.loads(body)["payload"]
    assert document["zoom"]["meeting"]["id"] == original["object"]["id"]
    assert document["zoom"]["participant"]["user_name"] == original["object"]["participant"]["user_name"]
    assert document["@timestamp"] <= document["event"]["ingested"]


def test_redelivered_event_is_indexed_once(
    stack: Stack, worker: object, es: Elasticsearch, namespace: str
) -> None:
    body = event_body("meeting.started", object={"id": 987, "uuid": "u-1", "host_id": "h"})
    # Zoom's retries carry the same body under a new timestamp and signature.
    now = int(time.time())
    for sent_at in (now - 1500, now - 300, now):
        assert stack.post(body, signed_headers(body, timestamp=sent_at)).status_code == 200
    wait_for(lambda: stack.finished() >= 3, what="three jobs to finish")
    assert len(documents(es, namespace)) == 1


def test_rejected_request_reaches_neither_redis_nor_elasticsearch(
    stack: Stack, worker: object, es: Elasticsearch, namespace: str
) -> None:
    forged = event_body("user.deleted", object={"id": "victim"})
    headers = signed_headers(forged, token="not-the-secret")
    assert stack.post(forged, headers).status_code == 401
    assert Queue(QUEUE, connection=stack.redis, serializer=SERIALIZER).count == 0
    genuine = event_body("user.created", object={"id": "newcomer"})
    assert stack.post(genuine).status_code == 200
    wait_for(lambda: documents(es, namespace), what="the genuine event")
    wait_for(lambda: stack.finished() >= 1)
    assert [d["event"]["action"] for d in documents(es, namespace)] == ["user.created"]


def test_event_waits_out_an_elasticsearch_outage(
    stack: Stack, es_node: ElasticsearchNode, es: Elasticsearch, namespace: str
) -> None:
    environment = stack.environment | {"ZOOM_INGEST_ES_RETRY_SECONDS": "150"}
    with running(["worker"], environment, stack.logs / "worker.log"):
        log = stack.logs / "worker.log"
        wait_for(lambda: "index template installed" in log.read_text(), what="the worker to start")
        es_node.stop()
        try:
            body = event_body("meeting.ended", object={"id": 42, "uuid": "outage"})
            assert stack.post(body).status_code == 200  # the receiver never waits on Elasticsearch
            wait_for(lambda: "retry" in (stack.logs / "worker.log").read_text(), what="the worker to retry")
            assert stack.failed().count == 0
        finally:
            es_node.start()
        [document] = wait_for(
            lambda: documents(es, namespace), timeout=120, what="the document after the outage"
        )
        assert document["event"]["action"] == "meeting.ended"


def test_failed_job_keeps_its_reason_and_rq_requeue_replays_it(
    stack: Stack, redis_server: RedisServer, es_node: ElasticsearchNode, es: Elasticsearch, namespace: str
) -> None:
    # A user template that outranks ours and forbids new fields makes every document fail for good.
    es.indices.put_index_template(
        name=f"strict-{namespace}",
        index_patterns=[f"logs-zoom.webhook-{namespace}"],
        data_stream={},
        priority=900,
        template={"mappings": {"dynamic": "strict", "properties": {"@timestamp": {"type": "date"}}}},
    )
    body = event_body("webinar.started", object={"id": 7, "uuid": "w"})
    with running(["worker"], stack.environment, stack.logs / "worker.log"):
        assert stack.post(body).status_code == 200
        wait_for(lambda: stack.failed().count == 1, what="the job to fail")
    [job_id] = stack.failed().get_job_ids()
    job = Queue(QUEUE, connection=stack.redis, serializer=SERIALIZER).fetch_job(job_id)
    assert job is not None and "strict_dynamic_mapping_exception" in failure_reason(job)
    assert "webinar.started" in (job.description or "")
    # Fix the cause, then replay with stock RQ tooling.
    es.indices.delete_index_template(name=f"strict-{namespace}")
    es.indices.put_mapping(index=f"logs-zoom.webhook-{namespace}", dynamic="true")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rq.cli",
            "requeue",
            "--all",
            "--queue",
            QUEUE,
            "-u",
            redis_server.url,
            "-S",
            "json",
        ],
        check=True,
        capture_output=True,
    )
    with running(["worker"], stack.environment, stack.logs / "worker.log"):
        [document] = wait_for(lambda: documents(es, namespace), what="the replayed document")
    assert document["event"]["action"] == "webinar.started"
    assert stack.failed().count == 0
