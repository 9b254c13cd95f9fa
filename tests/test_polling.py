"""The poller end to end: a local stand-in for Zoom's API (tests/zoom_api.py), `zoom-ingest poll`
and `zoom-ingest worker` as processes, the real Redis and the real Elasticsearch node."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from redis import Redis

from ops.services import ElasticsearchNode, RedisServer
from poller.state import read_cursor, status_key
from shared.reports import STREAMS
from tests.support import documents, running, service_environment, wait_for
from tests.zoom_api import OAUTH, Canned, ZoomApi, zoom_api
from worker.job import document_id
from worker.transform import TransformOptions
from worker.transform.report import to_report_document

REFUSED = "Zoom OAuth refused the credentials of client 'test-client-id' for account 'test-account-id': "


def today() -> date:
    return datetime.now(UTC).date()


def expected_records(stream: str) -> dict[str, str]:
    """document id -> record, of every record the stand-in serves to a poller started today."""
    end = today()
    records = ZoomApi.records(stream, (end - timedelta(days=1)).isoformat(), end.isoformat())
    texts = [json.dumps(record, sort_keys=True, separators=(",", ":")) for record in records]
    return {document_id(text): text for text in texts}


@dataclass
class Stage:
    """The stand-in and the real services of one test, and what the test reads from them."""

    api: ZoomApi
    es: Elasticsearch
    redis: Redis
    namespace: str
    directory: Path
    redis_url: str
    es_url: str

    def env(self, **extra: str) -> dict[str, str]:
        settings = self.api.settings() | {
            # The reference's system test settings: yesterday on the first run, then every 2 seconds.
            "poll_lookback_days": "1",
            "poll_interval_seconds": "2",
            "poll_rate_per_second": "0",
            "poll_lease_seconds": "10",
            "log_format": "human",
        }
        return service_environment(self.redis_url, self.es_url, self.namespace, **(settings | extra))

    def log(self, name: str = "poller") -> Path:
        return self.directory / f"{name}.log"

    def stored(self, stream: str) -> dict[str, dict[str, Any]]:
        return {doc.pop("_id"): doc for doc in documents(self.es, self.namespace, f"zoom.{stream}")}

    def all_indexed(self, *streams: str) -> bool:
        return all(set(self.stored(stream)) == set(expected_records(stream)) for stream in streams)

    def wait_until_indexed(self, *streams: str) -> None:
        wait_for(lambda: self.all_indexed(*streams), timeout=90, what=f"documents of {streams}")

    def first_page_requests(self, stream: str) -> int:
        """Requests for the first page of the first run's window (yesterday..today)."""
        return sum(
            "next_page_token" not in request.query and request.query["from"] != request.query["to"]
            for request in self.api.report_requests(stream)
        )


@pytest.fixture
def stage(
    tmp_path: Path,
    redis_server: RedisServer,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    redis: Redis,  # flushed: no other test's cursors, statuses or lease
    namespace: str,
) -> Iterator[Stage]:
    with zoom_api() as api:
        yield Stage(api, es, redis, namespace, tmp_path, redis_server.url, es_node.url)


def zoom_ingest(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *arguments], env=env, capture_output=True, text=True
    )


def test_three_streams_polled_into_their_data_streams(stage: Stage) -> None:
    env = stage.env(metrics_port="0")
    with running(["poll"], env, stage.log()), running(["worker"], env, stage.log("worker")):
        stage.wait_until_indexed(*STREAMS)
        status = zoom_ingest(env, "status").stdout

    options = TransformOptions(namespace=stage.namespace)
    for stream in STREAMS:
        by_id = stage.stored(stream)
        assert len(by_id) == 5  # as the reference's system test counts them
        for identity, record in expected_records(stream).items():
            document = by_id[identity]
            assert document["event"].pop("ingested")
            assert document["event"]["kind"] == "event"
            polled_at = datetime.fromisoformat(document["@timestamp"].replace("Z", "+00:00"))
            assert document == to_report_document(stream, record.encode(), polled_at, options)
        assert read_cursor(stage.redis, stream) == today()
        assert f"{stream}: last successful poll at " in status
    meeting_requests = stage.api.report_requests("meeting_activity")
    assert {request.query.get("activity_type") for request in meeting_requests} == {"All Activities"}
    assert all(
        request.authorization.startswith("Bearer ") for request in stage.api.report_requests("activity")
    )
    assert len(stage.api.token_requests()) == 1  # cached for the whole run
    log = stage.log().read_text()
    assert OAUTH["client_secret"] not in log + status and "test-access-token" not in log + status
    assert "Traceback" not in log


def test_poller_killed_mid_page_loses_nothing_and_stores_nothing_twice(stage: Stage) -> None:
    env = stage.env(poll_streams="activity")
    release, arrived = stage.api.hold("mock-page-2-token")
    with running(["poll"], env, stage.log()) as poller:
        assert arrived.wait(timeout=60), "the poller never asked for page 2"
        poller.send_signal(signal.SIGKILL)
        poller.wait(timeout=10)
    release.set()
    assert read_cursor(stage.redis, "activity") is None  # page 1 queued, the window not finished

    # The new poller takes the lease once the dead one's expires.
    with running(["poll"], env, stage.log()), running(["worker"], env, stage.log("worker")):
        stage.wait_until_indexed("activity")
        wait_for(lambda: read_cursor(stage.redis, "activity") == today(), what="the cursor at today")

    assert stage.first_page_requests("activity") == 2  # the window was fetched again from page 1
    assert len(stage.stored("activity")) == 5  # page 1's records, queued twice, stored once


