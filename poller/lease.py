"""One poller at a time: a Redis key holding the poller's id, with a TTL the holder keeps renewing.

Another poller takes the lease once the holder stops renewing it (killed, hung, partitioned): at
most ZOOM_INGEST_POLL_LEASE_SECONDS after. A holder that finds the key gone or taken stops polling
before its next request. Two pollers can then overlap by at most one request in flight, and a
record enqueued by both is stored once (content-derived document ids).
"""

from __future__ import annotations

import uuid

from redis import Redis

LEASE_KEY = "zoom-ingest:poll:lease"

# Extend the TTL only if we still hold it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return false
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, connection: Redis, seconds: int) -> None:
        self.connection = connection
        self.milliseconds = seconds * 1000
        self.holder = uuid.uuid4().hex
        self._renew = connection.register_script(_RENEW)
        self._release = connection.register_script(_RELEASE)

    def hold(self) -> bool:
        """Take the lease if it is free, or extend it if it is ours; False if another poller holds it."""
        if self.connection.set(LEASE_KEY, self.holder, nx=True, px=self.milliseconds):
            return True
        return bool(self._renew(keys=[LEASE_KEY], args=[self.holder, self.milliseconds]))

    def release(self) -> None:
        self._release(keys=[LEASE_KEY], args=[self.holder])
