"""`zoom-ingest status` against a real redis-server: the queue, its failures and the polled streams;
the workers it counts are in test_status_workers.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq.job import Job
from rq.job_lifecycle import record_job_failure

from ops.cli import main
from ops.services import free_port
from ops.status import format_age
from poller.state import cursor_key, record_error, record_success
from shared import queue
from shared.config import Settings
from tests.ops.event_queue import QUEUE, enqueue, status_json
from tests.ops.failed_events import fail_queued_jobs


def fail_like_the_batch_worker(connection: Redis, settings: Settings, job: Job, reason: str) -> None:
    """Take the job off the queue and record its failure with RQ's API, without a traceback, as the
    batch worker records a document Elasticsearch refused."""
    queue.event_queue(settings, connection).remove(job)
    with connection.pipeline() as pipe:
        record_job_failure(job, reason, pipe)
        pipe.execute()


def test_empty_queue(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert status_json(capsys) == {
        "queue": QUEUE,
        "queued": 0,
        "in_progress": 0,
        "failed": 0,
        "failed_by_reason": [],
        "oldest_waiting_seconds": None,
        "workers": 0,
        "worker_details": [],
        "in_flight_orphaned": 0,
        "polling": [],
    }
    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "queue           zoom-webhooks",
        "queued          0",
        "in progress     0",
        "oldest waiting  -",
        "failed          0",
        "workers         0",
    ]


def test_each_polled_stream_has_a_line(
    settings: Settings, connection: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    record_success(connection, "activity", now, now + timedelta(hours=1))
    connection.set(cursor_key("activity"), "2026-12-01")
    failure = "GET /v2/report/operationlogs: HTTP 500 Internal Server Error: Internal error"
    record_error(connection, "operation", failure, now, now + timedelta(minutes=5))

    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3:] == [
        "polling",
        "                activity: last successful poll at 2026-12-01T03:00:00+00:00, "
        "next at 2026-12-01T04:00:00+00:00, cursor 2026-12-01",
        "                operation: last successful poll at never, next at 2026-12-01T03:05:00+00:00, "
        f"cursor -, last error at 2026-12-01T03:00:00+00:00: {failure}",
    ]
    polling = status_json(capsys)["polling"]
    assert [stream["stream"] for stream in polling] == ["activity", "operation"]  # never polled: no line
    assert polling[1]["last_error"] == failure and polling[1]["last_success_at"] is None


def test_queued_jobs_and_the_oldest_waiting_age(
    settings: Settings, connection: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    for age in (300, 120, 5):
        enqueue(connection, settings, "meeting.started", now - timedelta(seconds=age))

    status = status_json(capsys, "--queue", QUEUE)
    assert status["queued"] == 3
    assert 300 <= status["oldest_waiting_seconds"] < 330

    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "queued          3\n" in text
    assert "oldest waiting  5m 0" in text


def test_failed_jobs_grouped_by_reason(
    settings: Settings, connection: Redis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    for _ in range(3):
        enqueue(connection, settings, "meeting.started", now)
    fail_queued_jobs(settings, monkeypatch)
    refused = [enqueue(connection, settings, "user.updated", now) for _ in range(2)]
    for job in refused:
        fail_like_the_batch_worker(
            connection,
            settings,
            job,
            "IndexingError: mapper_parsing_exception: failed to parse [user.id]\ncaused by: x",
        )
    other = enqueue(connection, settings, "user.created", now)
    fail_like_the_batch_worker(
        connection, settings, other, "IndexingError: version_conflict_engine_exception"
    )

    status = status_json(capsys)
    assert status["failed"] == 6
    assert status["queued"] == 0
    reasons = status["failed_by_reason"]
    assert [entry["count"] for entry in reasons] == [3, 2, 1]
    # The worker's traceback is reduced to its exception line.
    assert "ConnectionError" in reasons[0]["reason"]
    assert "Traceback" not in reasons[0]["reason"]
    assert reasons[1]["reason"] == "IndexingError: mapper_parsing_exception: failed to parse [user.id]"
    assert reasons[2]["reason"] == "IndexingError: version_conflict_engine_exception"
    # Each reason names one of its jobs, whose whole reason `failed show` prints.
    assert reasons[1]["example_job_id"] in {job.id for job in refused}
    assert reasons[2]["example_job_id"] == other.id

    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "failed          6\n" in text
    assert "                2  IndexingError: mapper_parsing_exception: failed to parse [user.id]\n" in text
    assert f"whole reason and body: zoom-ingest failed show {reasons[0]['example_job_id']}\n" in text


def test_unreachable_redis_names_the_setting_and_hides_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"redis://ingest:hunter2-secret@127.0.0.1:{free_port()}/0"
    assert main(["status", "--redis-url", url]) == 1
    captured = capsys.readouterr()
    assert "cannot reach Redis at redis://ingest:***@127.0.0.1:" in captured.err
    assert "ZOOM_INGEST_REDIS_URL" in captured.err
    assert "hunter2-secret" not in captured.err + captured.out
    assert captured.out == ""


def test_format_age() -> None:
    assert format_age(None) == "-"
    assert format_age(4.25) == "4.2s"
    assert format_age(303) == "5m 03s"
    assert format_age(2 * 3600 + 5 * 60) == "2h 05m"
    assert format_age(3 * 86400 + 4 * 3600) == "3d 04h"


def test_no_sentinel_answering_names_the_sentinel_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sentinels = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    monkeypatch.setenv("ZOOM_INGEST_REDIS_SENTINELS", sentinels)
    monkeypatch.setenv("ZOOM_INGEST_REDIS_SENTINEL_MASTER", "zoom-ingest")
    assert main(["status"]) == 1
    error = capsys.readouterr().err
    assert f"cannot reach the Redis primary 'zoom-ingest' through the Sentinels {sentinels}" in error
    assert "(set by ZOOM_INGEST_REDIS_SENTINELS)" in error
