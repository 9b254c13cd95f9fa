"""A worker's claims on queued jobs: job ids move atomically from the queue into the worker's own
in-flight list, so a worker killed anywhere loses nothing.

While the worker lives (its heartbeat key, shared.queue.living) its claims are its own; once it is
dead, any other worker puts its in-flight list back at the head of the queue. Re-indexing those
events is harmless: document ids come from the events, so the ones already written are duplicates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from redis import Redis
from redis.client import Pipeline

from shared import queue

log = logging.getLogger("zoom_ingest.worker")

# Move up to ARGV[1] ids from the queue to the in-flight list in one atomic step.
_CLAIM_SCRIPT = """
local ids = {}
for _ = 1, tonumber(ARGV[1]) do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not id then break end
  ids[#ids + 1] = id
end
return ids
"""
# Put a dead worker's claimed ids back at the head of the queue, oldest first.
_RETURN_SCRIPT = """
local moved = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do moved = moved + 1 end
return moved
"""
# How long a claim waits on an empty queue before the worker heartbeats and looks again.
WAIT_SECONDS = 2


class Claims:
    def __init__(
        self, connection: Redis, queue_name: str, queue_key: str, worker_name: str, ttl: int
    ) -> None:
        self.connection = connection
        self.queue_name = queue_name
        self.queue_key = queue_key
        self.worker_name = worker_name
        self.ttl = ttl
        self.inflight = queue.inflight_key(queue_name, worker_name)
        self.alive_key = queue.alive_key(worker_name)
        self.claim_script = connection.register_script(_CLAIM_SCRIPT)
        self.return_script = connection.register_script(_RETURN_SCRIPT)
        self.next_sweep = 0.0

    def keep_alive(self, pipe: Pipeline) -> None:
        """This worker's heartbeat: its claims stay its own for another `ttl` seconds."""
        pipe.set(self.alive_key, 1, ex=self.ttl)

    def claim(self, up_to: int, wait: bool) -> list[str]:
        """Up to `up_to` ids, oldest first; with wait, blocks briefly while the queue is empty."""
        ids: list[str] = []
        if wait:
            first = self.connection.blmove(self.queue_key, self.inflight, WAIT_SECONDS, "LEFT", "RIGHT")
            if not isinstance(first, bytes):
                return []
            ids.append(first.decode())
        more: list[bytes] = self.claim_script(keys=[self.queue_key, self.inflight], args=[up_to - len(ids)])
        ids.extend(item.decode() for item in more)
        return ids

    def release(self, pipe: Pipeline, count: int) -> None:
        """Let go of the `count` oldest claims (a finished batch's; the next batch's, claimed
        meanwhile, stay claimed)."""
        pipe.ltrim(self.inflight, count, -1)

    def give_back(self, pipe: Pipeline, count: int, unwritten: Sequence[str]) -> None:
        """Elasticsearch stayed unavailable: let go of the `count` oldest claims (a batch's) and put
        its `unwritten` ids back at the head of the queue, followed by every claim taken since (the
        next batch, not sent), in claim order: they are taken again once Elasticsearch answers."""
        pipe.ltrim(self.inflight, count, -1)
        self.return_script(keys=[self.inflight, self.queue_key], client=pipe)
        if unwritten:
            pipe.lpush(self.queue_key, *reversed(unwritten))

    def return_orphans(self) -> None:
        """Put back what dead workers had claimed; looked at about twice per worker TTL."""
        now = time.monotonic()
        if now < self.next_sweep:
            return
        self.next_sweep = now + self.ttl / 2
        others = {
            owner: key
            for owner, key in queue.inflight_keys(self.connection, self.queue_name).items()
            if owner != self.worker_name
        }
        owners = list(others)
        for owner, alive in zip(owners, queue.living(self.connection, owners), strict=True):
            if alive:
                continue
            moved = self.return_script(keys=[others[owner], self.queue_key])
            if moved:
                log.warning("returned %d events claimed by dead worker %s to the queue", moved, owner)

    def return_own(self, why: str) -> None:
        """Put this worker's claims back at the head of the queue: after losing Redis mid-batch (it
        cannot know what was recorded), or when it stops with a batch unrecorded. Re-indexing finds
        the written ones as duplicates. Raises the RedisError of a Redis still away."""
        moved = self.return_script(keys=[self.inflight, self.queue_key])
        if moved:
            log.warning("put %d claimed events back on the queue after %s", moved, why)

    def end(self) -> None:
        """This worker stops: it no longer counts as alive."""
        self.connection.delete(self.alive_key)
