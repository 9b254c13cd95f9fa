"""One poll of one stream: drain it window by window from its cursor up to today.

Each page's records are queued in one Redis transaction; the cursor moves to a window's last day
only once every page of that window is queued. A backfill never takes more than half the queue's
room (make_room). A poller that dies mid-window leaves the cursor
where it was, and the next poll fetches that window again from its first page: nothing is lost,
and what is queued twice is stored once (document ids come from the record's content).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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

ROOM_CHECK_SECONDS = 2.0


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
            make_room(queue, settings, api.wait)
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


def make_room(queue: Queue, settings: Settings, wait: Callable[[float], None]) -> None:
    """Wait while the queue holds half of ZOOM_INGEST_MAX_QUEUED or more: a backfill must leave the
    other half to webhooks, which the receiver refuses (503) once the queue is full."""
    limit = settings.max_queued // 2
    if queue.count < limit:
        return
    log.info("the queue holds %d events or more; waiting for the workers before queuing more", limit)
    while queue.count >= limit:
        wait(ROOM_CHECK_SECONDS)
