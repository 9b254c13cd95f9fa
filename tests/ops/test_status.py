"""`zoom-ingest status` against a real redis-server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.job_lifecycle import record_job_failure

from ops.cli import main
from ops.registry import failure_line, failure_reason, redacted_url
from ops.services import ElasticsearchNode, RedisServer, free_port
from ops.status import format_age
from poller.state import cursor_key, record_error, record_success
from shared import queue
from shared.config import Settings, load_settings
from shared.connection import connect
from tests.support import RQWorker, enqueue_event, running, service_environment, wait_for
from worker.job import context

QUEUE = "zoom-webhooks"
KEYS = {
    "queue",
    "queued",
    "in_progress",
    "failed",
    "failed_by_reason",
    "oldest_waiting_seconds",
    "workers",
    "worker_details",
    "in_flight_orphaned",
    "polling",
}


@pytest.fixture
def settings(redis_server: RedisServer, redis: Redis, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", redis_server.url)
    monkeypatch.setenv("ZOOM_INGEST_QUEUE", QUEUE)
    return load_settings()


@pytest.fixture
def connection(settings: Settings) -> Iterator[Redis]:
    client = connect(settings)
    yield client
    client.close()


def enqueue(connection: Redis, settings: Settings, event: str, received_at: datetime) -> Job:
    body = json.dumps({"event": event, "payload": {"account_id": "a"}})
    return enqueue_event(queue.event_queue(settings, connection), settings, body, event, received_at)


def status_json(capsys: pytest.CaptureFixture[str], *arguments: str) -> dict[str, Any]:
    assert main(["status", "--json", *arguments]) == 0
    return json.loads(capsys.readouterr().out)


def fail_queued_jobs_with_worker(
    connection: Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An RQ worker runs the queued jobs while Elasticsearch is unreachable: they fail for real,
    each with the worker's traceback as its failure."""
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ZOOM_INGEST_ES_RETRY_SECONDS", "0")
    context.cache_clear()
    try:
        worker = RQWorker(
            [queue.event_queue(settings, connection)], connection=connection, serializer=queue.SERIALIZER
        )
        worker.work(burst=True, logging_level="ERROR")
    finally:
        context.cache_clear()


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
    fail_queued_jobs_with_worker(connection, settings, monkeypatch)
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


def test_registered_worker_is_counted_and_listed(
    settings: Settings, connection: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = SimpleWorker(
        [queue.event_queue(settings, connection)],
        connection=connection,
        serializer=queue.SERIALIZER,
        name="worker-one",
    )
    worker.register_birth()
    worker.set_state("idle")
    connection.set(queue.alive_key("worker-one"), 1, ex=60)  # as a batch worker's heartbeat does
    try:
        status = status_json(capsys)
        assert status["workers"] == 1
        assert status["worker_details"] == [{"name": "worker-one", "state": "idle", "in_flight": 0}]
        assert main(["status", "--verbose"]) == 0
        text = capsys.readouterr().out
        assert "workers         1\n" in text
        assert "worker-one  idle  in flight 0" in text
        assert main(["status"]) == 0
        assert "worker-one" not in capsys.readouterr().out
    finally:
        worker.register_death()
    assert status_json(capsys)["workers"] == 0


def test_a_worker_killed_with_kill_9_stops_counting_when_its_heartbeat_expires(
    tmp_path: Path,
    settings: Settings,
    connection: Redis,
    es_node: ElasticsearchNode,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment = service_environment(
        settings.redis_url,
        es_node.url,
        namespace,
        queue=QUEUE,
        worker_ttl_seconds="12",
        es_request_timeout_seconds="1",
    )
    with (
        running(["worker"], environment, tmp_path / "killed.log") as killed,
        running(["worker"], environment, tmp_path / "alive.log"),
    ):
        wait_for(lambda: status_json(capsys)["workers"] == 2, timeout=90, what="two live workers")
        killed.kill()  # SIGKILL: the worker gets no chance to unregister
        killed.wait(10)
        wait_for(lambda: status_json(capsys)["workers"] == 1, timeout=60, what="one live worker")
        # RQ itself still lists the killed worker (its key outlives the heartbeat by a minute).
        assert len(Worker.all(queue=queue.event_queue(settings, connection))) == 2
        assert main(["status"]) == 0
        assert "workers         1\n" in capsys.readouterr().out


def test_in_flight_lists_and_started_jobs_count_as_in_progress(
    settings: Settings, connection: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    jobs = [enqueue(connection, settings, "meeting.started", now) for _ in range(5)]
    event_queue = queue.event_queue(settings, connection)
    worker = SimpleWorker([event_queue], connection=connection, serializer=queue.SERIALIZER, name="batcher")
    worker.register_birth()
    connection.set(queue.alive_key("batcher"), 1, ex=60)  # as a batch worker's heartbeat does
    try:
        # A batch worker claims two ids (one atomic move each, queue -> its in-flight list) ...
        for _ in range(2):
            connection.lmove(event_queue.key, queue.inflight_key(QUEUE, "batcher"), "LEFT", "RIGHT")
        # ... a worker that has since died left one claimed id behind ...
        connection.lmove(event_queue.key, queue.inflight_key(QUEUE, "vanished"), "LEFT", "RIGHT")
        # ... and RQ's own bookkeeping has an execution for the first claimed job and for another.
        worker.prepare_execution(jobs[0])
        event_queue.remove(jobs[3])
        worker.prepare_execution(jobs[3])

        status = status_json(capsys)
        assert status["queued"] == 1
        assert status["in_progress"] == 4  # jobs 0-3, the one in both places counted once
        assert status["in_flight_orphaned"] == 1
        assert status["worker_details"] == [{"name": "batcher", "state": "busy", "in_flight": 2}]

        assert main(["status", "-v"]) == 0
        text = capsys.readouterr().out
        assert "in progress     4\n" in text
        assert "batcher  busy  in flight 2" in text
        assert "1 in flight with workers no longer alive (vanished: 1)" in text
    finally:
        worker.register_death()


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


def test_redacted_url() -> None:
    assert redacted_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert redacted_url("rediss://user:p%40ss@host/1") == "rediss://user:***@host/1"
    assert redacted_url("redis://host:6379/0") == "redis://host:6379/0"
    assert (
        redacted_url("unix:///run/redis.sock?db=0&password=pw") == "unix:///run/redis.sock?db=0&password=***"
    )


TRACEBACK = """Traceback (most recent call last):
  File "worker/sink.py", line 1, in index
    raise ConnectionError(error)
ConnectionError: first failure

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "worker/job.py", line 2, in index_event
    raise IndexingError(detail) from error
worker.sink.IndexingError: bad document <object at 0x7f3a2b1c9d50>
second line of the message
"""


def test_failure_line_and_reason() -> None:
    assert failure_line(TRACEBACK) == "worker.sink.IndexingError: bad document <object at 0x7f3a2b1c9d50>"
    assert failure_reason(TRACEBACK) == "worker.sink.IndexingError: bad document <object at 0x…>"
    assert failure_line("IndexingError: refused\ndetail") == "IndexingError: refused"
    abandoned = "Moved to FailedJobRegistry, due to AbandonedJobError, at 2026-11-25 10:00:00.123+00:00"
    assert failure_reason(abandoned) == "Moved to FailedJobRegistry, due to AbandonedJobError"
    assert failure_line(None) == failure_line("") == "(no failure recorded)"
    long = failure_line("ValueError: " + "x" * 500)
    assert len(long) == 120
    assert long.endswith("…")


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
