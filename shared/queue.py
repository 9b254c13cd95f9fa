"""The queue contract between receiver and worker: what a job holds and how it is written to Redis.

A job is one webhook: the raw body text exactly as received and the time it was received. Jobs are
serialized as JSON (never pickle: a queue entry must not be able to execute code in a worker), carry
a description without any payload data, and name the worker function by its import path, so the
receiver never imports worker code.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from shared.config import Settings

JOB_FUNCTION = "worker.job.index_event"
# A worker moves the job ids it is working on from the queue into its own in-flight list (one
# atomic move), so a worker killed mid-batch loses nothing: when its RQ worker key expires, any
# other worker moves the ids back to the queue. Key: INFLIGHT_PREFIX + "<queue>:<worker name>".
INFLIGHT_PREFIX = "zoom-ingest:inflight:"
# A worker keeps this key alive (TTL = ZOOM_INGEST_WORKER_TTL_SECONDS) while it holds claims; once it
# is gone, the worker counts as dead and its in-flight list is returned to the queue.
ALIVE_PREFIX = "zoom-ingest:alive:"
SERIALIZER = JSONSerializer
# Kept short in job descriptions and meta: it comes from the sender.
EVENT_NAME_LIMIT = 100


def connect(settings: Settings, *, socket_timeout: float | None = 5.0) -> Redis:
    """A Redis client that fails fast instead of hanging a request while Redis is away.

    Workers, which block on the queue for a few seconds at a time, pass a longer socket_timeout.
    """
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=5.0,
        health_check_interval=30,
    )


def event_queue(settings: Settings, connection: Redis) -> Queue:
    return Queue(
        settings.queue,
        connection=connection,
        serializer=SERIALIZER,
        default_timeout=settings.job_timeout_seconds,
    )


@dataclass(frozen=True)
class QueuedEvent:
    """What a worker needs of a job: its function and arguments, read without building an RQ Job."""

    job_id: str
    func_name: str
    args: tuple[Any, ...]

    @property
    def key(self) -> str:
        return str(Job.key_for(self.job_id))


# The `data` field of each job hash in KEYS (false, returned as nil, for a job that is gone).
_READ_DATA_SCRIPT = """
local data = {}
for i, key in ipairs(KEYS) do data[i] = redis.call('HGET', key, 'data') end
return data
"""


def read_events(connection: Redis, job_ids: list[str]) -> list[QueuedEvent | None]:
    """One command for many jobs: only their `data` field, decoded as RQ stores it (JSON of
    [function, instance, args, kwargs], zlib-compressed). Restoring whole RQ Jobs costs a worker
    more than transforming the events, and a pipeline of one HGET per job a third as much again.
    None for a job that is gone or unreadable."""
    if not job_ids:
        return []
    read_data = connection.register_script(_READ_DATA_SCRIPT)
    raw: list[bytes | None] = read_data(keys=[Job.key_for(job_id) for job_id in job_ids])
    events: list[QueuedEvent | None] = []
    for job_id, data in zip(job_ids, raw, strict=True):
        try:
            if data is None:
                raise ValueError("no such job")
            func_name, _, args, _ = SERIALIZER.loads(zlib.decompress(data))
        except (TypeError, ValueError, zlib.error):
            events.append(None)
        else:
            events.append(QueuedEvent(job_id, func_name, tuple(args)))
    return events


def inflight_key(queue_name: str, worker_name: str) -> str:
    return f"{INFLIGHT_PREFIX}{queue_name}:{worker_name}"


def alive_key(worker_name: str) -> str:
    return ALIVE_PREFIX + worker_name


def format_received_at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_received_at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def enqueue_event(
    queue: Queue,
    settings: Settings,
    body: str,
    event: str,
    received_at: datetime,
    pipeline: Pipeline | None = None,
) -> Job:
    """Write one webhook to Redis; returns once Redis has acknowledged the write (or, given a
    pipeline, once the write is queued on it: the caller executes it)."""
    event = event[:EVENT_NAME_LIMIT]
    received = format_received_at(received_at)
    return queue.enqueue_call(
        JOB_FUNCTION,
        args=(body, received),
        timeout=settings.job_timeout_seconds,
        result_ttl=settings.result_ttl_seconds,
        failure_ttl=settings.failure_ttl_seconds,
        description=f"zoom webhook {event} received {received}",
        meta={"event": event, "received_at": received},
        pipeline=pipeline,
    )
