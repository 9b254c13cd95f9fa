"""The queue contract for polled report records (the poller writes, workers read).

A polled record is a job like a webhook: `worker.job.index_record(record, polled_at, stream)`,
named by import path so the poller never imports worker code. Its first two arguments mean what a
webhook job's do (the raw JSON text, the time it came in), so failed-job tooling, replay and the
lag metric treat both alike; the description and meta name the stream, never record data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from redis.client import Pipeline
from rq import Queue

from shared.config import REPORT_STREAMS, Settings
from shared.queue import format_received_at

RECORD_FUNCTION = "worker.job.index_record"
STREAMS = REPORT_STREAMS


def event_name(stream: str) -> str:
    """What `replay --event` and `status` see as the event type of a record of `stream`."""
    return f"report.{stream}"


def enqueue_records(
    queue: Queue,
    settings: Settings,
    stream: str,
    records: Sequence[str],
    polled_at: datetime,
    pipeline: Pipeline,
) -> None:
    """Queue one job per record on `pipeline`; the caller executes it (with whatever else must be
    written in the same transaction)."""
    polled = format_received_at(polled_at)
    for record in records:
        queue.enqueue_call(
            RECORD_FUNCTION,
            args=(record, polled, stream),
            timeout=settings.job_timeout_seconds,
            result_ttl=settings.result_ttl_seconds,
            failure_ttl=settings.failure_ttl_seconds,
            description=f"zoom report {stream} record polled {polled}",
            meta={"event": event_name(stream), "received_at": polled, "stream": stream},
            pipeline=pipeline,
        )
