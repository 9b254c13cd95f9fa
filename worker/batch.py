"""Take events from the queue in batches and index each batch with one bulk request.

Each webhook stays its own RQ job, so stock RQ tooling (rq info, rq requeue, rq-dashboard) sees
ordinary jobs and a document Elasticsearch refuses for good fails alone, with its reason, into RQ's
failed registry. What changes is how jobs are taken and finished:

- claim: job ids move atomically from the queue into this worker's in-flight list, up to
  ZOOM_INGEST_BATCH_SIZE at a time (waiting only while the queue is empty);
- index: every body becomes a document (worker/transform) and the batch is one bulk request;
- finish: statuses, registries and the emptying of the in-flight list are one Redis transaction.

A worker killed anywhere in between leaves its ids in its in-flight list; once its liveness key
expires, any other worker puts them back on the queue. Re-indexing them is harmless: document ids
come from the events, so Elasticsearch reports the ones already written as duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.exceptions import DeserializationError
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure

from shared import queue
from shared.config import Settings
from shared.queue import JOB_FUNCTION, parse_received_at
from worker import metrics
from worker.job import document_id
from worker.sink import IndexingError, Outcome, Sink
from worker.transform import TransformOptions, to_document

log = logging.getLogger("zoom_ingest.worker")

# Move up to ARGV[1] ids from the queue to the in-flight list in one atomic step.
CLAIM_SCRIPT = """
local ids = {}
for _ = 1, tonumber(ARGV[1]) do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not id then break end
  ids[#ids + 1] = id
end
return ids
"""
# Put a dead worker's claimed ids back at the head of the queue, oldest first.
RETURN_SCRIPT = """
local moved = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do moved = moved + 1 end
return moved
"""
# Finish jobs as RQ does (status finished, then kept ARGV[2] seconds, or deleted when that is 0):
# one command for a whole batch instead of two per job, which cost more than the rest of finish.
FINISH_SCRIPT = """
local ttl = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  if ttl > 0 then
    redis.call('HSET', key, 'status', ARGV[1])
    redis.call('EXPIRE', key, ttl)
  else
    redis.call('DEL', key)
  end
end
return #KEYS
"""


@dataclass
class Batch:
    claimed: int
    events: list[queue.QueuedEvent]
    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # positions in `events` refused before indexing
    refused: dict[int, IndexingError] = field(default_factory=dict)
    indexing: Future[list[Outcome]] | None = None

    def outcomes(self) -> list[Outcome]:
        """One per event, in order; waits for the bulk request."""
        indexed: Iterator[Outcome] = iter(self.indexing.result() if self.indexing else [])
        return [
            self.refused[position] if position in self.refused else next(indexed)
            for position in range(len(self.events))
        ]


class BatchWorker:
    def __init__(self, settings: Settings, connection: Redis, sink: Sink, options: TransformOptions) -> None:
        self.settings = settings
        self.connection = connection
        self.sink = sink
        self.options = options
        self.queue = queue.event_queue(settings, connection)
        # Registered with RQ only so that `rq info`, rq-dashboard and `zoom-ingest status` list it.
        self.registration = SimpleWorker(
            [self.queue],
            connection=connection,
            serializer=queue.SERIALIZER,
            worker_ttl=settings.worker_ttl_seconds,
        )
        self.name = self.registration.name
        self.inflight = queue.inflight_key(self.queue.name, self.name)
        self.finished_registry_key = self.queue.finished_job_registry.key
        self.alive_key = queue.alive_key(self.name)
        self.claim_script = connection.register_script(CLAIM_SCRIPT)
        self.return_script = connection.register_script(RETURN_SCRIPT)
        self.finish_script = connection.register_script(FINISH_SCRIPT)
        self.stopping = False
        self.next_sweep = 0.0

    def heartbeat(self) -> None:
        with self.connection.pipeline() as pipe:
            pipe.set(self.alive_key, 1, ex=self.settings.worker_ttl_seconds)
            self.registration.heartbeat(pipeline=pipe)
            pipe.execute()

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("stopping after the current batch (signal %d)", signum)
        self.stopping = True

    def install_signal_handlers(self) -> None:
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, self.request_stop)

    def run(self, burst: bool = False) -> int:
        """Work until stopped (or, with burst, until the queue is empty); returns events handled.

        Two batches overlap: while Elasticsearch indexes one (a thread waiting on the network), the
        next is claimed and transformed here. Each is finished on its own, in claim order.
        """
        self.registration.register_birth()
        self.heartbeat()
        # Retries can take a while; keep proving this worker is alive (only once it is registered).
        self.sink.while_waiting = self.heartbeat
        handled = 0
        pause = 1.0
        in_bulk: Batch | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk") as bulk:
            try:
                while not (self.stopping and in_bulk is None):
                    try:
                        self.return_orphans()
                        # Block for new events only when there is nothing else to do.
                        ids = [] if self.stopping else self.claim(wait=not burst and in_bulk is None)
                        prepared = self.prepare(ids) if ids else None
                        if in_bulk is not None:
                            handled += self.finish(in_bulk)
                            in_bulk = None
                        if prepared is not None:
                            self.registration.set_state("busy")
                            prepared.indexing = bulk.submit(self.sink.index_many, prepared.documents)
                            in_bulk = prepared
                        else:
                            self.registration.set_state("idle")
                            if burst and self.connection.llen(self.queue.key) == 0:
                                break
                        self.heartbeat()
                        pause = 1.0
                    except RedisError as failure:
                        if in_bulk is not None:
                            with contextlib.suppress(Exception):
                                in_bulk.outcomes()
                            in_bulk = None
                        log.warning(
                            "redis unavailable (%s), trying again in %.0fs", type(failure).__name__, pause
                        )
                        time.sleep(pause)
                        pause = min(pause * 2, 30.0)
                        self.reclaim_own()
            finally:
                with contextlib.suppress(RedisError):
                    self.registration.register_death()
                    self.connection.delete(self.alive_key)
        return handled

    def reclaim_own(self) -> None:
        """After losing Redis mid-batch we cannot know what was recorded: put this worker's claimed
        ids back on the queue (re-indexing finds the written ones as duplicates)."""
        with contextlib.suppress(RedisError):
            self.heartbeat()
            moved = self.return_script(keys=[self.inflight, self.queue.key])
            if moved:
                log.warning("put %d claimed events back on the queue after losing redis", moved)

    def claim(self, wait: bool) -> list[str]:
        ids: list[str] = []
        if wait:
            # Block briefly only while the queue is empty, then heartbeat and look again.
            first = self.connection.blmove(self.queue.key, self.inflight, 2, "LEFT", "RIGHT")
            if not isinstance(first, bytes):
                return []
            ids.append(first.decode())
        room = self.settings.batch_size - len(ids)
        more: list[bytes] = self.claim_script(keys=[self.queue.key, self.inflight], args=[room])
        ids.extend(item.decode() for item in more)
        return ids

    def prepare(self, ids: list[str]) -> Batch:
        """Read and transform claimed events; the bulk request is sent by the caller."""
        events = queue.read_events(self.connection, ids)
        # A job whose data cannot be read the lean way is restored by RQ (and fails if unusable).
        for position, event in enumerate(events):
            if event is None:
                job = Job.fetch_many([ids[position]], self.connection, queue.SERIALIZER)[0]
                if job is not None:
                    events[position] = self.restored(job)
        batch = Batch(claimed=len(ids), events=[event for event in events if event is not None])
        metrics.BATCH_SIZE.observe(len(batch.events))
        for position, event in enumerate(batch.events):
            if event.func_name != JOB_FUNCTION or len(event.args) != 2:
                reason = f"not a zoom-ingest event job ({event.func_name})"
                batch.refused[position] = IndexingError(reason, kind="not_an_event_job")
                continue
            body, received_at = event.args
            document = to_document(
                body.encode("utf-8", "surrogatepass"), parse_received_at(received_at), self.options
            )
            batch.documents.append((document_id(body), document))
        return batch

    @staticmethod
    def restored(job: Job) -> queue.QueuedEvent:
        try:
            return queue.QueuedEvent(job.id, job.func_name or "", tuple(job.args or ()))
        except DeserializationError:
            return queue.QueuedEvent(job.id, "(unreadable job data)", ())

    def finish(self, batch: Batch) -> int:
        """Wait for the batch's bulk request, then record every outcome and release the batch's
        claims (the oldest in the in-flight list) in one transaction. Returns events handled."""
        events, outcomes = batch.events, batch.outcomes()
        result_ttl = self.settings.result_ttl_seconds
        now = datetime.now(UTC)
        failures = [
            (event, outcome)
            for event, outcome in zip(events, outcomes, strict=True)
            if isinstance(outcome, IndexingError)
        ]
        # Failures are rare: record them with RQ's own code, on whole RQ jobs.
        failed_jobs = Job.fetch_many(
            [event.job_id for event, _ in failures], self.connection, queue.SERIALIZER
        )
        finished: list[queue.QueuedEvent] = []
        with self.connection.pipeline(transaction=True) as pipe:
            for (event, failure), job in zip(failures, failed_jobs, strict=True):
                log.warning("event %s failed: %s", event.job_id, failure)
                metrics.FAILED.labels(failure.kind).inc()
                if job is not None:
                    record_job_failure(job, f"{type(failure).__name__}: {failure}", pipe)
            for event, result in zip(events, outcomes, strict=True):
                if isinstance(result, IndexingError):
                    continue
                (metrics.INDEXED if result == "created" else metrics.DUPLICATES).inc()
                metrics.LAG_SECONDS.observe((now - parse_received_at(event.args[1])).total_seconds())
                finished.append(event)
            if finished:
                keys = [event.key for event in finished]
                self.finish_script(keys=keys, args=[JobStatus.FINISHED.value, result_ttl], client=pipe)
                if result_ttl > 0:
                    # Listed in the registry until their hashes expire, as RQ lists finished jobs.
                    expires_at = time.time() + result_ttl
                    listed: dict[str | bytes, float] = {event.job_id: expires_at for event in finished}
                    pipe.zadd(self.finished_registry_key, listed)
            # This batch's ids head the list; the next batch's, claimed meanwhile, stay claimed.
            pipe.ltrim(self.inflight, batch.claimed, -1)
            pipe.execute()
        log.info(
            "batch of %d: %d indexed or already there, %d failed",
            len(events),
            len(events) - len(failures),
            len(failures),
        )
        return len(events)

    def return_orphans(self) -> None:
        """Put back what dead workers had claimed; looked at about once per worker TTL."""
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + self.settings.worker_ttl_seconds / 2
        prefix = queue.inflight_key(self.queue.name, "")
        for key in self.connection.scan_iter(match=prefix + "*", count=100):
            owner = key.decode().removeprefix(prefix)
            if owner == self.name or self.connection.exists(queue.alive_key(owner)):
                continue
            moved = self.return_script(keys=[key, self.queue.key])
            if moved:
                log.warning("returned %d events claimed by dead worker %s to the queue", moved, owner)
