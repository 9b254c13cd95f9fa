"""Group commit: accepted events reach Redis in shared writes, each request answered once its own
event is written.

While one write to Redis is in flight, requests that arrive queue up here; when the write returns,
all of them go out together in the next one (one MULTI/EXEC). An idle receiver writes a lone event
at once, so nothing waits for company; a busy one pays one Redis round trip per group instead of
per request. Writes run in a thread of their own, so the event loop never blocks on Redis.

With ZOOM_INGEST_ACK_REPLICAS = N > 0, each group's transaction is followed by one WAIT for N
replicas on the same connection: the whole group is answered 200 once they confirm it, or fails
with NotReplicated (503) when they do not within ZOOM_INGEST_ACK_REPLICAS_TIMEOUT_MS.

Each job is packed (receiver.writer.EventWriter.pack) by its request, before it joins a group: an event
that cannot be written fails alone, never the group it would have joined.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from receiver.writer import EventWriter, PackedJob
from shared.config import Settings

# A group is one Redis transaction; past this size the next group starts (bounds its latency).
MAX_GROUP = 1000
# How stale the known queue depth may be before a request over the limit re-reads it.
DEPTH_MAX_AGE_SECONDS = 1.0


class QueueFull(Exception):
    """More events are waiting than ZOOM_INGEST_MAX_QUEUED."""


class GroupCommit:
    def __init__(self, settings: Settings, writer: EventWriter) -> None:
        self.max_queued = settings.max_queued
        self.ack_replicas = settings.ack_replicas
        self.ack_timeout_ms = settings.ack_replicas_timeout_ms
        self.writer = writer
        # Waiting for the next group: the jobs and, in the same order, their requests' futures.
        self.jobs: list[PackedJob] = []
        self.written: list[asyncio.Future[None]] = []
        self.writing = False
        self.depth = 0
        self.depth_read_at = 0.0
        # One thread: groups are written one after the other, in order.
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoom-ingest-commit")

    async def submit(self, job: PackedJob) -> None:
        """Return once the job is in Redis (and on ZOOM_INGEST_ACK_REPLICAS replicas); raise
        QueueFull, NotReplicated, or the RedisError of a failed write."""
        if self.depth >= self.max_queued:
            await self._admit()
        loop = asyncio.get_running_loop()
        written = loop.create_future()
        self.jobs.append(job)
        self.written.append(written)
        if not self.writing:
            self._write_next(loop)
        # A cancelled request cancels only its own future: its job stays in its group, and the
        # group's outcome skips it (see _written).
        await written

    async def _admit(self) -> None:
        # Over the limit as last seen: look again (at most once a second) before refusing.
        if time.monotonic() - self.depth_read_at > DEPTH_MAX_AGE_SECONDS:
            connection = self.writer.connection
            loop = asyncio.get_running_loop()
            depth = await loop.run_in_executor(self.thread, connection.llen, self.writer.queue_key)
            self._set_depth(depth)
        if self.depth >= self.max_queued:
            raise QueueFull

    def _set_depth(self, depth: int) -> None:
        self.depth = depth
        self.depth_read_at = time.monotonic()

    def _write_next(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs, written = self.jobs[:MAX_GROUP], self.written[:MAX_GROUP]
        del self.jobs[:MAX_GROUP], self.written[:MAX_GROUP]
        self.writing = True
        group = loop.run_in_executor(
            self.thread, self.writer.write, jobs, self.ack_replicas, self.ack_timeout_ms
        )
        group.add_done_callback(lambda outcome: self._written(loop, outcome, written))

    def _written(
        self,
        loop: asyncio.AbstractEventLoop,
        outcome: asyncio.Future[int],
        written: list[asyncio.Future[None]],
    ) -> None:
        if outcome.cancelled():  # the loop is closing
            for future in written:
                future.cancel()
        elif (failure := outcome.exception()) is not None:
            for future in written:
                if not future.done():
                    future.set_exception(failure)
        else:
            self._set_depth(outcome.result())
            for future in written:
                if not future.done():
                    future.set_result(None)
        self.writing = False
        if self.jobs:
            self._write_next(loop)
