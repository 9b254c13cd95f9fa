"""`zoom-ingest status`: what the queue holds right now, for people and for scripts.

Read-only: it never runs RQ's registry cleanup (which moves abandoned jobs and deletes expired
entries), so looking at a queue cannot change it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from redis import Redis
from rq import Queue, Worker
from rq.registry import StartedJobRegistry

from ops.registry import failure_reason, failure_strings, fetch_jobs, on_queue, received_at
from poller.state import StreamStatus, read_status
from shared.config import Settings
from shared.queue import SERIALIZER, inflight_keys, living
from shared.reports import STREAMS

TOP_REASONS = 10
# How many jobs at the head of the queue to look at for the oldest waiting event (a head id whose
# job hash has gone is skipped).
_HEAD_PEEK = 10


# Status -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    in_flight: int


@dataclass
class QueueStatus:
    queue: str
    queued: int = 0
    in_progress: int = 0
    failed: int = 0
    failed_by_reason: list[tuple[str, int]] = field(default_factory=list)
    # One job id per reason: its whole reason and body are `zoom-ingest failed show <id>`.
    failed_examples: dict[str, str] = field(default_factory=dict)
    oldest_waiting_seconds: float | None = None
    workers: list[WorkerInfo] = field(default_factory=list)
    # In-flight lists of workers that are no longer alive: their jobs go back to the queue when
    # another worker notices; until then they count as in progress.
    orphaned_in_flight: dict[str, int] = field(default_factory=dict)
    # One per report stream the poller has touched.
    polling: list[StreamStatus] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "queued": self.queued,
            "in_progress": self.in_progress,
            "failed": self.failed,
            "failed_by_reason": [
                {"reason": reason, "count": count, "example_job_id": self.failed_examples.get(reason)}
                for reason, count in self.failed_by_reason
            ],
            "oldest_waiting_seconds": self.oldest_waiting_seconds,
            "workers": len(self.workers),
            "worker_details": [
                {"name": worker.name, "state": worker.state, "in_flight": worker.in_flight}
                for worker in self.workers
            ],
            "in_flight_orphaned": sum(self.orphaned_in_flight.values()),
            "polling": [asdict(stream) for stream in self.polling],
        }


def collect_status(connection: Redis, queue: Queue, now: float | None = None) -> QueueStatus:
    now = time.time() if now is None else now
    status = QueueStatus(queue=queue.name, queued=queue.count)
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
    reasons: Counter[str] = Counter()
    for job_id, text in zip(failed_ids, failure_strings(connection, failed_ids), strict=True):
        reason = failure_reason(text)
        reasons[reason] += 1
        status.failed_examples.setdefault(reason, job_id)
    status.failed_by_reason = reasons.most_common(TOP_REASONS)

    # Live as the workers themselves judge it when returning a dead worker's claims: RQ keeps a
    # worker killed with kill -9 registered for a minute longer than its heartbeat lasts.
    registered = sorted(Worker.all(queue=queue, serializer=SERIALIZER), key=lambda worker: worker.name)
    alive = living(connection, [worker.name for worker in registered])
    status.workers = [
        WorkerInfo(worker.name, worker.get_state(), len(in_flight.get(worker.name, [])))
        for worker, live in zip(registered, alive, strict=True)
        if live
    ]
    owners = [name for name, ids in sorted(in_flight.items()) if ids]
    status.orphaned_in_flight = {
        name: len(in_flight[name])
        for name, live in zip(owners, living(connection, owners), strict=True)
        if not live
    }
    status.polling = read_status(connection, list(STREAMS))
    return status


def _oldest_waiting(connection: Redis, queue: Queue, now: float) -> float | None:
    for job in fetch_jobs(connection, queue.get_job_ids(0, _HEAD_PEEK)):
        moment = received_at(job) if job is not None else None
        if moment is not None:
            return round(max(0.0, now - moment.timestamp()), 1)
    return None


def _in_flight_lists(connection: Redis, queue_name: str) -> dict[str, list[str]]:
    """{worker name: job ids} of every in-flight list of this queue."""
    keys = inflight_keys(connection, queue_name)
    if not keys:
        return {}
    with connection.pipeline(transaction=False) as pipeline:
        for key in keys.values():
            pipeline.lrange(key, 0, -1)
        contents = pipeline.execute()
    return {
        owner: [item.decode() if isinstance(item, bytes) else item for item in ids]
        for owner, ids in zip(keys, contents, strict=True)
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


def render_text(status: QueueStatus, verbose: bool = False) -> str:
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
        example = status.failed_examples.get(status.failed_by_reason[0][0])
        lines.append(f"{'':<{width}}whole reason and body: zoom-ingest failed show {example or 'JOB_ID'}")
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
    if status.polling:
        lines.append("polling")
        lines += [f"{'':<{width}}{stream.line()}" for stream in status.polling]
    return "\n".join(lines) + "\n"


def _shorten(owners: dict[str, int], limit: int = 5) -> Iterable[str]:
    items = [f"{name}: {count}" for name, count in owners.items()]
    return items if len(items) <= limit else [*items[:limit], f"+{len(items) - limit} more"]


def run_status(settings: Settings, *, as_json: bool, verbose: bool, out: IO[str], err: IO[str]) -> int:
    def work(connection: Redis, queue: Queue) -> int:
        status = collect_status(connection, queue)
        if as_json:
            out.write(json.dumps(status.as_json(), ensure_ascii=False) + "\n")
        else:
            out.write(render_text(status, verbose))
        return 0

    return on_queue(settings, err, work)
