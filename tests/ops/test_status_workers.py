"""`zoom-ingest status` on the workers: registered ones counted and listed, a killed one dropped when
its heartbeat expires, and the jobs in their in-flight lists counted as in progress."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis
from rq import SimpleWorker, Worker

from ops.cli import main
from ops.services import ElasticsearchNode
from shared import queue
from shared.config import Settings
from tests.ops.event_queue import QUEUE, enqueue, status_json
from tests.support import running, service_environment, wait_for


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
