"""The receiver's job writer: webhooks written as RQ jobs, a group per Redis transaction.

Queue.enqueue_call costs a receiver more than everything else it does per request (building a Job,
four Redis commands, redis-py packing them). EventWriter stores the very same job: one HSET of the
hash Job.save writes for it and, once per group, one RPUSH of all the ids and the SADD of the queue
into rq:queues. The hash is RQ's own: the fields every event job has in common are taken from a job
RQ builds once, at start-up (an rq upgrade changes them with it); only the four that differ per
webhook and enqueued_at are packed here, the job data as a stored zlib stream (see pack).
tests/receiver/test_writer.py compares the hashes with RQ's field by field.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from redis.connection import AbstractConnection
from redis.exceptions import ExecAbortError, RedisError, ResponseError
from rq import Queue
from rq.job import Job
from rq.utils import utcformat

from shared.config import Settings
from shared.queue import EVENT_NAME_LIMIT, JOB_FUNCTION, SERIALIZER, format_received_at

MULTI = b"*1\r\n$5\r\nMULTI\r\n"
# zlib's level 0: a valid zlib stream of stored (uncompressed) blocks.
STORED = 0
EXEC = b"*1\r\n$4\r\nEXEC\r\n"
# The fields of the hash that differ per webhook, packed by EventWriter.pack (enqueued_at, set as
# a group is written, is added by EventWriter.write).
PER_JOB_FIELDS = ("created_at", "data", "description", "meta")


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _command(*arguments: bytes) -> bytes:
    return b"*%d\r\n%b" % (len(arguments), b"".join(map(_bulk, arguments)))


def enqueue_arguments(settings: Settings, body: str, event: str, received: str) -> dict[str, Any]:
    """What Queue.enqueue_call would be given for one webhook: the job RQ builds from them is the
    one EventWriter writes."""
    event = event[:EVENT_NAME_LIMIT]
    return {
        "func": JOB_FUNCTION,
        "args": (body, received),
        "timeout": settings.job_timeout_seconds,
        "result_ttl": settings.result_ttl_seconds,
        "failure_ttl": settings.failure_ttl_seconds,
        "description": f"zoom webhook {event} received {received}",
        "meta": {"event": event, "received_at": received},
    }


def common_fields(queue: Queue, settings: Settings) -> dict[bytes, bytes]:
    """The fields every event job's hash has in common, as RQ's Job.to_dict gives them for a job
    built by Queue.create_job and redis-py encodes them."""
    prototype = queue.create_job(**enqueue_arguments(settings, "", "", ""))
    encode = queue.connection.get_encoder().encode
    return {
        name.encode(): encode(value)
        for name, value in prototype.to_dict().items()
        if name not in PER_JOB_FIELDS
    }


@dataclass(frozen=True, slots=True)
class PackedJob:
    """One job's HSET in the Redis protocol, but for its last field (enqueued_at: set per group)."""

    job_id: str
    hset: bytes


