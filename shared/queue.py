"""The queue contract between receiver and worker: what a job holds and how it is written to Redis.

A job is one webhook: the raw body text exactly as received and the time it was received. Jobs are
serialized as JSON (never pickle: a queue entry must not be able to execute code in a worker), carry
a description without any payload data, and name the worker function by its import path, so the
receiver never imports worker code.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from os import urandom
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.connection import AbstractConnection
from redis.exceptions import ExecAbortError, ResponseError
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import utcformat

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
_EVENT_NAME_LIMIT = 100


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
    event = event[:_EVENT_NAME_LIMIT]
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


# --- The receiver's lean writer --------------------------------------------------------------------
#
# Queue.enqueue_call costs a receiver more than everything else it does per request (building a Job,
# four Redis commands, redis-py packing them). EventWriter stores the very same job: one HSET of the
# hash Job.save writes for enqueue_event's job (queued, with origin and enqueued_at as
# Queue._enqueue_async_job sets them), and, once per group, one RPUSH of all the ids and the SADD of
# the queue into rq:queues. tests/shared/test_queue.py compares its hashes with RQ's field by field.

MULTI = b"*1\r\n$5\r\nMULTI\r\n"
EXEC = b"*1\r\n$4\r\nEXEC\r\n"


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _command(*arguments: bytes) -> bytes:
    return b"*%d\r\n%b" % (len(arguments), b"".join(map(_bulk, arguments)))


_UUID_VARIANT = dict(zip("0123456789abcdef", "89ab" * 4, strict=True))


def _job_id() -> str:
    """str(uuid4()), as RQ names jobs, for a third of the time."""
    hexa = urandom(16).hex()
    variant = _UUID_VARIANT[hexa[16]]
    return f"{hexa[:8]}-{hexa[8:12]}-4{hexa[13:16]}-{variant}{hexa[17:20]}-{hexa[20:]}"


@dataclass(frozen=True, slots=True)
class PackedJob:
    """One job's HSET in the Redis protocol, but for its last field (enqueued_at: set per group)."""

    job_id: str
    hset: bytes


class EventWriter:
    """Writes webhooks as RQ jobs, a group per Redis transaction, without building RQ Job objects."""

    # Fields this job has constant, as Job.to_dict writes them (redis-py's encoding: str(int)).
    _EMPTY_FIELDS: tuple[str, ...] = (
        "success_callback_name",
        "failure_callback_name",
        "stopped_callback_name",
        "started_at",
        "ended_at",
        "last_heartbeat",
        "worker_name",
        "group_id",
    )
    # The HSET's arguments: HSET, key, then field/value pairs (the 4 per-job ones and enqueued_at).
    _PER_JOB_FIELDS = 5

    def __init__(self, queue: Queue, settings: Settings) -> None:
        self.connection = queue.connection
        self.queue_key = queue.key.encode()
        constant = dict.fromkeys(self._EMPTY_FIELDS, "")
        constant |= {
            "origin": queue.name,
            "timeout": str(settings.job_timeout_seconds),
            "result_ttl": str(settings.result_ttl_seconds),
            "failure_ttl": str(settings.failure_ttl_seconds),
            "status": JobStatus.QUEUED.value,
        }
        arguments = 2 + 2 * (len(constant) + self._PER_JOB_FIELDS)
        self.head = b"*%d\r\n%b" % (arguments, _bulk(b"HSET"))
        self.constant = b"".join(
            _bulk(name.encode()) + _bulk(value.encode()) for name, value in constant.items()
        )
        self.key_prefix = Job.redis_job_namespace_prefix
        self.register = _command(b"SADD", Queue.redis_queues_keys.encode(), self.queue_key)
        self.length = _command(b"LLEN", self.queue_key)

    def pack(self, body: str, event: str, received_at: datetime) -> PackedJob:
        """The job enqueue_event would write for this webhook. Raises UnicodeEncodeError for text
        Redis cannot store (a lone surrogate), before anything is written."""
        job_id = _job_id()
        event = event[:_EVENT_NAME_LIMIT]
        received = format_received_at(received_at)
        # Job.data, then Job.to_dict: the same calls, so the same bytes.
        data = zlib.compress(SERIALIZER.dumps((JOB_FUNCTION, None, (body, received), {})))
        fields = (
            _bulk((self.key_prefix + job_id).encode())
            # The job is created as the webhook is received: the same instant, in RQ's format.
            + b"$10\r\ncreated_at\r\n"
            + _bulk(received[:-6].encode() + b"Z")
            + b"$4\r\ndata\r\n"
            + _bulk(data)
            + b"$11\r\ndescription\r\n"
            + _bulk(f"zoom webhook {event} received {received}".encode())
            + b"$4\r\nmeta\r\n"
            + _bulk(SERIALIZER.dumps({"event": event, "received_at": received}))
        )
        return PackedJob(job_id, self.head + fields + self.constant)

    def write(self, jobs: Sequence[PackedJob]) -> int:
        """Write the jobs in one transaction and queue them in order; returns the queue's length
        after it. Raises the RedisError of a failed write (as with RQ's pipeline, commands Redis
        ran inside a failed EXEC are not undone: a WRONGTYPE queue key leaves unqueued hashes)."""
        enqueued_at = b"$11\r\nenqueued_at\r\n" + _bulk(utcformat(datetime.now(UTC)).encode())
        payload = b"".join(
            [
                MULTI,
                self.register,
                *[job.hset + enqueued_at for job in jobs],
                _command(b"RPUSH", self.queue_key, *[job.job_id.encode() for job in jobs]),
                self.length,
                EXEC,
            ]
        )
        results = self._transaction(payload, len(jobs) + 3)
        return int(results[-1])

    def _transaction(self, payload: bytes, commands: int) -> list[Any]:
        """Send a MULTI/EXEC of `commands` commands; as redis-py's Pipeline does it (retrying on
        connection errors with the client's Retry, raising the first error reply)."""
        pool = self.connection.connection_pool
        connection = pool.get_connection()
        try:
            return connection.retry.call_with_retry(
                lambda: self._send(connection, payload, commands), lambda error: connection.disconnect()
            )
        finally:
            pool.release(connection)

    @staticmethod
    def _send(connection: AbstractConnection, payload: bytes, commands: int) -> list[Any]:
        try:
            connection.send_packed_command([payload])  # type: ignore[list-item]
            errors: list[ResponseError] = []
            for _ in range(commands + 1):  # +OK for MULTI, then +QUEUED or an error for each command
                try:
                    connection.read_response()
                except ResponseError as refused:
                    errors.append(refused)
            try:
                results: list[Any] = connection.read_response()
            except ExecAbortError:
                if errors:  # the reason the transaction was discarded
                    raise errors[0] from None
                raise
        except ResponseError:
            raise
        except BaseException:
            # Replies may be left unread: this connection cannot be reused.
            connection.disconnect()
            raise
        if len(results) != commands:
            connection.disconnect()
            raise ResponseError("wrong number of replies to the transaction")
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results
