"""Delivery guarantees under faults, with real processes: nothing acknowledged is ever lost."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx2
from elasticsearch import Elasticsearch
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry

from ops.services import ElasticsearchNode, RedisServer
from shared.queue import INFLIGHT_PREFIX, SERIALIZER
from tests.faults import FaultProxy
from tests.support import (
    count_documents,
    enqueue_directly,
    event_body,
    running,
    running_receiver,
    service_environment,
    signed_headers,
    wait_for,
)
from worker.job import document_id

QUEUE = "zoom-webhooks"
# Short enough that a dead worker's events come back within seconds in these tests.
FAST_RECOVERY = {"worker_ttl_seconds": "16", "es_request_timeout_seconds": "5", "batch_size": "200"}


def stream(count: int, event: str = "meeting.participant_joined") -> list[bytes]:
    return [
        event_body(event, object={"id": 7, "uuid": "m", "participant": {"id": f"p{n}"}}) for n in range(count)
    ]


def failed(redis: Redis) -> int:
    return FailedJobRegistry(QUEUE, connection=redis, serializer=SERIALIZER).count


def in_flight(redis: Redis) -> int:
    return sum(redis.llen(key) for key in redis.scan_iter(match=INFLIGHT_PREFIX + "*"))


def drained(redis: Redis) -> bool:
    return Queue(QUEUE, connection=redis).count == 0 and in_flight(redis) == 0


def test_worker_killed_mid_stream_every_event_indexed_exactly_once(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: Redis,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    bodies = stream(10_000)
    enqueue_directly(redis_server.url, bodies)
    environment = service_environment(redis_server.url, es_node.url, namespace, **FAST_RECOVERY)
    with running(["worker"], environment, tmp_path / "doomed.log") as doomed:
        wait_for(lambda: count_documents(es, namespace) >= 2000, timeout=120, what="indexing to be under way")
        wait_for(lambda: in_flight(redis) > 0, interval=0.001, what="a batch in flight")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
    stranded = in_flight(redis)
    with running(["worker"], environment, tmp_path / "survivor.log"):
        wait_for(lambda: drained(redis), timeout=180, what="the survivor to finish the stream")
        wait_for(lambda: count_documents(es, namespace) == 10_000, timeout=30, what="all documents")
    assert stranded > 0, "the kill should have caught a batch in flight"
    assert failed(redis) == 0
    assert "returned" in (tmp_path / "survivor.log").read_text()


def test_redis_crash_mid_stream_loses_no_acknowledged_event(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: Redis,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    environment = service_environment(redis_server.url, es_node.url, namespace)
    acknowledged: list[bytes] = []
    refused = 0
    stop = threading.Event()

    def send(url: str) -> None:
        nonlocal refused
        with httpx2.Client(base_url=url, timeout=10) as client:
            number = 0
            while not stop.is_set():
                body = event_body("user.signed_in", object={"id": f"u{number}", "email": "a@b.c"})
                number += 1
                try:
                    status = client.post(
                        "/zoom-webhook", content=body, headers=signed_headers(body)
                    ).status_code
                except httpx2.HTTPError:
                    status = 0
                if status == 200:
                    acknowledged.append(body)
                else:
                    refused += 1

    with (
        running_receiver(environment, tmp_path / "receiver.log") as url,
        running(["worker"], environment, tmp_path / "worker.log"),
    ):
        sender = threading.Thread(target=send, args=(url,))
        sender.start()
        try:
            wait_for(lambda: len(acknowledged) >= 500, what="the stream to start")
            # The crash lands on a worker at work, not on one still starting.
            wait_for(lambda: count_documents(es, namespace) > 0, what="the worker to index")
            redis_server.kill()  # a crash, not a clean shutdown
            redis_server.start()
            seen = len(acknowledged)
            wait_for(lambda: len(acknowledged) >= seen + 500, timeout=60, what="the stream to resume")
        finally:
            stop.set()
            sender.join()
        expected = {document_id(body.decode()) for body in acknowledged}
        wait_for(
            lambda: count_documents(es, namespace) >= len(expected), timeout=120, what="acknowledged events"
        )
    index = f"logs-zoom.webhook-{namespace}"
    es.indices.refresh(index=index)
    stored = {hit["_id"] for hit in es.search(index=index, size=10_000, source=False)["hits"]["hits"]}
    assert expected <= stored
    assert failed(redis) == 0


def test_elasticsearch_down_past_the_retry_time_fails_nothing_and_the_backlog_drains(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: Redis,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    """Down for about six times ZOOM_INGEST_ES_RETRY_SECONDS while events keep coming: the worker
    puts its batch back on the queue and waits for Elasticsearch instead of failing events."""
    environment = service_environment(redis_server.url, es_node.url, namespace, es_retry_seconds="5")
    events = stream(600, "meeting.participant_left")
    log = tmp_path / "worker.log"
    with running(["worker"], environment, log):
        enqueue_directly(redis_server.url, events[:150])
        wait_for(lambda: count_documents(es, namespace) == 150, timeout=60, what="the first events")
        es_node.stop()
        try:
            for start in range(150, 600, 150):  # still arriving during the outage
                enqueue_directly(redis_server.url, events[start : start + 150])
                threading.Event().wait(10)
            assert "events back on the queue, taking no more until it answers" in log.read_text()
            assert failed(redis) == 0
        finally:
            es_node.start()
        wait_for(lambda: count_documents(es, namespace) == 600, timeout=240, what="the backlog")
        wait_for(lambda: drained(redis), what="the queue to drain")
        assert "elasticsearch answers again" in log.read_text()
    assert failed(redis) == 0


def test_worker_started_before_elasticsearch_waits_for_it(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: Redis,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    environment = service_environment(redis_server.url, es_node.url, namespace)
    es_node.stop()
    try:
        with running(["worker"], environment, tmp_path / "worker.log") as worker:
            enqueue_directly(redis_server.url, stream(10, "zoomroom.checked_in"))
            wait_for(
                lambda: "not reachable yet" in (tmp_path / "worker.log").read_text(),
                what="the worker to wait",
            )
            es_node.start()
            wait_for(lambda: count_documents(es, namespace) == 10, timeout=60, what="the events")
            assert worker.poll() is None
    finally:
        if es_node.process is None or es_node.process.poll() is not None:
            es_node.start()


def test_elasticsearch_rejecting_most_bulk_requests_loses_nothing(
    tmp_path: Path,
    redis_server: RedisServer,
    redis: Redis,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    with FaultProxy(es_node.url, bulk_rejection_ratio=0.9) as proxy:
        environment = service_environment(redis_server.url, proxy.url, namespace, batch_size="100")
        enqueue_directly(redis_server.url, stream(2000, "webinar.participant_joined"))
        with running(["worker"], environment, tmp_path / "worker.log"):
            # An overloaded cluster for a while: the worker backs off and keeps every event.
            wait_for(lambda: proxy.rejected >= 5, timeout=60, what="rejections")
            threading.Event().wait(15)
            assert proxy.rejected > proxy.forwarded_bulks
            assert failed(redis) == 0
            proxy.bulk_rejection_ratio = 0.0
            wait_for(lambda: drained(redis), timeout=120, what="the backlog to drain")
    assert count_documents(es, namespace) == 2000
    assert failed(redis) == 0
