"""Times: Zoom's epoch milliseconds and ISO-8601 strings -> `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).

Every time zoom-ingest parses is written in that one format, whether it came from epoch
milliseconds (as the reference writes them, e.g. `2019-07-01T17:03:04.527Z`) or from an ISO-8601
string the reference fails to parse (the documented deviation; e.g. `2019-07-16T17:13:13Z` ->
`2019-07-16T17:13:13.000Z`). Finer than millisecond precision is truncated; an ISO string without
an offset is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.queue import parse_iso_as_utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def parse_iso8601(value: Any) -> datetime | None:
    """An aware datetime from an ISO-8601 string, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return parse_iso_as_utc(value)
    except ValueError:
        return None


def from_iso8601(value: Any) -> str | None:
    moment = parse_iso8601(value)
    if moment is None:
        return None
    try:
        return format_timestamp(moment)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC equivalent
        return None


def from_epoch_ms(value: Any) -> str | None:
    """Epoch milliseconds (a number or a numeric string) formatted, or None when not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            try:
                value = float(value.strip())
            except ValueError:
                return None
    if not isinstance(value, int | float):
        return None
    try:
        return format_timestamp(_EPOCH + timedelta(milliseconds=value))
    except (OverflowError, ValueError):
        return None


def nanoseconds_between(start: Any, end: Any) -> int | None:
    """end - start in nanoseconds, for two ISO-8601 strings; None if either does not parse."""
    first, last = parse_iso8601(start), parse_iso8601(end)
    if first is None or last is None:
        return None
    delta = last - first
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
