"""The poller process: hold the lease, poll each enabled stream when it is due, sleep, repeat.

A failed poll never moves a cursor and never ends the process: it is logged, counted
(zoom_ingest_poll_errors), recorded for `zoom-ingest status`, and tried again after
ZOOM_INGEST_POLL_RETRY_SECONDS (or when Zoom's Retry-After says), bounded by the interval.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from types import FrameType

import httpx2
from redis import Redis
from redis.exceptions import RedisError

from poller import metrics
from poller.api import ReportApi, build_http
from poller.cycle import drain
from poller.errors import PollError, Stopped
from poller.lease import Lease
from poller.oauth import TokenSource
from poller.state import next_poll_at, record_error, record_success
from poller.streams import STREAMS
from shared import queue
from shared.config import Settings
from shared.connection import connect
from shared.monitoring import serve_metrics

log = logging.getLogger("zoom_ingest.poller")

# How often a waiting poller looks at the lease and the stop flag.
TICK_SECONDS = 1.0


class Poller:
    def __init__(self, settings: Settings, connection: Redis, http: httpx2.Client | None = None) -> None:
        self.settings = settings
        self.connection = connection
        self.queue = queue.event_queue(settings, connection)
        self.http = http or build_http(settings)
        self.tokens = TokenSource(settings, self.http)
        self.api = ReportApi(settings, self.http, self.tokens, self.wait)
        self.lease = Lease(connection, settings.poll_lease_seconds)
        self.stopping = False
        self.renewed_at = 0.0

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("stopping (signal %d)", signum)
        self.stopping = True

    def install_signal_handlers(self) -> None:
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, self.request_stop)

    def wait(self, seconds: float) -> None:
        """Sleep, keeping the lease; raises Stopped when asked to stop or when the lease is lost."""
        end = time.monotonic() + seconds
        while True:
            self.keep_lease()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, TICK_SECONDS))

    def keep_lease(self) -> None:
        if self.stopping:
            raise Stopped("stopping")
        # Renewed a few times per lease period, not on every tick.
        if time.monotonic() - self.renewed_at < self.settings.poll_lease_seconds / 4:
            return
        if not self.lease.hold():
            raise Stopped("another poller holds the lease")
        self.renewed_at = time.monotonic()

    def run(self) -> None:
        """Poll until stopped."""
        log.info("poller started for %s", ", ".join(self.settings.poll_streams))
        pause = 1.0
        try:
            while not self.stopping:
                try:
                    if self.lease.hold():
                        self.renewed_at = time.monotonic()
                        self.poll_due()
                    self.idle()
                    pause = 1.0
                except Stopped:
                    continue
                except RedisError as failure:
                    log.warning(
                        "redis unavailable (%s), trying again in %.0fs", type(failure).__name__, pause
                    )
                    time.sleep(pause)
                    pause = min(pause * 2, 30.0)
        finally:
            with contextlib.suppress(RedisError):
                self.lease.release()
            self.http.close()

    def idle(self) -> None:
        """Sleep until the next stream is due, at most half a lease period (to renew it, or to see
        whether the holder's is gone) and at least a tick (a poller waiting for the lease while
        the streams are due must not spin)."""
        now = datetime.now(UTC)
        due = [next_poll_at(self.connection, stream) or now for stream in self.settings.poll_streams]
        seconds = min((min(due) - now).total_seconds(), self.settings.poll_lease_seconds / 2)
        end = time.monotonic() + max(seconds, TICK_SECONDS)
        while not self.stopping and (left := end - time.monotonic()) > 0:
            time.sleep(min(TICK_SECONDS, left))

    def poll_due(self) -> None:
        for name in self.settings.poll_streams:
            due = next_poll_at(self.connection, name)
            if due is None or due <= datetime.now(UTC):
                self.poll(name)

    def poll(self, name: str) -> None:
        stream = STREAMS[name]
        started = datetime.now(UTC)
        try:
            queued = drain(stream, self.api, self.connection, self.queue, self.settings, started.date())
        except PollError as failure:
            now = datetime.now(UTC)
            wait = (
                failure.retry_after if failure.retry_after is not None else self.settings.poll_retry_seconds
            )
            wait = min(max(wait, 1.0), self.settings.poll_interval_seconds)
            next_at = now + timedelta(seconds=wait)
            metrics.ERRORS.labels(name, failure.kind).inc()
            record_error(self.connection, name, str(failure), now, next_at)
            log.error(
                "%s: poll failed, cursor unchanged, next attempt at %s: %s",
                name,
                next_at.isoformat(timespec="seconds"),
                failure,
            )
            return
        now = datetime.now(UTC)
        next_at = started + timedelta(seconds=self.settings.poll_interval_seconds)
        record_success(self.connection, name, now, next_at)
        metrics.LAST_SUCCESS.labels(name).set(now.timestamp())
        log.info(
            "%s: poll done, %d records queued, next at %s",
            name,
            queued,
            next_at.isoformat(timespec="seconds"),
        )


def run_poller(settings: Settings, *, idle_unconfigured: bool = False) -> int:
    """The `zoom-ingest poll` command; returns its exit code. Without credentials: 2, or (with
    idle_unconfigured, as compose runs it) 0 once stopped, having polled nothing."""
    if not settings.poller_configured:
        missing = (
            "ZOOM_INGEST_ZOOM_ACCOUNT_ID, ZOOM_INGEST_ZOOM_CLIENT_ID and ZOOM_INGEST_ZOOM_CLIENT_SECRET "
            "are not set (a Server-to-Server OAuth app; see README)"
        )
        if not idle_unconfigured:
            log.error("the poller cannot start: %s", missing)
            return 2
        log.info("the poller is off: %s", missing)
        stopped = threading.Event()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, lambda signum, frame: stopped.set())
        stopped.wait()
        return 0
    connection = connect(settings, socket_timeout=30.0)
    poller = Poller(settings, connection)
    poller.install_signal_handlers()
    serve_metrics(settings)
    poller.run()
    return 0
