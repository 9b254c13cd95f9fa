"""The receiver's job writer: webhooks written as RQ jobs, a group per Redis transaction."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from os import urandom
from typing import Any

from redis.connection import AbstractConnection
from redis.exceptions import ExecAbortError, ResponseError
from rq import Queue
from rq.job import Job, JobStatus
from rq.utils import utcformat

from shared.config import Settings
from shared.queue import EVENT_NAME_LIMIT, JOB_FUNCTION, SERIALIZER, format_received_at

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
        event = event[:EVENT_NAME_LIMIT]
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
