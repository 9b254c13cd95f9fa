"""Redis memory per waiting event: the receiver's job writer against RQ's own enqueue_call.

    python -m bench.redis_memory [--events 10000]

On a fresh redis-server (AOF on, as in production), K distinct reference-shaped events are put on
the queue with the receiver's EventWriter (receiver/writer.py, 500 per transaction), and, after a
FLUSHALL, the same K with RQ's `Queue.enqueue_call` (the same job, as RQ writes it: the baseline).
`used_memory` (INFO memory) is read before and after each. Figure: `redis_bytes_per_waiting_event`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from bench.common import distinct_bodies, emit, log, redis_server, stop_on_sigterm
from bench.indexing import enqueue_all, settings_for
from receiver.writer import enqueue_arguments
from shared import queue
from shared.config import Settings
from shared.queue import format_received_at

BENCH = "redis_memory"


def used_memory(redis: Redis) -> int:
    return int(redis.info("memory")["used_memory"])


def per_event(redis: Redis, bodies: list[bytes], enqueue: Callable[[list[bytes]], Any]) -> float:
    redis.flushall()
    before = used_memory(redis)
    enqueue(bodies)
    return (used_memory(redis) - before) / len(bodies)


def enqueue_with_rq(settings: Settings, redis: Redis, bodies: list[bytes]) -> None:
    events = queue.event_queue(settings, redis)
    for body in bodies:
        text = body.decode()
        received = format_received_at(datetime.now(UTC))
        events.enqueue_call(**enqueue_arguments(settings, text, json.loads(text)["event"], received))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10000)
    args = parser.parse_args()
    stop_on_sigterm()
    bodies = distinct_bodies(args.events)
    average = sum(map(len, bodies)) / len(bodies)
    with redis_server() as server:
        redis = Redis.from_url(server.url)
        settings = settings_for("http://127.0.0.1:9", server.url)
        log(f"{args.events} events, bodies of {average:.0f} bytes on average")
        writer = per_event(redis, bodies, lambda chunk: enqueue_all(settings, chunk))
        rq = per_event(redis, bodies, lambda chunk: enqueue_with_rq(settings, redis, chunk))
    emit(
        BENCH,
        "redis_bytes_per_waiting_event",
        writer,
        rq,
        events=args.events,
        body_bytes_average=round(average),
        baseline_is="the same events enqueued with RQ's Queue.enqueue_call",
    )


if __name__ == "__main__":
    main()
