"""`zoom-ingest replay`: put failed events back on the queue, selectively.

Failed events are ordinary RQ jobs in the queue's FailedJobRegistry. Each selected job is requeued
with RQ's own `FailedJobRegistry.requeue` (what `rq requeue` calls), so it goes back to the end of
the queue exactly as stock tooling would put it there: same id, arguments (raw body, receive time),
description and meta.
"""

from __future__ import annotations

from typing import IO

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from ops.selection import (
    EXPIRED,
    GONE,
    Chosen,
    Outcome,
    Selection,
    for_each_selected,
    listing_line,
    run_selected,
)
from shared.config import Settings


def replay(
    connection: Redis,
    queue: Queue,
    selection: Selection,
    *,
    dry_run: bool,
    out: IO[str],
    err: IO[str],
) -> Outcome:
    registry = queue.failed_job_registry

    def requeue(job_id: str, job: Job | None, reason: str | None) -> str | None:
        if job is None:
            return EXPIRED
        if dry_run:
            out.write(listing_line(job_id, job, reason))
            return None
        try:
            registry.requeue(job)
        except InvalidJobOperation:
            return GONE
        except NoSuchJobError:
            return EXPIRED
        return None

    label = "checking" if dry_run else "requeueing"
    return for_each_selected(
        connection, queue, selection, requeue, with_reasons=dry_run, err=err, label=label
    )


def run_replay(settings: Settings, chosen: Chosen, *, out: IO[str], err: IO[str]) -> int:
    """0 when done, 2 for an unusable selection, 1 when Redis is unreachable or a named job could
    not be requeued."""

    def apply(connection: Redis, queue: Queue, selection: Selection) -> Outcome:
        return replay(connection, queue, selection, dry_run=chosen.dry_run, out=out, err=err)

    return run_selected(settings, chosen, "replay", ("requeue", "requeued"), apply, out=out, err=err)
