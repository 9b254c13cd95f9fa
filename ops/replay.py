"""`zoom-ingest replay`: put failed events back on the queue, selectively.

Failed events are ordinary RQ jobs in the queue's FailedJobRegistry. Each selected job is requeued
with RQ's own `FailedJobRegistry.requeue` (what `rq requeue` calls), so it goes back to the end of
the queue exactly as stock tooling would put it there: same id, arguments (raw body, receive time),
description and meta.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from ops.registry import (
    REDIS_ERRORS,
    chunks,
    failure_line,
    failure_strings,
    fetch_jobs,
    invalid_redis_url,
    open_queue,
    received_at,
    redis_unreachable,
)
from shared.config import Settings
from shared.queue import parse_iso_as_utc

# A replay this large shows progress on stderr even when stderr is not a terminal.
LARGE_REPLAY = 1000
UNKNOWN_EVENT = "(unknown event)"
EXPIRED = "job data expired or missing"
UNREADABLE = "job data unreadable"
GONE = "left the failed registry meanwhile"


class SelectionError(ValueError):
    """Command-line selection that cannot be used (exit code 2)."""


@dataclass(frozen=True)
class Selection:
    """Which failed jobs to requeue; every given criterion must hold (AND). Several ids or several
    event prefixes: any of them (OR)."""

    job_ids: tuple[str, ...] = ()
    event_prefixes: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, job: Job) -> bool:
        if self.event_prefixes:
            event = job.meta.get("event")
            if not isinstance(event, str) or not event.startswith(self.event_prefixes):
                return False
        if self.since is not None or self.until is not None:
            moment = received_at(job)
            if moment is None:
                return False
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment > self.until:
                return False
        return True


def parse_moment(text: str, flag: str, *, end_of_day: bool = False) -> datetime:
    """An ISO-8601 date or date-time; naive = UTC. A bare date means the start of that day (UTC), or
    its last microsecond with end_of_day, so that `--until 2026-11-25` includes the 25th."""
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1, microseconds=-1) if end_of_day else start
    try:
        return parse_iso_as_utc(text)
    except ValueError:
        raise SelectionError(
            f"{flag}: {text!r} is not an ISO-8601 date or time (e.g. 2026-11-25, 2026-11-25T14:30:00Z)"
        ) from None


def build_selection(
    job_ids: Sequence[str],
    events: Sequence[str],
    since: str | None,
    until: str | None,
    everything: bool,
) -> Selection:
    if not (job_ids or events or since or until or everything):
        raise SelectionError(
            "say which failed jobs to requeue: job ids, --event PREFIX, --since/--until, "
            "or --all for every failed job (add --dry-run to only list them)"
        )
    if any(not prefix for prefix in events):
        raise SelectionError("--event: the prefix must not be empty")
    selection = Selection(
        job_ids=tuple(dict.fromkeys(job_id.strip() for job_id in job_ids if job_id.strip())),
        event_prefixes=tuple(dict.fromkeys(events)),
        since=parse_moment(since, "--since") if since else None,
        until=parse_moment(until, "--until", end_of_day=True) if until else None,
    )
    if selection.since and selection.until and selection.since > selection.until:
        raise SelectionError("--since is after --until: no event could match")
    return selection


@dataclass
class ReplayOutcome:
    requeued: Counter[str] = field(default_factory=Counter)  # by event type
    skipped: Counter[str] = field(default_factory=Counter)  # by cause
    not_found: list[str] = field(default_factory=list)  # named ids not in the failed registry
    not_requeued: dict[str, str] = field(default_factory=dict)  # named ids found but skipped: cause
    not_selected: int = 0  # named ids that other criteria excluded

    @property
    def total(self) -> int:
        return sum(self.requeued.values())


class Progress:
    """One line on stderr: redrawn in place on a terminal, else a line per 10% (large runs only)."""

    def __init__(self, total: int, stream: IO[str], label: str, interval: float = 0.2) -> None:
        self.total, self.stream, self.label, self.interval = total, stream, label, interval
        self.tty = _isatty(stream)
        self.enabled = total > 0 and (self.tty or total > LARGE_REPLAY)
        self.done = 0
        self._drawn = 0.0
        self._decile = 0

    def advance(self, count: int = 1) -> None:
        if not self.enabled:
            return
        self.done = min(self.total, self.done + count)
        if self.tty:
            now = time.monotonic()
            if now - self._drawn >= self.interval or self.done == self.total:
                self._drawn = now
                self.stream.write(f"\r{self._text()}")
                self.stream.flush()
        elif self.done * 10 // self.total > self._decile:
            self._decile = self.done * 10 // self.total
            self.stream.write(self._text() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _text(self) -> str:
        return f"{self.label} {self.done:,}/{self.total:,} ({self.done * 100 // self.total}%)"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def replay(
    connection: Redis,
    queue: Queue,
    selection: Selection,
    *,
    dry_run: bool,
    out: IO[str],
    err: IO[str],
) -> ReplayOutcome:
    registry = queue.failed_job_registry
    # No cleanup: a dry run must change nothing; entries whose job has expired are reported as
    # skipped instead.
    registered = registry.get_job_ids(cleanup=False)
    outcome = ReplayOutcome()
    if selection.job_ids:
        present = set(registered)
        candidates = [job_id for job_id in selection.job_ids if job_id in present]
        outcome.not_found = [job_id for job_id in selection.job_ids if job_id not in present]
    else:
        candidates = registered
    named = set(selection.job_ids)

    progress = Progress(len(candidates), err, "checking" if dry_run else "requeueing")
    try:
        for batch in chunks(candidates):
            jobs = fetch_jobs(connection, batch)
            reasons = failure_strings(connection, batch) if dry_run else [None] * len(batch)
            for job_id, job, reason in zip(batch, jobs, reasons, strict=True):
                cause = _replay_one(registry, job_id, job, reason, selection, dry_run, out, outcome)
                if cause is not None:
                    outcome.skipped[cause] += 1
                    if job_id in named:
                        outcome.not_requeued[job_id] = cause
            progress.advance(len(batch))
    finally:
        progress.close()
    return outcome


def _replay_one(
    registry: FailedJobRegistry,
    job_id: str,
    job: Job | None,
    reason: str | None,
    selection: Selection,
    dry_run: bool,
    out: IO[str],
    outcome: ReplayOutcome,
) -> str | None:
    """Requeue (or list) one job; returns why it was skipped, or None."""
    if job is None:
        return EXPIRED
    if not selection.matches(job):
        if job_id in selection.job_ids:
            outcome.not_selected += 1
        return None
    event = job.meta.get("event")
    event = event if isinstance(event, str) and event else UNKNOWN_EVENT
    if dry_run:
        received = job.meta.get("received_at", "-")
        out.write(f"{job_id}  {event:<32}  {received}  {failure_line(reason)}\n")
    else:
        try:
            registry.requeue(job)
        except InvalidJobOperation:
            return GONE
        except NoSuchJobError:
            return EXPIRED
    outcome.requeued[event] += 1
    return None


def render_summary(outcome: ReplayOutcome, queue_name: str, dry_run: bool) -> str:
    verb = "would requeue" if dry_run else "requeued"
    lines = [f"{verb} {outcome.total} failed job{'s' if outcome.total != 1 else ''} to queue {queue_name}"]
    if dry_run:
        lines[0] += " (dry run: nothing changed)"
    if outcome.requeued:
        width = max(len(event) for event in outcome.requeued)
        lines += [f"  {event:<{width}}  {count}" for event, count in sorted(outcome.requeued.items())]
    skipped = sum(outcome.skipped.values())
    if skipped:
        causes = ", ".join(f"{cause}: {count}" for cause, count in sorted(outcome.skipped.items()))
        lines.append(f"skipped {skipped} ({causes})")
    else:
        lines.append("skipped 0")
    if outcome.not_selected:
        lines.append(f"{outcome.not_selected} named job(s) not selected: excluded by --event/--since/--until")
    return "\n".join(lines) + "\n"


def run_replay(
    settings: Settings,
    job_ids: Sequence[str],
    *,
    events: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
    everything: bool = False,
    dry_run: bool = False,
    out: IO[str],
    err: IO[str],
) -> int:
    """0 when done, 2 for an unusable selection, 1 when a named job could not be requeued."""
    try:
        selection = build_selection(job_ids, events, since, until, everything)
    except SelectionError as error:
        print(f"zoom-ingest replay: {error}", file=err)
        return 2
    try:
        connection, queue = open_queue(settings)
    except ValueError as error:
        print(f"zoom-ingest: {invalid_redis_url(settings, error)}", file=err)
        return 2
    try:
        outcome = replay(connection, queue, selection, dry_run=dry_run, out=out, err=err)
    except REDIS_ERRORS as error:
        print(f"zoom-ingest: {redis_unreachable(settings, error)}", file=err)
        return 1
    finally:
        connection.close()
    out.write(render_summary(outcome, queue.name, dry_run))
    code = 0
    if outcome.not_found:
        print(
            f"zoom-ingest replay: not in the failed registry of queue {queue.name}: "
            + ", ".join(outcome.not_found),
            file=err,
        )
        code = 1
    if outcome.not_requeued:
        print(
            "zoom-ingest replay: named but not requeued: "
            + ", ".join(f"{job_id} ({cause})" for job_id, cause in outcome.not_requeued.items()),
            file=err,
        )
        code = 1
    return code
