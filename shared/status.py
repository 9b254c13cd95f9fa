"""`zoom-ingest status`: what the queue holds right now, for people and for scripts.

Read-only: it never runs RQ's registry cleanup (which moves abandoned jobs and deletes expired
entries), so looking at a queue cannot change it. Also home of the small helpers `replay` shares:
naming Redis without its password, and reading a failed job's reason.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.results import Result

from shared.config import Settings, env_name
from shared.queue import INFLIGHT_PREFIX, SERIALIZER, connect, event_queue, parse_received_at

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError)
REASON_LIMIT = 120
TOP_REASONS = 10
# Ids per Redis round trip when reading many jobs or results.
BATCH = 500
NO_FAILURE_RECORDED = "(no failure recorded)"
# How many jobs at the head of the queue to look at for the oldest waiting event (a head id whose
# job hash has gone is skipped).
_HEAD_PEEK = 10
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")
# RQ's own failure for a job whose worker died: "Moved to FailedJobRegistry, due to
# AbandonedJobError, at <time>"; without the time, all such jobs share one reason.
_ABANDONED = re.compile(r"^(Moved to \w+, due to \w+), at .*$")

T = TypeVar("T")


# Shared with `replay` ---------------------------------------------------------------------------


def redacted_url(url: str) -> str:
    """The Redis URL with any password replaced by ***, for messages."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return "(unparsable URL)"
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        url = url.replace(netloc, f"{userinfo.partition(':')[0]}:***@{host}", 1)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def _scrub(text: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text


def redis_unreachable(settings: Settings, error: Exception) -> str:
    name = env_name("redis_url")
    detail = _scrub(str(error), settings.redis_url) or type(error).__name__
    return (
        f"cannot reach Redis at {redacted_url(settings.redis_url)} (set by {name} or --redis-url): {detail}"
    )


def invalid_redis_url(settings: Settings, error: Exception) -> str:
    return f"{env_name('redis_url')}: {_scrub(str(error), settings.redis_url)}"


def open_queue(settings: Settings) -> tuple[Redis, Queue]:
    """Raises ValueError for a URL redis-py cannot use; connection errors surface on first use."""
    connection = connect(settings)
    return connection, event_queue(settings, connection)


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
        moment = parse_received_at(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Status -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    in_flight: int


@dataclass
class Status:
    queue: str
    queued: int = 0
    in_progress: int = 0
    failed: int = 0
    failed_by_reason: list[tuple[str, int]] = field(default_factory=list)
    oldest_waiting_seconds: float | None = None
    workers: list[WorkerInfo] = field(default_factory=list)
    # In-flight lists of workers that are no longer alive: their jobs go back to the queue when
    # another worker notices; until then they count as in progress.
    orphaned_in_flight: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "queued": self.queued,
            "in_progress": self.in_progress,
            "failed": self.failed,
            "failed_by_reason": [
                {"reason": reason, "count": count} for reason, count in self.failed_by_reason
            ],
            "oldest_waiting_seconds": self.oldest_waiting_seconds,
            "workers": len(self.workers),
            "worker_details": [
                {"name": worker.name, "state": worker.state, "in_flight": worker.in_flight}
                for worker in self.workers
            ],
            "in_flight_orphaned": sum(self.orphaned_in_flight.values()),
        }


def collect_status(connection: Redis, queue: Queue, now: float | None = None) -> Status:
    now = time.time() if now is None else now
    status = Status(queue=queue.name, queued=queue.count)
    status.oldest_waiting_seconds = _oldest_waiting(connection, queue, now)

    in_flight = _in_flight_lists(connection, queue.name)
    started = StartedJobRegistry(queue=queue)
    # Only live executions: an entry past its heartbeat is a job whose worker died, which RQ's
    # cleanup will move to the failed registry.
    executing = {
        StartedJobRegistry.parse_job_id(entry) for entry in connection.zrangebyscore(started.key, now, "+inf")
    }
    # A job a worker is executing can be both in its in-flight list and in the started registry:
    # count each job once.
    status.in_progress = len(executing.union(*in_flight.values()))

    failed_ids = queue.failed_job_registry.get_job_ids(cleanup=False)
    status.failed = len(failed_ids)
    reasons = Counter(failure_reason(text) for text in failure_strings(connection, failed_ids))
    status.failed_by_reason = reasons.most_common(TOP_REASONS)

    workers = sorted(Worker.all(queue=queue, serializer=SERIALIZER), key=lambda worker: worker.name)
    status.workers = [
        WorkerInfo(worker.name, worker.get_state(), len(in_flight.get(worker.name, []))) for worker in workers
    ]
    alive = {worker.name for worker in workers}
    status.orphaned_in_flight = {
        name: len(ids) for name, ids in sorted(in_flight.items()) if name not in alive and ids
    }
    return status


def _oldest_waiting(connection: Redis, queue: Queue, now: float) -> float | None:
    for job in fetch_jobs(connection, queue.get_job_ids(0, _HEAD_PEEK)):
        moment = received_at(job) if job is not None else None
        if moment is not None:
            return round(max(0.0, now - moment.timestamp()), 1)
    return None


def _in_flight_lists(connection: Redis, queue_name: str) -> dict[str, list[str]]:
    """{worker name: job ids} of every in-flight list of this queue."""
    prefix = f"{INFLIGHT_PREFIX}{queue_name}:"
    keys = sorted(
        key.decode() if isinstance(key, bytes) else key
        for key in connection.scan_iter(match=_GLOB_SPECIAL.sub(r"\\\1", prefix) + "*", count=1000)
    )
    if not keys:
        return {}
    with connection.pipeline(transaction=False) as pipeline:
        for key in keys:
            pipeline.lrange(key, 0, -1)
        contents = pipeline.execute()
    return {
        key.removeprefix(prefix): [item.decode() if isinstance(item, bytes) else item for item in ids]
        for key, ids in zip(keys, contents, strict=True)
    }


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def render_text(status: Status, verbose: bool = False) -> str:
    width = 16
    lines = [
        f"{'queue':<{width}}{status.queue}",
        f"{'queued':<{width}}{status.queued}",
        f"{'in progress':<{width}}{status.in_progress}",
        f"{'oldest waiting':<{width}}{format_age(status.oldest_waiting_seconds)}",
        f"{'failed':<{width}}{status.failed}",
    ]
    if status.failed_by_reason:
        count_width = len(str(status.failed_by_reason[0][1]))
        lines += [
            f"{'':<{width}}{count:>{count_width}}  {reason}" for reason, count in status.failed_by_reason
        ]
        shown = sum(count for _, count in status.failed_by_reason)
        if shown < status.failed:
            lines.append(f"{'':<{width}}{status.failed - shown:>{count_width}}  (other reasons)")
    lines.append(f"{'workers':<{width}}{len(status.workers)}")
    if verbose and status.workers:
        name_width = max(len(worker.name) for worker in status.workers)
        state_width = max(len(worker.state) for worker in status.workers)
        lines += [
            f"{'':<{width}}{worker.name:<{name_width}}  {worker.state:<{state_width}}  "
            f"in flight {worker.in_flight}"
            for worker in status.workers
        ]
    if status.orphaned_in_flight:
        total = sum(status.orphaned_in_flight.values())
        owners = ", ".join(_shorten(status.orphaned_in_flight))
        lines.append(
            f"{'':<{width}}{total} in flight with workers no longer alive ({owners}); "
            "they return to the queue when a worker recovers them"
        )
    return "\n".join(lines) + "\n"


def _shorten(owners: dict[str, int], limit: int = 5) -> Iterable[str]:
    items = [f"{name}: {count}" for name, count in owners.items()]
    return items if len(items) <= limit else [*items[:limit], f"+{len(items) - limit} more"]


def run_status(settings: Settings, *, as_json: bool, verbose: bool, out: IO[str], err: IO[str]) -> int:
    try:
        connection, queue = open_queue(settings)
    except ValueError as error:
        print(f"zoom-ingest: {invalid_redis_url(settings, error)}", file=err)
        return 2
    try:
        status = collect_status(connection, queue)
    except REDIS_ERRORS as error:
        print(f"zoom-ingest: {redis_unreachable(settings, error)}", file=err)
        return 1
    finally:
        connection.close()
    if as_json:
        out.write(json.dumps(status.as_json(), ensure_ascii=False) + "\n")
    else:
        out.write(render_text(status, verbose))
    return 0
