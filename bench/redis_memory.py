"""Redis memory per waiting event: the receiver's job writer against RQ's own enqueue_call.

    python -m bench.redis_memory [--events 10000]

On a fresh redis-server (AOF on, as in production), K distinct reference-shaped events are put on
the queue with the receiver's EventWriter (receiver/writer.py, 500 per transaction), and, after a
FLUSHALL, the same K with RQ's `Queue.enqueue_call` (the same job, as RQ writes it: the baseline).
`used_memory` (INFO memory) is read before and after each. Figures:

- `redis_bytes_per_waiting_event`: the events as they are;
- `redis_bytes_per_waiting_event_2kb_bodies`: each body padded to 2 KB with incompressible data
  (random base64 in an extra field), the same two writers;
- `redis_bytes_per_failed_event`: the receiver's events taken off the queue and failed as the
  worker fails them (worker/job_state.py: RQ's own failure record, a ~200-character reason like
  Elasticsearch's mapping errors), against the same events waiting.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
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
from worker.job_state import JobState, read_or_restore

BENCH = "redis_memory"
# As the worker words a document Elasticsearch refused for good (about 200 characters).
FAILURE_REASON = (
    "IndexingError: 400 mapper_parsing_exception: failed to parse field [zoom.participant.join_time]"
    " of type [date] in document with id '%s'. Preview of field's value: 'true'"
)


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


def padded(bodies: list[bytes], size: int) -> list[bytes]:
    """Each body grown to about `size` bytes by a field of random base64 (zlib cannot shrink it)."""
    grown = []
    for body in bodies:
        document = json.loads(body)
        room = max(0, size - len(body) - len(',"padding":""'))
        document["padding"] = base64.b64encode(os.urandom(room))[:room].decode()
        grown.append(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
    return grown


def enqueue_and_fail(settings: Settings, redis: Redis, bodies: list[bytes], chunk: int = 500) -> None:
    """Written by the receiver's writer, claimed off the queue and failed as the worker fails them."""
    events = enqueue_all(settings, bodies)
    state = JobState(redis, events.finished_job_registry.key, settings.result_ttl_seconds, "bench")
    while job_ids := [job_id.decode() for job_id in redis.lpop(events.key, chunk) or []]:
        failures = [(event, FAILURE_REASON % event.job_id) for event in read_or_restore(redis, job_ids)]
        with redis.pipeline(transaction=True) as pipe:
            state.fail(pipe, failures)
            pipe.execute()


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
        big = padded(bodies, 2048)
        big_writer = per_event(redis, big, lambda chunk: enqueue_all(settings, chunk))
        big_rq = per_event(redis, big, lambda chunk: enqueue_with_rq(settings, redis, chunk))
        failed = per_event(redis, bodies, lambda chunk: enqueue_and_fail(settings, redis, chunk))
    rq_is = "the same events enqueued with RQ's Queue.enqueue_call"
    common = {"events": args.events, "body_bytes_average": round(average)}
    emit(BENCH, "redis_bytes_per_waiting_event", writer, rq, **common, baseline_is=rq_is)
    big_average = round(sum(map(len, big)) / len(big))
    emit(
        BENCH,
        "redis_bytes_per_waiting_event_2kb_bodies",
        big_writer,
        big_rq,
        events=args.events,
        body_bytes_average=big_average,
        baseline_is=rq_is,
    )
    emit(
        BENCH,
        "redis_bytes_per_failed_event",
        failed,
        writer,
        **common,
        reason_characters=len(FAILURE_REASON % ("x" * 36)),
        baseline_is="the same events waiting on the queue, as the receiver writes them",
    )


if __name__ == "__main__":
    main()
