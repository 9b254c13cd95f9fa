"""The client-side rate limit, on a clock the test moves."""

from __future__ import annotations

import pytest

from poller.limiter import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_request_per_period() -> None:
    clock = Clock()
    limiter = RateLimiter(0.1, 3, clock)

    assert [limiter.delay() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.delay() == pytest.approx(10.0)
    clock.now += 4
    assert limiter.delay() == pytest.approx(6.0)
    clock.now += 6
    assert limiter.delay() == 0.0
    assert limiter.delay() == pytest.approx(10.0)


def test_idle_time_refills_no_more_than_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 2, clock)
    limiter.delay()
    limiter.delay()
    clock.now += 3600

    assert [limiter.delay() for _ in range(2)] == [0.0, 0.0]
    assert limiter.delay() == pytest.approx(1.0)


def test_rate_zero_means_no_limit() -> None:
    limiter = RateLimiter(0, 1, Clock())
    assert all(limiter.delay() == 0.0 for _ in range(100))
