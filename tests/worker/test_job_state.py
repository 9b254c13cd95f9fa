"""RQ's job state as the batch worker reads and records it."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from ops.services import RedisServer
from shared.config import load_settings
from shared.queue import JOB_FUNCTION, SERIALIZER, event_queue
from tests.support import RQWorker, enqueue_event
from worker.job_state import JobState, read_events


def test_lean_read_matches_what_rq_restores(redis_server: RedisServer, redis: Redis) -> None:
    settings = load_settings(redis_url=redis_server.url)
    queue = event_queue(settings, redis)
    body = '{"event":"meeting.started","payload":{"object":{"topic":"Café ☕"}}}'
    received_at = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)
    job = enqueue_event(queue, settings, body, "meeting.started", received_at)
    other = queue.enqueue_call("os.getcwd")
    pickled = Queue("zoom-webhooks", connection=redis).enqueue_call("os.getcwd")  # not our serializer

    lean = read_events(redis, [job.id, other.id, pickled.id, "gone"])

    restored = Job.fetch(job.id, connection=redis, serializer=SERIALIZER)
    assert lean[0] is not None
    assert (
        (lean[0].func_name, lean[0].args)
        == (restored.func_name, tuple(restored.args))
        == (JOB_FUNCTION, (body, received_at.isoformat()))
    )
    assert lean[0].key == restored.key
    assert lean[1] is not None and lean[1].func_name == "os.getcwd" and lean[1].args == ()
    assert lean[2] is None and lean[3] is None  # unreadable this way, or gone


def test_finished_jobs_hold_what_rq_writes_when_its_own_worker_finishes_one(
    redis_server: RedisServer, redis: Redis
) -> None:
    redis.flushdb()
    settings = load_settings(redis_url=redis_server.url)
    queue = event_queue(settings, redis)
    by_rq = enqueue_event(queue, settings, '{"event":"a"}', "a", datetime.now(UTC))
    ours = enqueue_event(queue, settings, '{"event":"b"}', "b", datetime.now(UTC))
    queue.remove(ours)
    # RQ's worker runs a harmless function in place of the event's (same job otherwise).
    redis.hset(by_rq.key, "data", zlib.compress(SERIALIZER.dumps(("os.getpid", None, (), {}))))
    RQWorker([queue], connection=redis, serializer=SERIALIZER, name="rq-worker").work(burst=True)

    started = datetime.now(UTC)
    state = JobState(redis, queue.finished_job_registry.key, settings.result_ttl_seconds, "batch-worker")
    [event] = read_events(redis, [ours.id])
    assert event is not None
    with redis.pipeline(transaction=True) as pipe:
        state.finish(pipe, [event], started, datetime.now(UTC))
        pipe.execute()

    rq_hash, our_hash = redis.hgetall(by_rq.key), redis.hgetall(ours.key)
    filled = {field for field, value in rq_hash.items() if value} - {b"data"}
    assert {field for field, value in our_hash.items() if value} - {b"data"} == filled
    finished = Job.fetch(ours.id, connection=redis, serializer=SERIALIZER)
    assert finished.get_status() == JobStatus.FINISHED and finished.worker_name == "batch-worker"
    assert finished.started_at is not None and finished.ended_at is not None
    assert finished.started_at <= finished.ended_at
    assert 0 < redis.ttl(ours.key) <= settings.result_ttl_seconds
    assert set(queue.finished_job_registry.get_job_ids()) == {by_rq.id, ours.id}
