"""Graceful shutdown (SIGTERM, as from systemd, Docker or Kubernetes) loses no event."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx2
from elasticsearch import Elasticsearch
from redis import Redis
from rq import Queue

from ops.services import ElasticsearchNode, RedisServer, free_port, wait_for_port
from shared.config import Settings
from shared.queue import INFLIGHT_PREFIX, SERIALIZER
from tests.faults import FaultProxy
from tests.support import (
    count_documents,
    enqueue_directly,
    event_body,
    running,
    service_environment,
    signed_headers,
    wait_for,
)
from worker.batch import stop_bound


def test_worker_finishes_its_batch_on_sigterm(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: Redis,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    enqueue_directly(
        redis_server.url, [event_body("phone.callee_ended", object={"id": n}) for n in range(5000)]
    )
    environment = service_environment(redis_server.url, es_node.url, namespace, batch_size="250")
    with running(["worker"], environment, tmp_path / "worker.log") as worker:
        wait_for(lambda: count_documents(es, namespace) > 500, timeout=60, what="indexing under way")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    waiting = Queue("zoom-webhooks", connection=redis, serializer=SERIALIZER).count
    in_flight = sum(redis.llen(key) for key in redis.scan_iter(match=INFLIGHT_PREFIX + "*"))
    assert in_flight == 0  # nothing left claimed by the stopped worker
    assert count_documents(es, namespace) + waiting == 5000  # every event indexed or still queued
    assert waiting > 0  # it stopped early rather than draining the queue first


def test_worker_stops_within_its_bound_while_elasticsearch_refuses_and_gives_its_events_back(
    tmp_path: Path, redis_server: RedisServer, redis: Redis, es_node: ElasticsearchNode, namespace: str
) -> None:
    """Retrying would go on for ZOOM_INGEST_ES_RETRY_SECONDS (240 s by default); a stop must not wait
    for that (compose's stop_grace_period is set from stop_bound), and must fail nothing."""
    enqueue_directly(
        redis_server.url, [event_body("phone.callee_ended", object={"id": n}) for n in range(300)]
    )
    events = Queue("zoom-webhooks", connection=redis, serializer=SERIALIZER)
    log = tmp_path / "worker.log"
    # Every bulk request is answered 429, as by an overloaded cluster: the batch keeps retrying.
    with FaultProxy(es_node.url, bulk_rejection_ratio=1.0) as proxy:
        environment = service_environment(redis_server.url, proxy.url, namespace, batch_size="100")
        with running(["worker"], environment, log) as worker:
            wait_for(lambda: "retry 2 in" in log.read_text(), timeout=60, what="a batch retrying")
            assert events.count < 300  # it holds claimed events
            worker.send_signal(signal.SIGTERM)
            settings = Settings(_env_file=None)  # type: ignore[call-arg]  # the timeout it runs with
            assert settings.es_retry_seconds > stop_bound(settings)
            assert worker.wait(stop_bound(settings)) == 0
    assert events.count == 300  # every claimed event back on the queue
    assert events.failed_job_registry.count == 0
    assert sum(redis.llen(key) for key in redis.scan_iter(match=INFLIGHT_PREFIX + "*")) == 0
    assert "claimed events back on the queue after stopping" in log.read_text()


def test_receiver_answers_requests_in_flight_on_sigterm(
    tmp_path: Path, redis_server: RedisServer, redis: Redis
) -> None:
    environment = service_environment(redis_server.url, "http://127.0.0.1:9", "default")
    port = free_port()
    acknowledged: list[bytes] = []
    errors: list[str] = []

    def send(start: int) -> None:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for number in range(start, start + 10_000):
                body = event_body(object={"id": number})
                try:
                    response = client.post("/zoom-webhook", content=body, headers=signed_headers(body))
                except httpx2.HTTPError as failure:
                    errors.append(type(failure).__name__)
                    return
                if response.status_code == 200:
                    acknowledged.append(body)

    with running(["receiver", "--port", str(port)], environment, tmp_path / "receiver.log") as receiver:
        wait_for_port(port, 30)
        senders = [threading.Thread(target=send, args=(n * 100_000,)) for n in range(4)]
        for sender in senders:
            sender.start()
        wait_for(lambda: len(acknowledged) > 300, what="traffic")
        receiver.send_signal(signal.SIGTERM)
        # uvicorn drains, then re-raises the signal so the exit status tells how it ended.
        assert receiver.wait(30) in (0, -signal.SIGTERM)
        for sender in senders:
            sender.join()
    queued = {
        job.args[0] for job in Queue("zoom-webhooks", connection=redis, serializer=SERIALIZER).get_jobs()
    }
    assert {body.decode() for body in acknowledged} <= queued
    assert errors  # the senders did see the receiver go away
