"""The batch worker on real Redis and Elasticsearch: per-event outcomes from one bulk request."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import ecs_logging
import pytest
from elasticsearch import Elasticsearch
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from ops.services import ElasticsearchNode, RedisServer, free_port
from shared.config import Settings, load_settings
from shared.connection import connect
from shared.queue import SERIALIZER, event_queue
from tests.faults import ReplyDroppingProxy
from tests.support import count_documents, enqueue_directly, event_body, failure_reason, wait_for
from worker import metrics
from worker.batch import BatchWorker
from worker.job import transform_options
from worker.sink import Sink


@pytest.fixture
def settings(redis_server: RedisServer, es_node: ElasticsearchNode, namespace: str) -> Settings:
    return load_settings(
        redis_url=redis_server.url, es_hosts=es_node.url, namespace=namespace, batch_size=100
    )


def batch_worker(settings: Settings, redis: Redis) -> BatchWorker:
    sink = Sink(settings)
    sink.install_template()
    return BatchWorker(settings, redis, sink, transform_options(settings))


@pytest.fixture
def worker(settings: Settings, redis: Redis) -> Iterator[BatchWorker]:
    yield batch_worker(settings, redis)


def meeting(number: int, **extra: object) -> bytes:
    return event_body("meeting.created", object={"id": number, "uuid": f"u{number}", "host_id": "h", **extra})


def failed_jobs(redis: Redis) -> list[Job]:
    registry = FailedJobRegistry("zoom-webhooks", connection=redis, serializer=SERIALIZER)
    return [job for job in Job.fetch_many(registry.get_job_ids(), redis, SERIALIZER) if job is not None]


def test_batch_records_each_event_as_a_finished_rq_job(
    worker: BatchWorker, redis: Redis, redis_server: RedisServer, es: Elasticsearch, namespace: str
) -> None:
    enqueue_directly(redis_server.url, [meeting(n) for n in range(250)])
    assert worker.run(burst=True) == 250
    assert count_documents(es, namespace) == 250
    finished = FinishedJobRegistry("zoom-webhooks", connection=redis, serializer=SERIALIZER)
    assert finished.count == 250
    for job in Job.fetch_many(finished.get_job_ids(), redis, SERIALIZER):
        assert job is not None and job.get_status() == JobStatus.FINISHED
        # Kept result_ttl seconds, as RQ keeps a finished job, then gone.
        assert 0 < redis.ttl(job.key) <= worker.settings.result_ttl_seconds
    assert redis.llen(worker.claims.inflight) == 0
    assert Queue("zoom-webhooks", connection=redis).count == 0


def test_with_result_ttl_0_finished_events_leave_nothing_behind(
    settings: Settings, redis: Redis, redis_server: RedisServer, es: Elasticsearch, namespace: str
) -> None:
    worker = batch_worker(settings.model_copy(update={"result_ttl_seconds": 0}), redis)
    enqueue_directly(redis_server.url, [meeting(n) for n in range(30)])
    assert worker.run(burst=True) == 30
    assert count_documents(es, namespace) == 30
    assert FinishedJobRegistry("zoom-webhooks", connection=redis, serializer=SERIALIZER).count == 0
    assert redis.keys("rq:job:*") == []


def test_poison_event_fails_alone_and_replays_once_fixed(
    worker: BatchWorker,
    settings: Settings,
    redis: Redis,
    redis_server: RedisServer,
    es: Elasticsearch,
    namespace: str,
) -> None:
    index = f"logs-zoom.webhook-{namespace}"
    enqueue_directly(redis_server.url, [meeting(n) for n in range(10)])
    worker.run(burst=True)
    # An operator limit the next event will exceed: it brings 40 fields nobody has seen.
    es.indices.put_settings(index=index, settings={"index.mapping.total_fields.limit": 220})
    poison = meeting(999, **{f"custom_field_{n}": "x" for n in range(40)})
    batch = [meeting(n) for n in range(10, 30)]
    enqueue_directly(redis_server.url, [*batch[:10], poison, *batch[10:]])
    worker.run(burst=True)

    assert count_documents(es, namespace) == 30  # the rest of its batch was indexed
    [job] = failed_jobs(redis)
    assert json.loads(job.args[0]) == json.loads(poison)
    reason = failure_reason(job)
    assert "Limit of total fields [220]" in reason

    # Fix the cause, replay, and the event is indexed.
    es.indices.put_settings(index=index, settings={"index.mapping.total_fields.limit": 2000})
    replay = [sys.executable, "-m", "ops.cli", "replay", "--all", "--redis-url", redis_server.url]
    assert "requeued 1" in subprocess.run(replay, check=True, capture_output=True, text=True).stdout.lower()
    worker.run(burst=True)
    assert count_documents(es, namespace) == 31
    assert failed_jobs(redis) == []


def test_job_that_is_not_ours_fails_alone_with_its_reason(
    worker: BatchWorker,
    settings: Settings,
    redis: Redis,
    redis_server: RedisServer,
    es: Elasticsearch,
    namespace: str,
) -> None:
    queue = event_queue(settings, redis)
    queue.enqueue_call("os.getcwd", description="someone else's job")
    enqueue_directly(redis_server.url, [meeting(1)])
    worker.run(burst=True)
    assert count_documents(es, namespace) == 1
    [job] = failed_jobs(redis)
    assert "not a zoom-ingest event job" in failure_reason(job)


def test_job_written_with_another_serializer_fails_alone(
    worker: BatchWorker, redis: Redis, redis_server: RedisServer, es: Elasticsearch, namespace: str
) -> None:
    Queue("zoom-webhooks", connection=redis).enqueue_call("os.getcwd")  # pickle, RQ's default
    enqueue_directly(redis_server.url, [meeting(1), meeting(2)])
    worker.run(burst=True)
    assert count_documents(es, namespace) == 2
    [job] = failed_jobs(redis)
    assert "not a zoom-ingest event job" in failure_reason(job)


def test_a_claim_whose_reply_is_lost_leaves_no_event_unknown_in_flight(
    settings: Settings, redis: Redis, redis_server: RedisServer, es: Elasticsearch, namespace: str
) -> None:
    """The claim runs in Redis but its reply never arrives. Had the client retried it (as redis-py
    does by default for a plain Redis()), a second claim would move three more ids into the
    in-flight list while the worker was told of three: those would sit there, never indexed."""
    enqueue_directly(redis_server.url, [meeting(n) for n in range(6)])
    with ReplyDroppingProxy(redis_server.port) as proxy:
        through_proxy = settings.model_copy(
            update={"redis_url": f"redis://127.0.0.1:{proxy.port}/0", "batch_size": 3}
        )
        worker = batch_worker(through_proxy, connect(through_proxy))
        # Loaded beforehand, so the claim is one EVALSHA, and its reply the one dropped.
        claim_sha = redis.script_load(worker.claims.claim_script.script)  # type: ignore[attr-defined]
        proxy.drop_reply_to(claim_sha.encode())
        handled = worker.run(burst=True)
    assert proxy.dropped == 1
    assert handled == 6
    assert count_documents(es, namespace) == 6
    assert redis.llen(worker.claims.inflight) == 0
    assert Queue("zoom-webhooks", connection=redis).count == 0


def test_a_refused_document_keeps_its_whole_reason_but_its_log_line_holds_no_value(
    worker: BatchWorker,
    redis: Redis,
    redis_server: RedisServer,
    es: Elasticsearch,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "private-value-4711"
    enqueue_directly(redis_server.url, [meeting(1, duration=secret), meeting(2)])
    refused_before = metrics.FAILED.labels("rejected")._value.get()
    with caplog.at_level(logging.INFO, logger="zoom_ingest.worker"):
        worker.run(burst=True)

    assert count_documents(es, namespace) == 1
    [job] = failed_jobs(redis)
    # The failed registry keeps Elasticsearch's whole reason, value preview included.
    reason = failure_reason(job)
    assert "document_parsing_exception" in reason and "zoom.meeting.duration" in reason
    assert secret in reason
    # The log line names the event, its type and the reason, without the value.
    [record] = [record for record in caplog.records if record.getMessage().startswith(f"event {job.id}")]
    assert record.getMessage().startswith(f"event {job.id} (meeting.created) failed: HTTP 400 ")
    assert "zoom.meeting.duration" in record.getMessage()
    line = json.loads(ecs_logging.StdlibFormatter().format(record))
    assert line["event"]["action"] == "meeting.created"
    assert line["error"]["type"] == "document_parsing_exception"
    assert "failed to parse field [zoom.meeting.duration] of type [long]" in line["error"]["message"]
    assert secret not in json.dumps(line)
    assert all(secret not in record.getMessage() for record in caplog.records)
    # Metrics labels are fixed kinds, never reasons.
    assert metrics.FAILED.labels("rejected")._value.get() == refused_before + 1


def test_elasticsearch_unavailable_past_the_retry_time_leaves_every_event_queued(
    settings: Settings, redis: Redis, redis_server: RedisServer, es: Elasticsearch, namespace: str
) -> None:
    """Nothing fails while Elasticsearch is away: the batch it did not take, and the one claimed
    meanwhile, go back to the head of the queue in order, and the worker takes no more."""
    enqueue_directly(redis_server.url, [meeting(n) for n in range(10)])
    queue = Queue("zoom-webhooks", connection=redis)
    order = queue.get_job_ids()
    away = settings.model_copy(
        update={"es_hosts": [f"http://127.0.0.1:{free_port()}"], "es_retry_seconds": 1, "batch_size": 4}
    )
    returned_before = metrics.RETURNED._value.get()
    stalled = BatchWorker(away, redis, Sink(away), transform_options(away))
    assert stalled.run(burst=True) == 0
    assert failed_jobs(redis) == []
    assert queue.get_job_ids() == order
    assert redis.llen(stalled.claims.inflight) == 0
    # The batch that was tried; the next one, claimed meanwhile, was never sent.
    assert metrics.RETURNED._value.get() == returned_before + 4

    # Elasticsearch back: all of them are indexed, none failed.
    assert batch_worker(settings, redis).run(burst=True) == 10
    assert count_documents(es, namespace) == 10
    assert failed_jobs(redis) == []


def test_a_worker_started_while_redis_is_down_waits_for_it_and_takes_the_backlog(
    settings: Settings, tmp_path: Path, es: Elasticsearch, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis restarting beside the worker (a host reboot, compose starting both): the worker must
    wait for it, not exit and leave the queue to grow."""
    restarting = RedisServer(tmp_path / "redis").start()
    enqueue_directly(restarting.url, [meeting(n) for n in range(5)])
    restarting.stop()  # its append-only file keeps the backlog
    own = settings.model_copy(update={"redis_url": restarting.url})
    worker = BatchWorker(own, connect(own, socket_timeout=30.0), Sink(own), transform_options(own))
    handled: list[int] = []
    thread = threading.Thread(target=lambda: handled.append(worker.run(burst=True)))
    thread.start()
    try:
        wait_for(lambda: "redis unavailable" in caplog.text, what="the worker to find Redis away")
        restarting.start()
        thread.join(timeout=60)
    finally:
        worker.stopping = True
        thread.join()
        restarting.stop()
    assert handled == [5]
    assert count_documents(es, namespace) == 5
