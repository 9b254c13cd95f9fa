"""The batch worker's loop: take events from the queue in batches and index each batch with one
bulk request.

Each turn of the loop: claim up to ZOOM_INGEST_BATCH_SIZE job ids (worker/claims.py), read and
transform their events into documents (worker/job_state.py, worker/transform), hand the batch to a
thread that sends its bulk request, and finish the previous batch: its outcomes and the release of
its claims are one Redis transaction (worker/job_state.py). A document Elasticsearch refuses for
good fails alone, with its reason, into RQ's failed registry.

Asked to stop (SIGTERM, SIGINT), a worker takes nothing more, lets the bulk request under way end,
and retries nothing: what it has not recorded goes back to the head of the queue. So a stop takes at
most one Elasticsearch request (ZOOM_INGEST_ES_REQUEST_TIMEOUT_SECONDS) and a few seconds more
(`stop_bound`), whatever ZOOM_INGEST_ES_RETRY_SECONDS is.

While Elasticsearch is unavailable nothing fails: a batch it has not taken after
ZOOM_INGEST_ES_RETRY_SECONDS of retries goes back to the head of the queue with the batch claimed
meanwhile, and the worker takes no more events until Elasticsearch answers again.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker

from shared import queue
from shared.config import Settings
from shared.queue import parse_iso_as_utc
from worker import metrics
from worker.claims import WAIT_SECONDS, Claims
from worker.job import job_document
from worker.job_state import JobState, QueuedEvent, read_or_restore
from worker.outcomes import Batch, log_failure
from worker.sink import IndexingError, Interrupted, Sink
from worker.transform import TransformOptions

log = logging.getLogger("zoom_ingest.worker")

# Beyond the request under way, what a stop may wait for: a claim waiting on an empty queue
# (WAIT_SECONDS), transforming one batch, recording it and handing claims back (Redis round trips).
STOP_MARGIN_SECONDS = WAIT_SECONDS + 8


def stop_bound(settings: Settings) -> float:
    """How long a worker may take to exit once asked to stop, Redis answering; a process manager's
    grace period (compose's stop_grace_period) must be at least this."""
    return settings.es_request_timeout_seconds + STOP_MARGIN_SECONDS


class BatchWorker:
    def __init__(self, settings: Settings, connection: Redis, sink: Sink, options: TransformOptions) -> None:
        self.settings = settings
        self.connection = connection
        self.sink = sink
        self.options = options
        self.queue = queue.event_queue(settings, connection)
        # Registered with RQ only so that `rq info`, rq-dashboard and `zoom-ingest status` list it.
        # Named here, but prepared (RQ's constructor asks Redis for the client's address) only in
        # register(): Redis may be away when a worker starts.
        self.registration = self.rq_worker(prepare_for_work=False)
        self.name = self.registration.name
        self.claims = Claims(
            connection, self.queue.name, self.queue.key, self.name, settings.worker_ttl_seconds
        )
        self.job_state = JobState(
            connection, self.queue.finished_job_registry.key, settings.result_ttl_seconds, self.name
        )
        self.stopping = False
        # The batch whose bulk request is under way, finished on the next turn.
        self.in_bulk: Batch | None = None
        # Set when Redis failed mid-turn: this worker's claims go back to the queue before it goes on.
        self.reclaiming = False
        # Set when a batch went back to the queue because Elasticsearch stayed unavailable: no more
        # claims until it answers.
        self.paused = False

    def rq_worker(self, *, prepare_for_work: bool, name: str | None = None) -> SimpleWorker:
        return SimpleWorker(
            [self.queue],
            name=name,
            connection=self.connection,
            serializer=queue.SERIALIZER,
            worker_ttl=self.settings.worker_ttl_seconds,
            prepare_for_work=prepare_for_work,
        )

    def heartbeat(self) -> None:
        with self.connection.pipeline() as pipe:
            self.claims.keep_alive(pipe)
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
        if not self.register():
            return 0
        # Retries can take a while; keep proving this worker is alive (only once it is registered).
        self.sink.while_waiting = self.heartbeat
        # A stop ends them: the events go back to the queue instead (turn, and below).
        self.sink.interrupted = lambda: self.stopping
        handled = 0
        pause = 1.0
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk") as bulk:
                while not (self.stopping and self.in_bulk is None):
                    try:
                        finished, done = self.turn(bulk, burst)
                    except RedisError as failure:
                        pause = self.wait_for_redis(failure, pause)
                        continue
                    except Interrupted:
                        self.in_bulk = None
                        break
                    handled += finished
                    pause = 1.0
                    if done:
                        break
        finally:
            with contextlib.suppress(RedisError):
                # Claimed and not recorded (a stop, or a failure): back to the head of the queue now
                # rather than after ZOOM_INGEST_WORKER_TTL_SECONDS. Empty after a clean stop.
                self.claims.return_own("stopping")
                self.registration.register_death()
                self.claims.end()
        return handled

    def register(self) -> bool:
        """Join RQ's worker registry, waiting for Redis if it is away or still loading its data (it
        restarts beside the worker, or fails over): a worker that exits here leaves the queue to
        grow. False if stopped meanwhile."""
        pause = 1.0
        while not self.stopping:
            try:
                self.registration = self.rq_worker(prepare_for_work=True, name=self.name)
                # Names are fresh uuids: a key already there is this worker's own earlier attempt,
                # written by a transaction whose reply was lost (RQ would refuse it as a twin).
                if not self.connection.exists(self.registration.key):
                    self.registration.register_birth()
                self.heartbeat()
                return True
            except RedisError as failure:
                pause = self.wait_for_redis(failure, pause)
        return False

    def turn(self, bulk: ThreadPoolExecutor, burst: bool) -> tuple[int, bool]:
        """Claim and prepare the next batch, finish the one in bulk, send the next one. Returns
        the events finished and, with burst, whether the queue is done."""
        if self.reclaiming:
            self.reclaim()
        if self.paused:
            self.wait_for_elasticsearch()
        self.claims.return_orphans()
        # Block for new events only when there is nothing else to do.
        wait = not burst and self.in_bulk is None
        ids = [] if self.stopping or self.paused else self.claims.claim(self.settings.batch_size, wait)
        prepared = self.prepare(ids) if ids else None
        finished = 0
        if self.in_bulk is not None:
            finished = self.finish(self.in_bulk)
            self.in_bulk = None
            if self.paused:
                prepared = None  # back on the queue with the batch that was not written
        # A batch prepared when the stop came is not sent: still claimed, it goes back to the queue.
        if prepared is not None and not self.stopping:
            self.registration.set_state("busy")
            prepared.indexing = bulk.submit(self.sink.index_many, prepared.documents)
            self.in_bulk = prepared
        elif not self.stopping:
            self.registration.set_state("idle")
            if burst and (self.paused or self.connection.llen(self.queue.key) == 0):
                return finished, True
        self.heartbeat()
        return finished, False

    def wait_for_redis(self, failure: RedisError, pause: float) -> float:
        """Redis went away mid-turn: drop the batch in bulk (what was recorded cannot be known), wait,
        and have the next turn put this worker's claims back on the queue first (re-indexing finds
        the written ones as duplicates). Returns the next pause."""
        if self.in_bulk is not None:
            with contextlib.suppress(Exception):
                self.in_bulk.outcomes()
            self.in_bulk = None
        log.warning("redis unavailable (%s), trying again in %.0fs", type(failure).__name__, pause)
        end = time.monotonic() + pause
        while not self.stopping and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))
        self.reclaiming = True
        return min(pause * 2, 30.0)

    def reclaim(self) -> None:
        """Nor can it be known whether a claim whose reply was lost moved ids (commands are not
        retried: shared/connection.py). Done once Redis answers again, on whichever server is
        primary by then, before anything else; a failure here leaves it to the next turn."""
        self.heartbeat()
        self.claims.return_own("losing redis")
        self.reclaiming = False

    def wait_for_elasticsearch(self) -> None:
        """Take no events until Elasticsearch answers (or the worker is stopped), proving this
        worker alive meanwhile. Any answer counts, a refusal too: only connection failures and
        transient statuses mean it is still away."""
        started = time.monotonic()
        pause = 1.0
        while not self.stopping:
            self.heartbeat()
            if self.sink.answers():
                waited = time.monotonic() - started
                log.info("elasticsearch answers again after %.0fs: taking events again", waited)
                self.paused = False
                metrics.PAUSED.set(0)
                return
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    def prepare(self, ids: list[str]) -> Batch:
        """Read and transform claimed events; the bulk request is sent by the caller."""
        events = read_or_restore(self.connection, ids)
        batch = Batch(claimed=len(ids), claimed_at=datetime.now(UTC), events=events)
        metrics.BATCH_SIZE.observe(len(batch.events))
        for position, event in enumerate(batch.events):
            prepared = job_document(event.func_name, event.args, self.options)
            if prepared is None:
                reason = f"not a zoom-ingest event job ({event.func_name})"
                batch.refused[position] = IndexingError(reason, kind="not_an_event_job")
                continue
            batch.documents.append(prepared)
        return batch

    def finish(self, batch: Batch) -> int:
        """Wait for the batch's bulk request, then record every outcome and release the batch's
        claims in one transaction. Events Elasticsearch was unavailable for go back to the queue
        instead, with every claim taken since, and claiming pauses. Returns events handled."""
        outcomes = batch.outcomes()
        now = datetime.now(UTC)
        failures: list[tuple[QueuedEvent, IndexingError]] = []
        unwritten: list[str] = []
        finished: list[QueuedEvent] = []
        for event, outcome in zip(batch.events, outcomes, strict=True):
            if isinstance(outcome, IndexingError) and outcome.transient:
                unwritten.append(event.job_id)
            elif isinstance(outcome, IndexingError):
                failures.append((event, outcome))
            else:
                (metrics.INDEXED if outcome == "created" else metrics.DUPLICATES).inc()
                metrics.LAG_SECONDS.observe((now - parse_iso_as_utc(event.args[1])).total_seconds())
                finished.append(event)
        with self.connection.pipeline(transaction=True) as pipe:
            reasons = [(event, f"{type(error).__name__}: {error}") for event, error in failures]
            event_types = self.job_state.fail(pipe, reasons)
            self.job_state.finish(pipe, finished, batch.claimed_at, now)
            if unwritten:
                self.claims.give_back(pipe, batch.claimed, unwritten)
            else:
                self.claims.release(pipe, batch.claimed)
            pipe.execute()
        for (event, error), event_type in zip(failures, event_types, strict=True):
            log_failure(event.job_id, event_type, error)
        if unwritten:
            self.pause(len(unwritten))
        log.info(
            "batch of %d: %d indexed or already there, %d failed, %d back on the queue",
            len(batch.events),
            len(finished),
            len(failures),
            len(unwritten),
        )
        return len(batch.events) - len(unwritten)

    def pause(self, returned: int) -> None:
        """After a batch went back to the queue: no claims until Elasticsearch answers (the batch
        claimed meanwhile went back with it and must not be sent)."""
        metrics.RETURNED.inc(returned)
        metrics.PAUSED.set(1)
        self.paused = True
        log.warning(
            "elasticsearch unavailable for %ds: %d events back on the queue, taking no more until it answers",
            self.settings.es_retry_seconds,
            returned,
        )
