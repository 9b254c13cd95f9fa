"""The event queue the operator commands' tests fill and read: its name, an event put on it as the
receiver puts one, and what `zoom-ingest status --json` says of it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from redis import Redis
from rq.job import Job

from ops.cli import main
from shared import queue
from shared.config import Settings
from tests.support import enqueue_event

QUEUE = "zoom-webhooks"


def enqueue(connection: Redis, settings: Settings, event: str, received_at: datetime) -> Job:
    body = json.dumps({"event": event, "payload": {"account_id": "a"}})
    return enqueue_event(queue.event_queue(settings, connection), settings, body, event, received_at)


def status_json(capsys: pytest.CaptureFixture[str], *arguments: str) -> dict[str, Any]:
    assert main(["status", "--json", *arguments]) == 0
    return json.loads(capsys.readouterr().out)
