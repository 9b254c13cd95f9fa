"""compose's dashboard service, run in-process against the real redis-server.

rq-dashboard is started the way its container starts it: the image's `rq-dashboard` console script
(its click command) with the compose file's own arguments, only the Redis URL's host and port
pointed at the test server. The one step not taken is Flask's `app.run()` (it would serve): the app
it was about to serve is driven with Flask's test client instead, through the JSON endpoints the
dashboard's pages load and the requeue links their buttons post to.

Jobs are written as the receiver writes them (receiver.writer.EventWriter) and failed as the batch
worker fails them: claimed off the queue into an in-flight list, then RQ's record_job_failure with
"IndexingError: <reason>" in one transaction that also releases the in-flight list.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import pickle
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import rq_dashboard.cli as rq_dashboard_cli
import rq_dashboard.web as rq_dashboard_web
import yaml
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq.job import Job, JobStatus
from rq.job_lifecycle import record_job_failure
from rq.registry import FailedJobRegistry

from ops.services import RedisServer
from shared import queue
from shared.config import Settings, load_settings
from tests.compose.compose_file import COMPOSE_FILE, DOCKERFILE
from tests.sentinel import ReplicatedRedis
from tests.support import enqueue_event, event_body
from worker.sink import IndexingError

QUEUE = "zoom-webhooks"
REASON = "mapper_parsing_exception: failed to parse field [payload.object.start_time] of type [date]"


def dashboard_service() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    service = document["services"]["dashboard"]
    # Everything the container gets is in its command: no environment (RQ_DASHBOARD_* variables
    # would configure it too), no config file.
    assert "environment" not in service and "env_file" not in service
    return service


def compose_command() -> list[str]:
    return [str(argument) for argument in dashboard_service()["command"]]


def pointed_at(command: list[str], redis_url: str) -> list[str]:
    """The compose command with its Redis URL's host and port replaced by the test server's."""
    position = command.index("--redis-url") + 1
    compose_url, test_url = urlsplit(command[position]), urlsplit(redis_url)
    # The same style of URL: plain redis://, database 0, no credentials; only the address differs.
    assert (compose_url.scheme, compose_url.path, compose_url.username) == ("redis", "/0", None)
    assert (test_url.scheme, test_url.path, test_url.username) == ("redis", "/0", None)
    replaced = compose_url._replace(netloc=test_url.netloc).geturl()
    return [*command[:position], replaced, *command[position + 1 :]]


@pytest.fixture
def start_dashboard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[str]], FlaskClient]]:
    """Run `rq-dashboard ARGS` in-process up to the point where it would serve; returns a test client
    of the app it built."""
    pinned = re.search(r'pip install "rq-dashboard==([^"]+)"', DOCKERFILE.read_text())
    assert pinned, "compose/Dockerfile's dashboard stage must pin rq-dashboard"
    assert importlib.metadata.version("rq-dashboard") == pinned.group(1), "test the version the image runs"
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="rq-dashboard")
    assert script.value == "rq_dashboard.cli:main"  # i.e. run(auto_envvar_prefix="RQ_DASHBOARD")

    for name in list(os.environ):
        if name.startswith("RQ_DASHBOARD_"):
            monkeypatch.delenv(name)
    # What the CLI changes in the process, and a fresh container starts without: --json sets the
    # serializer on the blueprint module's global config, --extra-path appends to sys.path, and the
    # werkzeug logger is quieted.
    monkeypatch.setattr(rq_dashboard_web.config, "serializer", rq_dashboard_web.Config.serializer)
    monkeypatch.setattr(sys, "path", list(sys.path))
    werkzeug_log = logging.getLogger("werkzeug")
    werkzeug_level = werkzeug_log.level

    served: list[tuple[Flask, dict[str, Any]]] = []

    def capture_run(app: Flask, **options: Any) -> None:
        served.append((app, options))

    monkeypatch.setattr(Flask, "run", capture_run)

    def start(arguments: list[str]) -> FlaskClient:
        rq_dashboard_cli.run.main(
            args=arguments, prog_name="rq-dashboard", auto_envvar_prefix="RQ_DASHBOARD", standalone_mode=False
        )
        app, options = served[-1]
        assert (options["host"], str(options["port"])) == (
            arguments[arguments.index("--bind") + 1],
            arguments[arguments.index("--port") + 1],
        )
        return app.test_client()

    yield start
    werkzeug_log.setLevel(werkzeug_level)
    for app, _ in served:
        app.redis_conn.close()  # type: ignore[attr-defined]


@pytest.fixture
def settings(redis_server: RedisServer) -> Settings:
    return load_settings(redis_url=redis_server.url)


@pytest.fixture
def dashboard(
    start_dashboard: Callable[[list[str]], FlaskClient], redis_server: RedisServer, redis: Redis
) -> FlaskClient:
    """The dashboard exactly as compose runs it (with --json)."""
    return start_dashboard(pointed_at(compose_command(), redis_server.url))


def enqueue(redis: Redis, settings: Settings, event: str, number: int) -> Job:
    body = event_body(event, object={"id": number, "uuid": f"u{number}"}).decode()
    return enqueue_event(queue.event_queue(settings, redis), settings, body, event, datetime.now(UTC))


def fail_like_the_worker(redis: Redis, job_id: str, reason: str) -> str:
    """Claim the job (the oldest on the queue) and record its failure as worker/batch.py does;
    returns the failure text operators see."""
    inflight = queue.inflight_key(QUEUE, "dashboard-test-worker")
    claimed = redis.lmove(f"rq:queue:{QUEUE}", inflight, "LEFT", "RIGHT")
    assert claimed == job_id.encode()
    (job,) = Job.fetch_many([job_id], redis, queue.SERIALIZER)
    assert job is not None
    failure = IndexingError(reason)
    text = f"{type(failure).__name__}: {failure}"
    with redis.pipeline(transaction=True) as pipe:
        record_job_failure(job, text, pipe)
        pipe.delete(inflight)
        pipe.execute()
    return text


def get_json(client: FlaskClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, f"GET {path}: {response.status_code}"
    return response.get_json()


def queue_entry(client: FlaskClient) -> dict[str, Any]:
    queues = get_json(client, "/0/data/queues.json")["queues"]
    (entry,) = [entry for entry in queues if entry["name"] == QUEUE]
    return entry


def listed(client: FlaskClient, registry: str) -> list[dict[str, Any]]:
    return get_json(client, f"/0/data/jobs/{QUEUE}/{registry}/8/asc/1.json")["jobs"]


def stored_data(redis: Redis, job: Job) -> bytes:
    """The job's function and arguments as RQ stores them (JSON in a zlib stream, which RQ deflates
    when it saves a job again and the receiver stores without deflating)."""
    data = redis.hget(job.key, "data")
    assert isinstance(data, bytes)
    return zlib.decompress(data)


def assert_back_on_the_queue(redis: Redis, original: Job, data: bytes) -> None:
    """Queued again, on the same queue, as the same job: function, args and meta as enqueued."""
    assert stored_data(redis, original) == data
    job = Job.fetch(original.id, connection=redis, serializer=queue.SERIALIZER)
    assert job.get_status() == JobStatus.QUEUED
    assert job.origin == QUEUE
    # JSON has no tuples: the worker reads the args back as a list.
    assert (job.func_name, job.args, job.kwargs) == (queue.JOB_FUNCTION, list(original.args), {})
    assert job.meta == original.meta
    assert job.description == original.description
    assert original.id.encode() in redis.lrange(f"rq:queue:{QUEUE}", 0, -1)


def test_the_healthcheck_endpoint_answers(dashboard: FlaskClient) -> None:
    test = dashboard_service()["healthcheck"]["test"]
    (url,) = re.findall(r"https?://[^'\"\s]+", " ".join(test))
    port = compose_command()[compose_command().index("--port") + 1]
    assert urlsplit(url).port == int(port)
    response = dashboard.get(urlsplit(url).path)
    assert response.status_code == 200
    assert response.get_json() == {"queues": []}


def test_the_dashboard_shows_a_failed_event_and_requeues_it(
    dashboard: FlaskClient, redis: Redis, settings: Settings
) -> None:
    failing = enqueue(redis, settings, "meeting.created", 1)
    waiting = enqueue(redis, settings, "meeting.ended", 2)
    data = stored_data(redis, failing)
    failure = fail_like_the_worker(redis, failing.id, REASON)

    entry = queue_entry(dashboard)
    assert (entry["count"], entry["failed_job_registry_count"]) == (1, 1)
    assert [(job["id"], job["description"]) for job in listed(dashboard, "queued")] == [
        (waiting.id, waiting.description)
    ]
    [row] = listed(dashboard, "failed")
    assert (row["id"], row["description"], row["exc_info"]) == (failing.id, failing.description, failure)
    assert failing.description and failing.description.startswith("zoom webhook meeting.created received ")

    detail = get_json(dashboard, f"/0/data/job/{failing.id}.json")
    assert detail["status"] == JobStatus.FAILED.value
    assert detail["origin"] == QUEUE
    assert detail["description"] == failing.description
    assert detail["exc_info"] == failure == f"IndexingError: {REASON}"
    meta = {"event": "meeting.created", "received_at": failing.args[1]}
    assert json.loads(detail["metadata"]) == failing.meta == meta
    page = dashboard.get(f"/0/view/job/{failing.id}")
    assert page.status_code == 200 and failing.id in page.get_data(as_text=True)

    # The job page's Requeue button posts here.
    response = dashboard.post(f"/job/{failing.id}/requeue")
    assert (response.status_code, response.get_json()) == (200, {"status": "OK"})

    assert_back_on_the_queue(redis, failing, data)
    assert FailedJobRegistry(QUEUE, connection=redis).get_job_ids() == []
    entry = queue_entry(dashboard)
    assert (entry["count"], entry["failed_job_registry_count"]) == (2, 0)
    assert [job["id"] for job in listed(dashboard, "queued")] == [waiting.id, failing.id]


def test_requeue_all_puts_every_failed_event_back(
    dashboard: FlaskClient, redis: Redis, settings: Settings
) -> None:
    jobs = [enqueue(redis, settings, "meeting.created", number) for number in range(3)]
    data = [stored_data(redis, job) for job in jobs]
    for job in jobs:
        fail_like_the_worker(redis, job.id, f"{REASON} ({job.id})")
    assert queue_entry(dashboard)["failed_job_registry_count"] == 3

    # The failed list's "Requeue All" button posts to its href.
    page = dashboard.get(f"/0/view/jobs/{QUEUE}/failed/8/asc/1").get_data(as_text=True)
    match = re.search(r'<a href="([^"]+)" id="requeue-all-btn"', page)
    assert match, "no Requeue All button on the failed jobs page"
    assert match.group(1) == f"/requeue/{QUEUE}"
    response = dashboard.post(match.group(1))
    assert (response.status_code, response.get_json()) == (200, {"status": "OK", "count": 3})

    for job, stored in zip(jobs, data, strict=True):
        assert_back_on_the_queue(redis, job, stored)
    # In the failed registry's order (by expiry, ties by id), not necessarily the original order.
    assert sorted(redis.lrange(f"rq:queue:{QUEUE}", 0, -1)) == sorted(job.id.encode() for job in jobs)
    entry = queue_entry(dashboard)
    assert (entry["count"], entry["failed_job_registry_count"]) == (3, 0)


def test_without_json_the_job_detail_fails_to_unpickle(
    start_dashboard: Callable[[list[str]], FlaskClient],
    redis_server: RedisServer,
    redis: Redis,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Why compose passes --json: rq-dashboard 0.9.0 reads job meta with its configured serializer
    (pickle by default), and a JSON job's meta is not a pickle."""
    command = compose_command()
    assert "--json" in command
    without_json = [argument for argument in command if argument != "--json"]
    dashboard = start_dashboard(pointed_at(without_json, redis_server.url))
    job = enqueue(redis, settings, "meeting.created", 1)
    fail_like_the_worker(redis, job.id, REASON)

    with caplog.at_level(logging.ERROR):
        response = dashboard.get(f"/0/data/job/{job.id}.json")
    assert response.status_code == 500
    errors = [record.exc_info[0] for record in caplog.records if record.exc_info]
    assert errors == [pickle.UnpicklingError]


def test_the_ha_overlay_dashboard_reads_the_primary_through_sentinel(
    start_dashboard: Callable[[list[str]], FlaskClient], replicated_redis: ReplicatedRedis
) -> None:
    """compose/docker-compose.ha.yml's dashboard command, its Sentinels pointed at real ones."""
    overlay = yaml.safe_load(COMPOSE_FILE.with_name("docker-compose.ha.yml").read_text())
    command = [str(argument) for argument in overlay["services"]["dashboard"]["command"]]
    position = command.index("--redis-url") + 1
    url = urlsplit(command[position])
    assert url.scheme == "redis+sentinel"
    command[position] = url._replace(netloc=replicated_redis.sentinel_addresses).geturl()
    dashboard = start_dashboard(command)
    primary = Redis(port=replicated_redis.primary().port)
    job = enqueue(primary, load_settings(redis_url="redis://unused:1/0"), "meeting.started", 1)
    assert queue_entry(dashboard)["count"] == 1
    assert [listed_job["id"] for listed_job in listed(dashboard, "queued")] == [job.id]
