"""The date windows a stream is drained in: inclusive `from`/`to` dates in UTC, at most 30 days
(Zoom's limit per request), never past today, never before the 6 months Zoom keeps."""

from __future__ import annotations

from datetime import date, timedelta

MAX_SPAN = timedelta(days=30)
HISTORY = timedelta(days=180)


def next_window(
    cursor: date | None, today: date, lookback_days: int, six_months_only: bool
) -> tuple[date, date]:
    """The window starting at the cursor (or, on the first run, `lookback_days` before today).

    Each window starts on the previous one's last day: that day is fetched twice, which costs a
    request but never loses a record logged late that day (twins are stored once)."""
    start = cursor if cursor is not None else today - timedelta(days=lookback_days)
    start = min(start, today)
    if six_months_only:
        start = max(start, today - HISTORY)
    return start, min(start + MAX_SPAN, today)
