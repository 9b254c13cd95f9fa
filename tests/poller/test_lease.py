"""One poller at a time, on the real Redis."""

from __future__ import annotations

import time

from redis import Redis

from poller.lease import LEASE_KEY, Lease


def test_only_one_holder_until_it_releases(redis: Redis) -> None:
    first, second = Lease(redis, 10), Lease(redis, 10)

    assert first.hold() and first.hold()  # taken, then renewed
    assert not second.hold()
    first.release()
    assert second.hold()
    assert not first.hold()


def test_another_poller_takes_over_when_the_holder_stops_renewing(redis: Redis) -> None:
    dead, alive = Lease(redis, 10), Lease(redis, 10)
    assert dead.hold()
    redis.pexpire(LEASE_KEY, 50)  # as if its 10 seconds had passed without a renewal
    while redis.exists(LEASE_KEY):
        time.sleep(0.01)

    assert alive.hold()
    assert not dead.hold()  # the old holder finds it taken and stops polling
    dead.release()  # and cannot release what is no longer its own
    assert redis.get(LEASE_KEY) == alive.holder.encode()
