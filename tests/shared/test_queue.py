"""The queue contract: jobs as RQ writes them, read back the lean way the worker does."""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis
from rq import Queue
from rq.job import Job

from shared.config import load_settings
from shared.queue import JOB_FUNCTION, SERIALIZER, enqueue_event, event_queue, read_events
from shared.services import RedisServer


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
