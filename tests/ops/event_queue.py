"""The event queue the operator commands' tests fill and read: its name, an event put on it as the
receiver puts one, RQ's own worker failing what is on it, and what `zoom-ingest status --json`
says of it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from redis import Redis
from rq.job import Job

from ops.cli import main
from ops.services import free_port
from shared import queue
from shared.config import Settings
from shared.connection import connect
from tests.support import RQWorker, enqueue_event
from worker.job import context

QUEUE = "zoom-webhooks"


def enqueue(connection: Redis, settings: Settings, event: str, received_at: datetime) -> Job:
    body = json.dumps({"event": event, "payload": {"account_id": "a"}})
    return enqueue_event(queue.event_queue(settings, connection), settings, body, event, received_at)


def status_json(capsys: pytest.CaptureFixture[str], *arguments: str) -> dict[str, Any]:
    assert main(["status", "--json", *arguments]) == 0
    return json.loads(capsys.readouterr().out)


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