def test_of_two_pollers_one_polls(stage: Stage) -> None:
    env = stage.env(poll_streams="activity")
    with (
        running(["poll"], env, stage.log("poller-1")),
        running(["poll"], env, stage.log("poller-2")),
        running(["worker"], env, stage.log("worker")),
    ):
        stage.wait_until_indexed("activity")

    assert stage.first_page_requests("activity") == 1
    windows = [stage.log(name).read_text().count("queued (") for name in ("poller-1", "poller-2")]
    assert 0 in windows and sum(windows) >= 2


def test_a_backfill_waits_for_room_in_the_queue(stage: Stage) -> None:
    env = stage.env(poll_streams="activity", max_queued="4")
    with running(["poll"], env, stage.log()):
        # Page 1's two records fill half the queue: page 2 is fetched but waits to be queued.
        wait_for(lambda: len(stage.api.report_requests("activity")) == 2, what="page 2 requested")
        wait_for(lambda: "waiting for the workers" in stage.log().read_text(), what="the poller waiting")
        assert stage.redis.llen("rq:queue:zoom-webhooks") == 2
        assert read_cursor(stage.redis, "activity") is None
        with running(["worker"], env, stage.log("worker")):
            stage.wait_until_indexed("activity")


def test_429_then_500_then_200_loses_nothing_and_moves_the_cursor_once(stage: Stage) -> None:
    stage.api.fail_next(
        Canned(
            429, {"Retry-After": "1"}, {"code": 429, "message": "You have reached the maximum rate limit"}
        ),
        Canned(500, {}, {"code": 500, "message": "Internal error"}),
    )
    env = stage.env(poll_streams="activity")
    with running(["poll"], env, stage.log()), running(["worker"], env, stage.log("worker")):
        stage.wait_until_indexed("activity")

    log = stage.log().read_text()
    yesterday = today() - timedelta(days=1)
    assert log.count(f"window {yesterday}..{today()} queued") == 1
    assert "HTTP 429 Too Many Requests: You have reached the maximum rate limit; retry 1 in 1.0s" in log
    assert "HTTP 500 Internal Server Error: Internal error; retry 2 in" in log
    assert len(stage.stored("activity")) == 5


def test_an_expired_token_is_renewed(stage: Stage) -> None:
    release, arrived = stage.api.hold("mock-page-2-token")
    env = stage.env(poll_streams="activity")
    with running(["poll"], env, stage.log()), running(["worker"], env, stage.log("worker")):
        assert arrived.wait(timeout=60)
        stage.api.expire_tokens()  # page 2 is answered; page 3 meets a 401
        release.set()
        stage.wait_until_indexed("activity")

    assert len(stage.api.token_requests()) == 2
    log = stage.log().read_text()
    assert "zoom refused the access token (GET /v2/report/activities); fetching a new one" in log
    assert "poll failed" not in log


def test_bad_credentials_are_reported_in_log_status_and_check_without_a_crash_loop(stage: Stage) -> None:
    env = stage.env(zoom_client_secret="wrong-secret", poll_retry_seconds="600", poll_interval_seconds="3600")
    with running(["poll"], env, stage.log()) as poller:
        wait_for(
            lambda: "Zoom OAuth refused" in zoom_ingest(env, "status").stdout, what="the error in status"
        )
        status = zoom_ingest(env, "status").stdout
        assert poller.poll() is None  # still running, waiting to try again

    assert "activity: last successful poll at never, next at " in status
    assert REFUSED + "HTTP 400 Invalid client_id or client_secret" in status
    # The next attempt waits the retry pause instead of hammering Zoom's token endpoint.
    for stream in STREAMS:
        fields = {
            key.decode(): value.decode() for key, value in stage.redis.hgetall(status_key(stream)).items()
        }
        pause = datetime.fromisoformat(fields["next_at"]) - datetime.fromisoformat(fields["last_error_at"])
        assert pause >= timedelta(seconds=599)
        assert read_cursor(stage.redis, stream) is None
    log = stage.log().read_text()
    assert REFUSED in log and "wrong-secret" not in log + status and "Traceback" not in log

    check = zoom_ingest(env, "check")
    assert check.returncode == 1
    [line] = [line for line in check.stdout.splitlines() if "zoom oauth" in line]
    assert line.startswith("FAIL") and REFUSED in line and "wrong-secret" not in check.stdout


def test_check_accepts_good_credentials_and_names_missing_scopes(stage: Stage) -> None:
    env = stage.env()
    lines = [line for line in zoom_ingest(env, "check").stdout.splitlines() if "zoom " in line]
    assert lines[0].startswith("OK") and "token issued for account test-account-id" in lines[0]
    assert lines[1].startswith("OK") and "covers activity, operation, meeting_activity" in lines[1]

    granted = OAUTH["response"]["scope"]
    OAUTH["response"]["scope"] = "report:read:user_activities:admin"
    try:
        check = zoom_ingest(env, "check")
    finally:
        OAUTH["response"]["scope"] = granted
    [line] = [line for line in check.stdout.splitlines() if "zoom scopes" in line]
    assert line.startswith("FAIL")
    assert "lacks report:read:operation_logs:admin, report:read:meeting_activity_log:admin" in line
    assert check.returncode == 1
