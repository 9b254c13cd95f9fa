"""`zoom-ingest failed`: one failed event in full (`show`), and discarding failed events
(`discard`) with the same selection as `replay`.

`status` and `replay --dry-run` show a reason cut to one line; `show` gives the whole failure text
as the worker recorded it (Elasticsearch's complete reason, values included: the failed registry
is the one place that keeps them) and the body exactly as received. A discarded event is deleted
with RQ's own Job.delete, after taking it out of the failed registry the way RQ's requeue does
(a ZREM that only one of a concurrent replay and discard can win), and leaves a log line.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import IO, Any

from redis import Redis
from rq import Queue
from rq.job import Job

from ops.registry import NO_FAILURE_RECORDED, fetch_jobs, on_queue
from ops.selection import (
    EXPIRED,
    GONE,
    Chosen,
    Outcome,
    Selection,
    event_of,
    for_each_selected,
    listing_line,
    run_selected,
)
from shared.config import Settings

log = logging.getLogger("zoom_ingest.ops")


@dataclass(frozen=True)
class FailedEvent:
    job_id: str
    event: str
    received_at: str | None
    failed_at: str | None
    function: str
    stream: str | None  # report records only
    reason: str  # the whole failure text, as recorded
    body: str  # the raw body (or report record) exactly as received

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class NotFailed(LookupError):
    """The id names no failed event whose data is still there."""


def failed_event(connection: Redis, queue: Queue, job_id: str) -> FailedEvent:
    if connection.zscore(queue.failed_job_registry.key, job_id) is None:
        raise NotFailed(f"{job_id} is not in the failed registry of queue {queue.name}")
    [job] = fetch_jobs(connection, [job_id])
    if job is None:
        raise NotFailed(f"{job_id}: {EXPIRED}")
    # The failure as the worker recorded it: RQ's latest result of the job.
    result = job.latest_result()
    args = list(job.args or [])
    return FailedEvent(
        job_id=job_id,
        event=event_of(job),
        received_at=job.meta.get("received_at"),
        failed_at=result.created_at.isoformat() if result is not None else None,
        function=job.func_name or "",
        stream=job.meta.get("stream"),
        reason=(result.exc_string if result is not None else None) or NO_FAILURE_RECORDED,
        body=str(args[0]) if args else "",
    )


def render_event(event: FailedEvent) -> str:
    width = 10
    lines = [
        f"{'job':<{width}}{event.job_id}",
        f"{'event':<{width}}{event.event}" + (f" (report stream {event.stream})" if event.stream else ""),
        f"{'received':<{width}}{event.received_at or '-'}",
        f"{'failed':<{width}}{event.failed_at or '-'}",
        f"{'function':<{width}}{event.function}",
        "reason",
        *(f"  {line}" for line in event.reason.rstrip().splitlines()),
        "body",
        event.body,
    ]
    return "\n".join(lines) + "\n"


def discard(
    connection: Redis, queue: Queue, selection: Selection, *, dry_run: bool, out: IO[str], err: IO[str]
) -> Outcome:
    registry_key = queue.failed_job_registry.key

    def delete(job_id: str, job: Job | None, reason: str | None) -> str | None:
        if dry_run:
            out.write(listing_line(job_id, job, reason) if job is not None else f"{job_id}  ({EXPIRED})\n")
            return None
        # Taken out of the registry first, as RQ's requeue does: whichever of a replay and a
        # discard removes it wins, and the other skips it.
        if not connection.zrem(registry_key, job_id):
            return GONE
        if job is not None:
            job.delete()
        event = event_of(job)
        received = job.meta.get("received_at") if job is not None else None
        log.warning(
            "discarded failed event %s (%s) received %s",
            job_id,
            event,
            received or "-",
            extra={"event.action": event, "event.id": job_id, "event.outcome": "failure"},
        )
        return None

    label = "checking" if dry_run else "discarding"
    return for_each_selected(connection, queue, selection, delete, with_reasons=dry_run, err=err, label=label)


def run_show(
    settings: Settings, job_id: str, *, as_json: bool, body_only: bool, out: IO[str], err: IO[str]
) -> int:
    """0 when shown, 1 when not a failed event or Redis is unreachable, 2 for an unusable URL."""

    def work(connection: Redis, queue: Queue) -> int:
        try:
            event = failed_event(connection, queue, job_id.strip())
        except NotFailed as error:
            print(f"zoom-ingest failed show: {error}", file=err)
            return 1
        if body_only:
            out.write(event.body + "\n")
        elif as_json:
            out.write(json.dumps(event.as_json(), ensure_ascii=False) + "\n")
        else:
            out.write(render_event(event))
        return 0

    return on_queue(settings, err, work)


def run_discard(settings: Settings, chosen: Chosen, *, out: IO[str], err: IO[str]) -> int:
    """0 when done, 2 for an unusable selection, 1 when Redis is unreachable or a named job could
    not be discarded."""

    def apply(connection: Redis, queue: Queue, selection: Selection) -> Outcome:
        return discard(connection, queue, selection, dry_run=chosen.dry_run, out=out, err=err)

    return run_selected(settings, chosen, "failed discard", ("discard", "discarded"), apply, out=out, err=err)
