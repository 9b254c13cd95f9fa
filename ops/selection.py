"""Choosing failed events: the one selection `replay` and `failed discard` share (job ids, event
type prefixes, receive times, or --all), and the walk over RQ's failed registry that applies an
action to each selected job, with progress on large runs and the outcome counted per event type.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO

from redis import Redis
from rq import Queue
from rq.job import Job

from ops.progress import Progress
from ops.registry import chunks, failure_line, failure_strings, fetch_jobs, on_queue, received_at
from shared.config import Settings
from shared.queue import parse_iso_as_utc

UNKNOWN_EVENT = "(unknown event)"
EXPIRED = "job data expired or missing"
GONE = "left the failed registry meanwhile"

# What to do with one selected job: its id, the job (None when its data is gone) and, when asked
# for, its failure text. Returns why it was skipped, or None when done.
Action = Callable[[str, Job | None, str | None], str | None]


class SelectionError(ValueError):
    """Command-line selection that cannot be used (exit code 2)."""


@dataclass(frozen=True)
class Selection:
    """Which failed jobs; every given criterion must hold (AND). Several ids or several event
    prefixes: any of them (OR)."""

    job_ids: tuple[str, ...] = ()
    event_prefixes: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    @property
    def by_content(self) -> bool:
        """Whether a criterion needs the job's data (a job whose data is gone cannot match it)."""
        return bool(self.event_prefixes) or self.since is not None or self.until is not None

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
    verb: str = "requeue",
) -> Selection:
    if not (job_ids or events or since or until or everything):
        raise SelectionError(
            f"say which failed jobs to {verb}: job ids, --event PREFIX, --since/--until, "
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


def add_selection_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    """The selection on the command line, the same for `replay` and `failed discard`."""
    parser.add_argument("job_ids", nargs="*", metavar="JOB_ID", help=f"failed job ids to {verb}")
    parser.add_argument(
        "--all", dest="select_all", action="store_true", help="every failed job (other criteria still apply)"
    )
    parser.add_argument(
        "--event",
        dest="events",
        action="append",
        default=[],
        metavar="PREFIX",
        help="event type prefix, e.g. 'meeting.' or 'user.created' (repeat for several)",
    )
    parser.add_argument(
        "--since", metavar="WHEN", help="received at or after WHEN (ISO-8601 date or time; naive = UTC)"
    )
    parser.add_argument(
        "--until", metavar="WHEN", help="received at or before WHEN (a bare date includes that whole day)"
    )
    parser.add_argument("--dry-run", action="store_true", help="only list the selected events")


@dataclass(frozen=True)
class Chosen:
    """The selection as given on the command line, before it is checked."""

    job_ids: Sequence[str] = ()
    events: Sequence[str] = ()
    since: str | None = None
    until: str | None = None
    everything: bool = False
    dry_run: bool = False


def chosen_by(arguments: argparse.Namespace) -> Chosen:
    return Chosen(
        job_ids=arguments.job_ids,
        events=arguments.events,
        since=arguments.since,
        until=arguments.until,
        everything=arguments.select_all,
        dry_run=arguments.dry_run,
    )


def event_of(job: Job | None) -> str:
    """The event type a job was queued as (meta["event"]), what `--event` matches."""
    event = job.meta.get("event") if job is not None else None
    return event if isinstance(event, str) and event else UNKNOWN_EVENT


def listing_line(job_id: str, job: Job, reason: str | None) -> str:
    """A dry run's line: id, event type, receive time, and the failure's short reason."""
    received = job.meta.get("received_at", "-")
    return f"{job_id}  {event_of(job):<32}  {received}  {failure_line(reason)}\n"


@dataclass
class Outcome:
    done: Counter[str] = field(default_factory=Counter)  # by event type
    skipped: Counter[str] = field(default_factory=Counter)  # by cause
    not_found: list[str] = field(default_factory=list)  # named ids not in the failed registry
    not_done: dict[str, str] = field(default_factory=dict)  # named ids found but skipped: cause
    not_selected: int = 0  # named ids that other criteria excluded

    @property
    def total(self) -> int:
        return sum(self.done.values())


def for_each_selected(
    connection: Redis,
    queue: Queue,
    selection: Selection,
    action: Action,
    *,
    with_reasons: bool,
    err: IO[str],
    label: str,
) -> Outcome:
    """Apply `action` to every failed job the selection picks. A job whose data is gone is passed
    as None when nothing but its id selects it (by id or --all), else skipped as expired."""
    # No cleanup: a dry run must change nothing; entries whose job has expired are handled above.
    registered = queue.failed_job_registry.get_job_ids(cleanup=False)
    outcome = Outcome()
    if selection.job_ids:
        present = set(registered)
        candidates = [job_id for job_id in selection.job_ids if job_id in present]
        outcome.not_found = [job_id for job_id in selection.job_ids if job_id not in present]
    else:
        candidates = registered
    named = set(selection.job_ids)

    progress = Progress(len(candidates), err, label)
    try:
        for batch in chunks(candidates):
            jobs = fetch_jobs(connection, batch)
            reasons = failure_strings(connection, batch) if with_reasons else [None] * len(batch)
            for job_id, job, reason in zip(batch, jobs, reasons, strict=True):
                if job is not None and not selection.matches(job):
                    outcome.not_selected += job_id in named
                    continue
                cause = EXPIRED if job is None and selection.by_content else action(job_id, job, reason)
                if cause is None:
                    outcome.done[event_of(job)] += 1
                    continue
                outcome.skipped[cause] += 1
                if job_id in named:
                    outcome.not_done[job_id] = cause
            progress.advance(len(batch))
    finally:
        progress.close()
    return outcome


def render_summary(outcome: Outcome, verb: str, past: str, queue_name: str, dry_run: bool) -> str:
    """`requeued 3 failed jobs to queue q` (or `would requeue ...`), per event type, then what was
    skipped and why."""
    total = f"{outcome.total} failed job{'s' if outcome.total != 1 else ''}"
    lines = [f"would {verb} {total}" if dry_run else f"{past} {total}"]
    lines[0] += f" {'to' if verb == 'requeue' else 'from'} queue {queue_name}"
    if dry_run:
        lines[0] += " (dry run: nothing changed)"
    if outcome.done:
        width = max(len(event) for event in outcome.done)
        lines += [f"  {event:<{width}}  {count}" for event, count in sorted(outcome.done.items())]
    skipped = sum(outcome.skipped.values())
    if skipped:
        causes = ", ".join(f"{cause}: {count}" for cause, count in sorted(outcome.skipped.items()))
        lines.append(f"skipped {skipped} ({causes})")
    else:
        lines.append("skipped 0")
    if outcome.not_selected:
        lines.append(f"{outcome.not_selected} named job(s) not selected: excluded by --event/--since/--until")
    if dry_run and outcome.total:
        lines.append("whole reason and body of one: zoom-ingest failed show JOB_ID")
    return "\n".join(lines) + "\n"


def run_selected(
    settings: Settings,
    chosen: Chosen,
    command: str,
    verbs: tuple[str, str],
    apply: Callable[[Redis, Queue, Selection], Outcome],
    *,
    out: IO[str],
    err: IO[str],
) -> int:
    """A command on the chosen failed jobs: `apply` does it, with verbs ("requeue", "requeued")
    for the messages. 0 when done, 2 for an unusable selection or Redis URL, 1 when Redis is
    unreachable or a named job was not in the failed registry or was skipped."""
    verb, past = verbs
    try:
        selection = build_selection(
            chosen.job_ids, chosen.events, chosen.since, chosen.until, chosen.everything, verb
        )
    except SelectionError as error:
        print(f"zoom-ingest {command}: {error}", file=err)
        return 2

    def work(connection: Redis, queue: Queue) -> int:
        outcome = apply(connection, queue, selection)
        out.write(render_summary(outcome, verb, past, queue.name, chosen.dry_run))
        code = 0
        if outcome.not_found:
            print(
                f"zoom-ingest {command}: not in the failed registry of queue {queue.name}: "
                + ", ".join(outcome.not_found),
                file=err,
            )
            code = 1
        if outcome.not_done:
            print(
                f"zoom-ingest {command}: named but not {past}: "
                + ", ".join(f"{job_id} ({cause})" for job_id, cause in outcome.not_done.items()),
                file=err,
            )
            code = 1
        return code

    return on_queue(settings, err, work)