class EventWriter:
    """Writes webhooks as RQ jobs, a group per Redis transaction, without building RQ Job objects."""

    def __init__(self, queue: Queue, settings: Settings) -> None:
        self.connection = queue.connection
        self.settings = settings
        self.queue_key = queue.key.encode()
        common = common_fields(queue, settings)
        # HSET, key, then field/value pairs: the common ones, the per-job ones and enqueued_at.
        arguments = 2 + 2 * (len(common) + len(PER_JOB_FIELDS) + 1)
        self.head = b"*%d\r\n%b" % (arguments, _bulk(b"HSET"))
        self.common = b"".join(_bulk(name) + _bulk(value) for name, value in common.items())
        self.key_prefix = Job.redis_job_namespace_prefix
        self.register = _command(b"SADD", Queue.redis_queues_keys.encode(), self.queue_key)
        self.length = _command(b"LLEN", self.queue_key)

    def pack(self, body: str, event: str, received_at: datetime) -> PackedJob:
        """The job Queue.enqueue_call would write for this webhook. Raises UnicodeEncodeError for
        text Redis cannot store (a lone surrogate), before anything is written."""
        job_id = str(uuid4())  # as RQ names jobs
        received = format_received_at(received_at)
        job = enqueue_arguments(self.settings, body, event, received)
        # Job.data, then Job.to_dict's zlib stream, but stored rather than deflated: RQ and the
        # worker read it back with the same zlib.decompress. Deflating costs about 37 µs for a
        # typical 640-byte job here against 5 µs stored, a tenth of the receiver's CPU per
        # request, and saves about 290 bytes of Redis memory per waiting event (docs/operations.md).
        data = zlib.compress(SERIALIZER.dumps((job["func"], None, job["args"], {})), STORED)
        fields = (
            _bulk((self.key_prefix + job_id).encode())
            # The job is created as the webhook is received: the same instant, in RQ's format.
            + b"$10\r\ncreated_at\r\n"
            + _bulk(utcformat(received_at.astimezone(UTC)).encode())
            + b"$4\r\ndata\r\n"
            + _bulk(data)
            + b"$11\r\ndescription\r\n"
            + _bulk(job["description"].encode())
            + b"$4\r\nmeta\r\n"
            + _bulk(SERIALIZER.dumps(job["meta"]))
        )
        return PackedJob(job_id, self.head + fields + self.common)

    def write(self, jobs: Sequence[PackedJob], replicas: int = 0, timeout_ms: int = 0) -> int:
        """Write the jobs in one transaction and queue them in order; returns the queue's length
        after it. Raises the RedisError of a failed write (as with RQ's pipeline, commands Redis
        ran inside a failed EXEC are not undone: a WRONGTYPE queue key leaves unqueued hashes).

        With replicas > 0, a WAIT follows the transaction on the same connection (it waits for this
        connection's writes): NotReplicated if fewer replicas than that confirmed them in time."""
        enqueued_at = b"$11\r\nenqueued_at\r\n" + _bulk(utcformat(datetime.now(UTC)).encode())
        payload = b"".join(
            [
                MULTI,
                self.register,
                *[job.hset + enqueued_at for job in jobs],
                _command(b"RPUSH", self.queue_key, *[job.job_id.encode() for job in jobs]),
                self.length,
                EXEC,
                _command(b"WAIT", b"%d" % replicas, b"%d" % timeout_ms) if replicas else b"",
            ]
        )
        results, reached = self._transaction(payload, len(jobs) + 3, waits=replicas > 0)
        if reached < replicas:
            raise NotReplicated(reached, replicas)
        return int(results[-1])

    def _transaction(self, payload: bytes, commands: int, waits: bool) -> tuple[list[Any], int]:
        """Send a MULTI/EXEC of `commands` commands (and a WAIT); as redis-py's Pipeline does it
        (with the client's Retry on connection errors, raising the first error reply). Returns the
        transaction's results and, after a WAIT, how many replicas confirmed it."""
        pool = self.connection.connection_pool
        connection = pool.get_connection()
        try:
            return connection.retry.call_with_retry(
                lambda: self._send(connection, payload, commands, waits),
                lambda error: connection.disconnect(),
            )
        finally:
            pool.release(connection)

    @staticmethod
    def _send(
        connection: AbstractConnection, payload: bytes, commands: int, waits: bool
    ) -> tuple[list[Any], int]:
        try:
            connection.send_packed_command([payload])  # type: ignore[list-item]
            errors: list[ResponseError] = []
            for _ in range(commands + 1):  # +OK for MULTI, then +QUEUED or an error for each command
                try:
                    connection.read_response()
                except ResponseError as refused:
                    errors.append(refused)
            aborted: ExecAbortError | None = None
            try:
                results: list[Any] = connection.read_response()
            except ExecAbortError as discarded:
                aborted = discarded
            # Read the WAIT's reply even after a failed EXEC, so the connection stays usable.
            reached = int(connection.read_response()) if waits else 0
            if aborted is not None:
                raise (errors[0] if errors else aborted) from None  # the reason it was discarded
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
        return results, reached


class NotReplicated(RedisError):
    """Written on the primary, but WAIT saw fewer replicas confirm it than asked for in time."""

    def __init__(self, reached: int, wanted: int) -> None:
        super().__init__(f"write confirmed by {reached} of {wanted} replicas in time")
        self.reached = reached
        self.wanted = wanted
