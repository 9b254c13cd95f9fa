"""Reading RQ's queue and registries in bulk, for `status` and `replay`: jobs and failure reasons
by the hundred, receive times, and naming Redis in messages without its password."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, TypeVar

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job
from rq.results import Result

from shared.config import Settings, env_name
from shared.connection import connect
from shared.logs import redact, url_passwords
from shared.queue import SERIALIZER, event_queue, parse_iso_as_utc

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError)
REASON_LIMIT = 120
# Ids per Redis round trip when reading many jobs or results.
BATCH = 500
NO_FAILURE_RECORDED = "(no failure recorded)"
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")
# RQ's own failure for a job whose worker died: "Moved to FailedJobRegistry, due to
# AbandonedJobError, at <time>"; without the time, all such jobs share one reason.
_ABANDONED = re.compile(r"^(Moved to \w+, due to \w+), at .*$")

T = TypeVar("T")


def redacted_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages."""
    return redact(url)


def _redis_error_text(settings: Settings, error: Exception) -> str:
    return redact(str(error), url_passwords([settings.redis_url]))


def redis_unreachable(settings: Settings, error: Exception) -> str:
    name = env_name("redis_url")
    detail = _redis_error_text(settings, error) or type(error).__name__
    if settings.redis_sentinels:
        return (
            f"cannot reach the Redis primary {settings.redis_sentinel_master!r} through the Sentinels "
            f"{','.join(settings.redis_sentinels)} (set by {env_name('redis_sentinels')}): {detail}"
        )
    return (
        f"cannot reach Redis at {redacted_url(settings.redis_url)} (set by {name} or --redis-url): {detail}"
    )


def invalid_redis_url(settings: Settings, error: Exception) -> str:
    return f"{env_name('redis_url')}: {_redis_error_text(settings, error)}"


def open_queue(settings: Settings) -> tuple[Redis, Queue]:
    """Raises ValueError for a URL redis-py cannot use; connection errors surface on first use."""
    connection = connect(settings)
    return connection, event_queue(settings, connection)


def on_queue(settings: Settings, err: IO[str], work: Callable[[Redis, Queue], int]) -> int:
    """Run `work` on the queue and return its exit code; 2 for a URL redis-py cannot use, 1 when
    Redis cannot be reached (one line on `err`, without the password)."""
    try:
        connection, queue = open_queue(settings)
    except ValueError as error:
        print(f"zoom-ingest: {invalid_redis_url(settings, error)}", file=err)
        return 2
    try:
        return work(connection, queue)
    except REDIS_ERRORS as error:
        print(f"zoom-ingest: {redis_unreachable(settings, error)}", file=err)
        return 1
    finally:
        connection.close()


def chunks(items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def failure_line(exc_string: str | None) -> str:
    """The failure's "Type: message" line, first line of the message only.

    A worker that raised leaves a traceback: its exception line is the first unindented line after
    the last "Traceback" header (the exception that ended the job, after any chained ones), which
    is the last line unless the message spans several. A failure recorded without a traceback
    (the batch worker's "IndexingError: ...", RQ's abandoned-job note) is taken from its first line.
    """
    if not exc_string or not exc_string.strip():
        return NO_FAILURE_RECORDED
    lines = [line for line in exc_string.rstrip().splitlines() if line.strip()]
    headers = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if headers:
        for line in lines[headers[-1] + 1 :]:
            if not line[0].isspace():
                return _truncate(line.strip())
        return _truncate(lines[-1].strip())
    return _truncate(lines[0].strip())


def failure_reason(exc_string: str | None) -> str:
    """failure_line made comparable across jobs: object addresses and RQ's abandonment time out."""
    line = _ABANDONED.sub(r"\1", failure_line(exc_string))
    return _truncate(_ADDRESS.sub("0x…", line))


def _truncate(text: str) -> str:
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def failure_strings(connection: Redis, job_ids: Sequence[str]) -> list[str | None]:
    """The exc_string of each job's latest result (what `job.latest_result().exc_string` reads), in
    one round trip per batch; None where no failure is recorded."""
    strings: list[str | None] = []
    for batch in chunks(job_ids):
        with connection.pipeline(transaction=False) as pipeline:
            for job_id in batch:
                pipeline.xrevrange(Result.get_key(job_id), "+", "-", count=1)
            responses = pipeline.execute()
        for job_id, response in zip(batch, responses, strict=True):
            if not response:
                strings.append(None)
                continue
            result_id, payload = response[0]
            result = Result.restore(
                job_id, result_id.decode(), payload, connection=connection, serializer=SERIALIZER
            )
            strings.append(result.exc_string or None)
    return strings


def fetch_jobs(connection: Redis, job_ids: Sequence[str]) -> list[Job | None]:
    """Jobs by id, None for a job whose hash is gone or unreadable."""
    try:
        return Job.fetch_many(job_ids, connection=connection, serializer=SERIALIZER)
    except (NoSuchJobError, DeserializationError, ValueError):
        pass  # one bad hash spoils the batch: read them one by one
    jobs: list[Job | None] = []
    for job_id in job_ids:
        try:
            jobs.append(Job.fetch(job_id, connection=connection, serializer=SERIALIZER))
        except (NoSuchJobError, DeserializationError, ValueError):
            jobs.append(None)
    return jobs


def received_at(job: Job) -> datetime | None:
    """meta["received_at"] as an aware datetime (naive = UTC), None when absent or unreadable."""
    text = job.meta.get("received_at")
    if not isinstance(text, str):
        return None
    try:
        return parse_iso_as_utc(text)
    except ValueError:
        return None
