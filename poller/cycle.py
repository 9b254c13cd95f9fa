"""One poll of one stream: drain it window by window from its cursor up to today.

Each page's records are queued in one Redis transaction; the cursor moves to a window's last day
only once every page of that window is queued. A poller that dies mid-window leaves the cursor
where it was, and the next poll fetches that window again from its first page: nothing is lost,
and what is queued twice is stored once (document ids come from the record's content).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from redis import Redis
from rq import Queue

from poller import metrics
from poller.api import ReportApi
from poller.state import move_cursor, read_cursor
from poller.streams import ReportStream
from poller.window import next_window
from shared.config import Settings
from shared.reports import enqueue_records

log = logging.getLogger("zoom_ingest.poller")


def drain(
    stream: ReportStream, api: ReportApi, connection: Redis, queue: Queue, settings: Settings, today: date
) -> int:
    """Queue every record from the cursor's window to today's; returns how many. Raises PollError
    (cursor left at the last fully queued window) or Stopped."""
    total = 0
    while True:
        start, end = next_window(
            read_cursor(connection, stream.name), today, settings.poll_lookback_days, stream.six_months_only
        )
        queued = 0
        page_token: str | None = None
        while True:
            page = api.page(stream, start, end, page_token)
            metrics.REQUESTS.labels(stream.name).inc()
            if page.records:
                with connection.pipeline(transaction=True) as pipe:
                    enqueue_records(queue, settings, stream.name, page.records, datetime.now(UTC), pipe)
                    pipe.execute()
                metrics.RECORDS.labels(stream.name).inc(len(page.records))
                queued += len(page.records)
            page_token = page.next_page_token
            if page_token is None:
                break
        with connection.pipeline(transaction=True) as pipe:
            move_cursor(pipe, stream.name, end)
            pipe.execute()
        log.info(
            "%s: window %s..%s queued (%d records); cursor moved to %s", stream.name, start, end, queued, end
        )
        total += queued
        if end >= today:
            return total
