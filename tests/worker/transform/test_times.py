"""Time parsing and the one output format, `YYYY-MM-DDTHH:MM:SS.mmmZ`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from worker.transform.times import format_timestamp, from_epoch_ms, from_iso8601, nanoseconds_between


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1562000584527, "2019-07-01T17:03:04.527Z"),
        ("1562000584527", "2019-07-01T17:03:04.527Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (1581370790388.9, "2020-02-10T21:39:50.388Z"),
    ],
)
def test_epoch_milliseconds(value: Any, expected: str) -> None:
    assert from_epoch_ms(value) == expected


@pytest.mark.parametrize("value", ["soon", True, None, [1], {"ms": 1}, 10**20, float("nan")])
def test_not_epoch_milliseconds(value: Any) -> None:
    assert from_epoch_ms(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-07-16T17:13:13Z", "2019-07-16T17:13:13.000Z"),
        ("2019-07-16T17:13:13.5Z", "2019-07-16T17:13:13.500Z"),
        ("2019-07-16T17:13:13.123456789Z", "2019-07-16T17:13:13.123Z"),
        ("2019-07-16T19:13:13+02:00", "2019-07-16T17:13:13.000Z"),
        ("2019-07-16T17:13:13", "2019-07-16T17:13:13.000Z"),
        ("2019-07-16", "2019-07-16T00:00:00.000Z"),
    ],
)
def test_iso8601(value: str, expected: str) -> None:
    assert from_iso8601(value) == expected


@pytest.mark.parametrize("value", ["", "16/07/2019", "2019-13-01T00:00:00Z", 1562000584527, None])
def test_not_iso8601(value: Any) -> None:
    assert from_iso8601(value) is None


def test_format_is_utc_with_milliseconds() -> None:
    assert format_timestamp(datetime(5, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)) == "0005-01-02T03:04:05.006Z"
    assert format_timestamp(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"


def test_nanoseconds_between() -> None:
    assert nanoseconds_between("2020-07-22T21:06:33Z", "2020-07-22T21:06:39Z") == 6_000_000_000
    assert nanoseconds_between("2020-07-22T23:59:59.5Z", "2020-07-23T00:00:00Z") == 500_000_000
    assert nanoseconds_between("2020-07-22T21:06:33Z", "later") is None
