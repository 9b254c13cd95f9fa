"""RQ's job state, as the batch worker reads and records it: a job's function and arguments read
in bulk, and a batch's outcomes written as RQ writes them (finished, or failed with its reason).

Each webhook stays its own RQ job, so stock RQ tooling (rq info, rq requeue, rq-dashboard) sees
ordinary jobs. Successes are recorded in bulk, by one script call for the whole batch, with the
fields RQ's worker writes on success; failures are rare and go through RQ's own code.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline
from rq.exceptions import DeserializationError
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.utils import utcformat

from shared.queue import SERIALIZER


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
# Set the fields ARGV[2..] (name, value pairs) of every job in KEYS, then keep each ARGV[1] seconds,
# or delete it when that is 0: one command for a whole batch instead of two per job, which cost
# more than the rest of finishing.
_FINISH_SCRIPT = """
local ttl = tonumber(ARGV[1])
local fields = {unpack(ARGV, 2)}
for _, key in ipairs(KEYS) do
  if ttl > 0 then
    redis.call('HSET', key, unpack(fields))
    redis.call('EXPIRE', key, ttl)
  else
    redis.call('DEL', key)
  end
end
return #KEYS
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


def read_or_restore(connection: Redis, job_ids: list[str]) -> list[QueuedEvent]:
    """read_events, with RQ restoring what cannot be read the lean way (a job it cannot use gets a
    function name that says so, and fails). Jobs that are gone are left out."""
    events = read_events(connection, job_ids)
    for position, event in enumerate(events):
        if event is None:
            job = Job.fetch_many([job_ids[position]], connection, SERIALIZER)[0]
            if job is not None:
                events[position] = _restored(job)
    return [event for event in events if event is not None]


def _restored(job: Job) -> QueuedEvent:
    try:
        return QueuedEvent(job.id, job.func_name or "", tuple(job.args or ()))
    except DeserializationError:
        return QueuedEvent(job.id, "(unreadable job data)", ())


class JobState:
    """Records a batch's outcomes on its jobs, on a transaction the caller executes."""

    def __init__(
        self, connection: Redis, finished_registry_key: str, result_ttl: int, worker_name: str
    ) -> None:
        self.connection = connection
        self.finished_registry_key = finished_registry_key
        self.result_ttl = result_ttl
        self.worker_name = worker_name
        self.finish_script = connection.register_script(_FINISH_SCRIPT)

    def fail(self, pipe: Pipeline, failures: Sequence[tuple[QueuedEvent, str]]) -> list[str | None]:
        """Each job failed with its reason, by RQ's own code (into the failed registry). Returns the
        event type each was queued as (its meta["event"]; None for a job that is gone)."""
        jobs = Job.fetch_many([event.job_id for event, _ in failures], self.connection, SERIALIZER)
        for (_, reason), job in zip(failures, jobs, strict=True):
            if job is not None:
                record_job_failure(job, reason, pipe)
        return [_event_type(job) for job in jobs]

    def finish(
        self, pipe: Pipeline, events: Sequence[QueuedEvent], started_at: datetime, ended_at: datetime
    ) -> None:
        """The jobs finished as RQ's worker finishes a job: status, when it started and ended and
        by whom, kept result_ttl seconds and listed in the finished registry until then (or deleted
        at once when result_ttl is 0)."""
        if not events:
            return
        fields = {
            "status": JobStatus.FINISHED.value,
            "started_at": utcformat(started_at),
            "ended_at": utcformat(ended_at),
            "last_heartbeat": utcformat(ended_at),
            "worker_name": self.worker_name,
        }
        arguments = [self.result_ttl, *(item for pair in fields.items() for item in pair)]
        self.finish_script(keys=[event.key for event in events], args=arguments, client=pipe)
        if self.result_ttl > 0:
            expires_at = time.time() + self.result_ttl
            listed: dict[str | bytes, float] = {event.job_id: expires_at for event in events}
            pipe.zadd(self.finished_registry_key, listed)


def _event_type(job: Job | None) -> str | None:
    event = job.meta.get("event") if job is not None else None
    return event if isinstance(event, str) and event else None
