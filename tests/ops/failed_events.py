"""Events failed the way workers fail them, for the operator commands that act on failed events
(`replay`, `failed`), and the queue's and failed registry's ids to check what those did."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rq.job import Job

from ops.services import free_port
from shared import queue
from shared.config import Settings
from shared.connection import connect
from tests.support import RQWorker, enqueue_event
from worker.job import context

NOW = datetime.now(UTC).replace(microsecond=0)


def body_of(event: str, number: int = 1) -> str:
    """A body of its own per number (its event_ts), as Zoom's events are."""
    return json.dumps({"event": event, "event_ts": 1626230691572 + number, "payload": {"account_id": "a"}})


def enqueue_distinct(settings: Settings, event: str, received_at: datetime, number: int = 1) -> Job:
    with connect(settings) as connection:
        return enqueue_event(
            queue.event_queue(settings, connection), settings, body_of(event, number), event, received_at
        )


def failed_jobs(
    settings: Settings, events: list[tuple[str, datetime]], monkeypatch: pytest.MonkeyPatch
) -> list[Job]:
    """Each (event type, time received) queued with a body of its own, then failed by RQ's worker."""
    jobs = [
        enqueue_distinct(settings, event, moment, number) for number, (event, moment) in enumerate(events)
    ]
    fail_queued_jobs(settings, monkeypatch)
    return jobs


def failed_ids(settings: Settings) -> set[str]:
    with connect(settings) as connection:
        return set(queue.event_queue(settings, connection).failed_job_registry.get_job_ids())


def queued_ids(settings: Settings) -> list[str]:
    with connect(settings) as connection:
        return queue.event_queue(settings, connection).get_job_ids()


def fail_queued_jobs(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run an RQ worker over the queue while Elasticsearch is unreachable: every job fails for real
    and lands in the failed registry with the worker's traceback."""
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ZOOM_INGEST_ES_RETRY_SECONDS", "0")
    context.cache_clear()
    try:
        with connect(settings) as connection:
            event_queue = queue.event_queue(settings, connection)
            worker = RQWorker([event_queue], connection=connection, serializer=queue.SERIALIZER)
            worker.work(burst=True, logging_level="ERROR")
            assert event_queue.count == 0
    finally:
        context.cache_clear()
