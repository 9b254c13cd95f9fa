"""The receiver's job writer: the very jobs RQ's enqueue_call writes, usable by RQ's tooling."""

from __future__ import annotations

import subprocess
import sys
import zlib
from datetime import UTC, datetime

import pytest
from redis import Redis
from redis.exceptions import ResponseError
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.registry import FailedJobRegistry
from rq.utils import utcparse

from ops.services import RedisServer
from receiver.writer import EventWriter
from shared.config import Settings, load_settings
from shared.queue import JOB_FUNCTION, SERIALIZER, event_queue, format_received_at
from tests.support import enqueue_event
from worker.job_state import read_events

QUEUE_KEY = "rq:queue:zoom-webhooks"
BODY = '{"event":"meeting.started","payload":{"object":{"topic":"Café ☕ \\ud83d\\ude00"}}}'
# Times differ between two writes; everything else must be identical, bytes included, but for the
# job data's compression.
TIMES = {"created_at", "enqueued_at"}


def lean_write(redis: Redis, settings: Settings, bodies: list[tuple[str, str]], received_at: datetime) -> int:
    writer = EventWriter(event_queue(settings, redis), settings)
    return writer.write([writer.pack(body, event, received_at) for body, event in bodies])


def last_queued(redis: Redis) -> str:
    job_id = redis.lindex(QUEUE_KEY, -1)
    assert isinstance(job_id, bytes)
    return job_id.decode()


@pytest.mark.parametrize("event", ["meeting.started", "é" * 150, "x"])
def test_lean_writer_stores_the_hash_rq_stores(redis_server: RedisServer, redis: Redis, event: str) -> None:
    redis.flushdb()
    settings = load_settings(redis_url=redis_server.url)
    received_at = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)
    queue = event_queue(settings, redis)
    by_rq = queue.enqueue_call(
        JOB_FUNCTION,
        args=(BODY, format_received_at(received_at)),
        timeout=settings.job_timeout_seconds,
        result_ttl=settings.result_ttl_seconds,
        failure_ttl=settings.failure_ttl_seconds,
        description=f"zoom webhook {event[:100]} received {format_received_at(received_at)}",
        meta={"event": event[:100], "received_at": format_received_at(received_at)},
    )
    assert enqueue_event(queue, settings, BODY, event, received_at).to_dict().keys() == by_rq.to_dict().keys()
    before = redis.smembers("rq:queues")
    redis.delete("rq:queues")

    assert lean_write(redis, settings, [(BODY, event)], received_at) == 3
    lean_id = last_queued(redis)

    rq_hash, lean_hash = redis.hgetall(by_rq.key), redis.hgetall(Job.key_for(lean_id))
    assert sorted(lean_hash) == sorted(rq_hash)
    for field, value in rq_hash.items():
        if field.decode() not in TIMES | {"data"}:
            assert (field, lean_hash[field]) == (field, value)
    # The data: the same job, as a zlib stream RQ reads back (stored, not deflated: receiver/writer.py).
    assert zlib.decompress(lean_hash[b"data"]) == zlib.decompress(rq_hash[b"data"])
    assert Job.fetch(lean_id, connection=redis, serializer=SERIALIZER).args == [
        BODY,
        format_received_at(received_at),
    ]
    for field in TIMES:
        # Same format (RQ's utcformat), the moment it was received or written.
        moment = utcparse(lean_hash[field.encode()].decode()).replace(tzinfo=UTC)
        assert received_at <= moment <= datetime.now(UTC)
    assert lean_hash[b"created_at"] == b"2026-11-25T10:00:00.123456Z"
    assert redis.ttl(Job.key_for(lean_id)) == redis.ttl(by_rq.key) == -1
    assert redis.smembers("rq:queues") == before == {QUEUE_KEY.encode()}
    queued = redis.lrange(QUEUE_KEY, 0, -1)
    assert (len(queued), queued[0], queued[-1]) == (3, by_rq.id.encode(), lean_id.encode())


def test_lean_jobs_are_rq_jobs_for_the_worker_rq_tooling_and_requeue(
    redis_server: RedisServer, redis: Redis
) -> None:
    redis.flushdb()
    settings = load_settings(redis_url=redis_server.url)
    received_at = datetime.now(UTC)
    bodies = [(BODY.replace("Café", f"Café {number}"), f"meeting.n{number}") for number in range(3)]

    assert lean_write(redis, settings, bodies, received_at) == 3
    ids = [job_id.decode() for job_id in redis.lrange(QUEUE_KEY, 0, -1)]

    received = format_received_at(received_at)
    events = read_events(redis, ids)
    assert [(event.func_name, event.args) if event else None for event in events] == [
        (JOB_FUNCTION, (body, received)) for body, _ in bodies
    ]
    queue = event_queue(settings, redis)
    assert queue.job_ids == ids and queue.count == 3
    job = Job.fetch(ids[1], connection=redis, serializer=SERIALIZER)
    assert (job.func_name, job.args, job.kwargs) == (JOB_FUNCTION, [bodies[1][0], received], {})
    assert job.get_status() == JobStatus.QUEUED and job.origin == "zoom-webhooks"
    assert job.meta == {"event": "meeting.n1", "received_at": received}
    assert job.description == f"zoom webhook meeting.n1 received {received}"
    assert (job.timeout, job.result_ttl, job.failure_ttl) == (
        settings.job_timeout_seconds,
        settings.result_ttl_seconds,
        settings.failure_ttl_seconds,
    )
    assert job.enqueued_at is not None and job.created_at is not None

    # Failed as the worker fails jobs, then put back by `rq requeue`.
    redis.lrem(QUEUE_KEY, 1, job.id)
    with redis.pipeline(transaction=True) as pipe:
        record_job_failure(job, "IndexingError: mapper_parsing_exception", pipe)
        pipe.execute()
    failed = FailedJobRegistry(queue=queue)
    assert failed.get_job_ids() == [job.id]
    command = [sys.executable, "-m", "rq.cli", "requeue", "--all", "-u", redis_server.url, "-S", "json"]
    subprocess.run([*command, "--queue", "zoom-webhooks"], check=True, capture_output=True)
    assert failed.get_job_ids() == [] and queue.job_ids == [ids[0], ids[2], ids[1]]
    requeued = Job.fetch(ids[1], connection=redis, serializer=SERIALIZER)
    assert requeued.get_status() == JobStatus.QUEUED
    assert (requeued.func_name, requeued.args, requeued.meta) == (job.func_name, job.args, job.meta)


def test_lean_writer_raises_a_failed_transaction_and_its_connection_stays_usable(
    redis_server: RedisServer, redis: Redis
) -> None:
    redis.flushdb()
    settings = load_settings(redis_url=redis_server.url)
    redis.set(QUEUE_KEY, "not a list")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        lean_write(redis, settings, [(BODY, "meeting.started")], datetime.now(UTC))
    redis.delete(QUEUE_KEY)
    assert lean_write(redis, settings, [(BODY, "meeting.started")], datetime.now(UTC)) == 1
    assert redis.ping()


def test_lean_writer_refuses_unwritable_text_before_writing(redis_server: RedisServer, redis: Redis) -> None:
    settings = load_settings(redis_url=redis_server.url)
    writer = EventWriter(event_queue(settings, redis), settings)
    with pytest.raises(UnicodeEncodeError):
        writer.pack(BODY, "meeting.\ud800", datetime.now(UTC))
