"""A worker's claims on real Redis: taken atomically, returned when their worker is dead."""

from __future__ import annotations

from redis import Redis

from ops.services import RedisServer
from shared.config import load_settings
from shared.queue import INFLIGHT_PREFIX, alive_key, event_queue, inflight_key
from tests.support import enqueue_directly, event_body
from worker.claims import Claims


def meeting(number: int) -> bytes:
    return event_body("meeting.created", object={"id": number, "uuid": f"u{number}", "host_id": "h"})


def test_events_claimed_by_a_dead_worker_go_back_to_the_queue(
    redis: Redis, redis_server: RedisServer
) -> None:
    redis.flushdb()
    settings = load_settings(redis_url=redis_server.url)
    enqueue_directly(redis_server.url, [meeting(n) for n in range(5)])
    queue = event_queue(settings, redis)
    dead, alive = inflight_key(queue.name, "dead-worker"), inflight_key(queue.name, "busy-worker")
    # Claims made as a worker does: moved off the queue into in-flight lists.
    redis.lmove(queue.key, dead, "LEFT", "RIGHT")
    redis.lmove(queue.key, dead, "LEFT", "RIGHT")
    redis.lmove(queue.key, alive, "LEFT", "RIGHT")
    redis.set(alive_key("busy-worker"), 1, ex=60)
    first_two = redis.lrange(dead, 0, -1)
    Claims(redis, queue.name, queue.key, "sweeping-worker", ttl=60).return_orphans()
    assert redis.llen(dead) == 0 and redis.llen(alive) == 1
    assert redis.lrange(queue.key, 0, 1) == first_two  # back at the head, in order
    assert sorted(key.decode() for key in redis.scan_iter(match=INFLIGHT_PREFIX + "*")) == [alive]
