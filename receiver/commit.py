"""Group commit: accepted events reach Redis in shared writes, each request answered once its own
event is written.

While one write to Redis is in flight, requests that arrive queue up here; when the write returns,
all of them go out together in the next one (one MULTI/EXEC). An idle receiver writes a lone event
at once, so nothing waits for company; a busy one pays one Redis round trip per group instead of
per request. Writes run in a worker thread, so the event loop never blocks on Redis.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

import anyio.to_thread
from rq import Queue

from shared import queue
from shared.config import Settings

# A group is one Redis transaction; past this size the next group starts (bounds its latency).
MAX_GROUP = 1000
# How stale the known queue depth may be before a request over the limit re-reads it.
DEPTH_MAX_AGE_SECONDS = 1.0


class QueueFull(Exception):
    """More events are waiting than ZOOM_INGEST_MAX_QUEUED."""


@dataclass
class _Pending:
    body: str
    event: str
    received_at: datetime
    written: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    def __init__(self, settings: Settings, event_queue: Queue) -> None:
        self.settings = settings
        self.queue = event_queue
        self.pending: list[_Pending] = []
        self.writer: asyncio.Task[None] | None = None
        self.depth = 0
        self.depth_read_at = 0.0

    async def submit(self, body: str, event: str, received_at: datetime) -> None:
        """Return once the event is in Redis; raise QueueFull, or the RedisError of a failed write."""
        await self._admit()
        item = _Pending(body, event, received_at)
        self.pending.append(item)
        if self.writer is None:
            self.writer = asyncio.create_task(self._write_all())
        await asyncio.shield(item.written)

    async def _admit(self) -> None:
        if self.depth < self.settings.max_queued:
            return
        # Over the limit as last seen: look again (at most once a second) before refusing.
        if time.monotonic() - self.depth_read_at > DEPTH_MAX_AGE_SECONDS:
            self._set_depth(await anyio.to_thread.run_sync(self.queue.connection.llen, self.queue.key))
        if self.depth >= self.settings.max_queued:
            raise QueueFull

    def _set_depth(self, depth: int) -> None:
        self.depth = depth
        self.depth_read_at = time.monotonic()

    async def _write_all(self) -> None:
        try:
            while self.pending:
                group, self.pending = self.pending[:MAX_GROUP], self.pending[MAX_GROUP:]
                try:
                    depth = await anyio.to_thread.run_sync(self._write, group)
                except Exception as failure:
                    for item in group:
                        item.written.set_exception(failure)
                        item.written.exception()  # retrieved by its request; don't warn if cancelled
                else:
                    self._set_depth(depth)
                    for item in group:
                        item.written.set_result(None)
        finally:
            self.writer = None

    def _write(self, group: list[_Pending]) -> int:
        """One transaction for the whole group; returns the queue depth after it."""
        with self.queue.connection.pipeline(transaction=True) as pipe:
            for item in group:
                queue.enqueue_event(self.queue, self.settings, item.body, item.event, item.received_at, pipe)
            pipe.llen(self.queue.key)
            results = pipe.execute()
        return int(results[-1])
