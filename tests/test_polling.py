"""The poller end to end: a local stand-in for Zoom's API (tests/zoom_api.py), `zoom-ingest poll`
and `zoom-ingest worker` as processes, the real Redis and the real Elasticsearch node."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from redis import Redis

from ops.services import ElasticsearchNode, RedisServer
from poller.state import read_cursor
from shared.reports import STREAMS
from tests.support import documents, running, service_environment, wait_for
from tests.zoom_api import OAUTH, Canned, ZoomApi, zoom_api
from worker.job import document_id
from worker.transform import TransformOptions
from worker.transform.report import to_report_document


@pytest.fixture
def api(redis: Redis) -> Iterator[ZoomApi]:
    """The stand-in, and a Redis without any other test's cursors, statuses or lease."""
    with zoom_api() as stand_in:
        yield stand_in


def environment(
    redis_server: RedisServer, es_node: ElasticsearchNode, namespace: str, api: ZoomApi, **extra: str
) -> dict[str, str]:
    settings = {
        "zoom_api_url": api.url,
        "zoom_oauth_url": api.url,
        "zoom_account_id": OAUTH["account_id"],
        "zoom_client_id": OAUTH["client_id"],
        "zoom_client_secret": OAUTH["client_secret"],
        # The system test's settings: yesterday on the first run, then every 2 seconds.
        "poll_lookback_days": "1",
        "poll_interval_seconds": "2",
        "poll_rate_per_second": "0",
        "poll_lease_seconds": "10",
        "log_format": "human",
    }
    return service_environment(redis_server.url, es_node.url, namespace, **(settings | extra))


def today() -> date:
    return datetime.now(UTC).date()


def expected_records(stream: str) -> dict[str, str]:
    """document id -> record, of every record the stand-in serves to a poller started today."""
    end = today()
    records = ZoomApi.records(stream, (end - timedelta(days=1)).isoformat(), end.isoformat())
    texts = [json.dumps(record, sort_keys=True, separators=(",", ":")) for record in records]
    return {document_id(text): text for text in texts}


def stored(es: Elasticsearch, namespace: str, stream: str) -> dict[str, dict[str, Any]]:
    return {document.pop("_id"): document for document in documents(es, namespace, f"zoom.{stream}")}


def all_indexed(es: Elasticsearch, namespace: str, stream: str) -> bool:
    return set(stored(es, namespace, stream)) == set(expected_records(stream))


def status_text(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", "status"], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_three_streams_polled_into_their_data_streams(
    tmp_path: Path,
    api: ZoomApi,
    redis_server: RedisServer,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    redis: Redis,
    namespace: str,
) -> None:
    env = environment(redis_server, es_node, namespace, api, metrics_port="0")
    with (
        running(["poll"], env, tmp_path / "poller.log"),
        running(["worker"], env, tmp_path / "worker.log"),
    ):
        wait_for(
            lambda: all(all_indexed(es, namespace, stream) for stream in STREAMS),
            timeout=90,
            what="documents",
        )
        status = status_text(env)

    options = TransformOptions(namespace=namespace)
    for stream in STREAMS:
        by_id = stored(es, namespace, stream)
        assert len(by_id) == 5  # as the reference's system test counts them
        for identity, record in expected_records(stream).items():
            document = by_id[identity]
            assert document["event"].pop("ingested")
            assert document["event"]["kind"] == "event"
            polled_at = datetime.fromisoformat(document["@timestamp"].replace("Z", "+00:00"))
            assert document == to_report_document(stream, record.encode(), polled_at, options)
        assert read_cursor(redis, stream) == today()
        assert f"{stream}: last successful poll at " in status
    # Every report request carried the stand-in's token; meeting activity its activity type.
    assert {request.query.get("activity_type") for request in api.report_requests("meeting_activity")} == {
        "All Activities"
    }
    assert all(request.authorization.startswith("Bearer ") for request in api.report_requests("activity"))
    # One token for the whole run: it is cached.
    assert len(api.token_requests()) == 1
    log = (tmp_path / "poller.log").read_text()
    assert OAUTH["client_secret"] not in log + status and "test-access-token" not in log + status
    assert "Traceback" not in log


def test_poller_killed_mid_page_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path,
    api: ZoomApi,
    redis_server: RedisServer,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    redis: Redis,
    namespace: str,
) -> None:
    env = environment(redis_server, es_node, namespace, api, poll_streams="activity")
    release, arrived = api.hold("mock-page-2-token")
    with running(["poll"], env, tmp_path / "poller.log") as poller:
        assert arrived.wait(timeout=60), "the poller never asked for page 2"
        poller.send_signal(signal.SIGKILL)
        poller.wait(timeout=10)
    release.set()
    assert read_cursor(redis, "activity") is None  # page 1 queued, the window not finished

    with (
        running(["poll"], env, tmp_path / "poller.log"),  # takes the lease once the dead one's expires
        running(["worker"], env, tmp_path / "worker.log"),
    ):
        wait_for(lambda: all_indexed(es, namespace, "activity"), timeout=90, what="activity documents")
        wait_for(lambda: read_cursor(redis, "activity") == today(), what="the cursor at today")

    first_pages = [
        request
        for request in api.report_requests("activity")
        if "next_page_token" not in request.query and request.query["from"] != request.query["to"]
    ]
    assert len(first_pages) == 2  # the window was fetched again from its first page
    assert len(stored(es, namespace, "activity")) == 5  # page 1's records, queued twice, stored once


def test_of_two_pollers_one_polls(
    tmp_path: Path,
    api: ZoomApi,
    redis_server: RedisServer,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    redis: Redis,
    namespace: str,
) -> None:
    env = environment(redis_server, es_node, namespace, api, poll_streams="activity")
    with (
        running(["poll"], env, tmp_path / "poller-1.log"),
        running(["poll"], env, tmp_path / "poller-2.log"),
        running(["worker"], env, tmp_path / "worker.log"),
    ):
        wait_for(lambda: all_indexed(es, namespace, "activity"), timeout=90, what="activity documents")

    first_pages = [
        request
        for request in api.report_requests("activity")
        if "next_page_token" not in request.query and request.query["from"] != request.query["to"]
    ]
    assert len(first_pages) == 1
    windows = [(tmp_path / name).read_text().count("queued (") for name in ("poller-1.log", "poller-2.log")]
    assert 0 in windows and sum(windows) >= 2


def test_a_backfill_waits_for_room_in_the_queue(
    tmp_path: Path,
    api: ZoomApi,
    redis_server: RedisServer,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    redis: Redis,
    namespace: str,
) -> None:
    env = environment(redis_server, es_node, namespace, api, poll_streams="activity", max_queued="4")
    with running(["poll"], env, tmp_path / "poller.log"):
        # Page 1's two records fill half the queue: page 2 is fetched but waits to be queued.
        wait_for(lambda: len(api.report_requests("activity")) == 2, what="page 2 requested")
        wait_for(lambda: "waiting for the workers" in (tmp_path / "poller.log").read_text(), what="waiting")
        assert redis.llen("rq:queue:zoom-webhooks") == 2
        assert read_cursor(redis, "activity") is None
        with running(["worker"], env, tmp_path / "worker.log"):
            wait_for(lambda: all_indexed(es, namespace, "activity"), timeout=90, what="activity documents")


def test_429_then_500_then_200_loses_nothing_and_moves_the_cursor_once(
    tmp_path: Path,
    api: ZoomApi,
    redis_server: RedisServer,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    redis: Redis,
    namespace: str,
) -> None:
    api.fail_next(
        Canned(
            429, {"Retry-After": "1"}, {"code": 429, "message": "You have reached the maximum rate limit"}
        ),
        Canned(500, {}, {"code": 500, "message": "Internal error"}),
    )
    env = environment(redis_server, es_node, namespace, api, poll_streams="activity")
    with (
        running(["poll"], env, tmp_path / "poller.log"),
        running(["worker"], env, tmp_path / "worker.log"),
    ):
        wait_for(lambda: all_indexed(es, namespace, "activity"), timeout=90, what="activity documents")

    log = (tmp_path / "poller.log").read_text()
    yesterday = today() - timedelta(days=1)
    assert log.count(f"window {yesterday}..{today()} queued") == 1
    assert "HTTP 429 Too Many Requests: You have reached the maximum rate limit; retry 1 in 1.0s" in log
    assert "HTTP 500 Internal Server Error: Internal error; retry 2 in" in log
    assert len(stored(es, namespace, "activity")) == 5


def test_an_expired_token_is_renewed(
    tmp_path: Path,
    api: ZoomApi,
    redis_server: RedisServer,
    es_node: ElasticsearchNode,
    es: Elasticsearch,
    namespace: str,
) -> None:
    release, arrived = api.hold("mock-page-2-token")
    env = environment(redis_server, es_node, namespace, api, poll_streams="activity")
    with (
        running(["poll"], env, tmp_path / "poller.log"),
        running(["worker"], env, tmp_path / "worker.log"),
    ):
        assert arrived.wait(timeout=60)
        api.expire_tokens()  # page 2 is answered; page 3 meets a 401
        release.set()
        wait_for(lambda: all_indexed(es, namespace, "activity"), timeout=90, what="activity documents")

    assert len(api.token_requests()) == 2
    log = (tmp_path / "poller.log").read_text()
    assert "zoom refused the access token (GET /v2/report/activities); fetching a new one" in log
    assert "poll failed" not in log


def test_bad_credentials_are_reported_in_log_status_and_check_without_a_crash_loop(
    tmp_path: Path,
    api: ZoomApi,
    redis_server: RedisServer,
    es_node: ElasticsearchNode,
    redis: Redis,
    namespace: str,
) -> None:
    env = environment(
        redis_server,
        es_node,
        namespace,
        api,
        zoom_client_secret="wrong-secret",
        poll_retry_seconds="600",
        poll_interval_seconds="3600",
    )
    with running(["poll"], env, tmp_path / "poller.log") as poller:
        wait_for(lambda: "Zoom OAuth refused" in status_text(env), what="the error in status")
        status = status_text(env)
        assert poller.poll() is None  # still running, waiting to try again

    refused = "Zoom OAuth refused the credentials of client 'test-client-id' for account 'test-account-id': "
    assert "activity: last successful poll at never, next at " in status
    assert refused + "HTTP 400 Invalid client_id or client_secret" in status
    # The next attempt waits the retry pause instead of hammering Zoom's token endpoint.
    for stream in STREAMS:
        fields = {
            key.decode(): value.decode()
            for key, value in redis.hgetall(f"zoom-ingest:poll:status:{stream}").items()
        }
        pause = datetime.fromisoformat(fields["next_at"]) - datetime.fromisoformat(fields["last_error_at"])
        assert pause >= timedelta(seconds=599)
        assert read_cursor(redis, stream) is None
    log = (tmp_path / "poller.log").read_text()
    assert refused in log and "wrong-secret" not in log + status and "Traceback" not in log

    check = subprocess.run(
        [sys.executable, "-m", "ops.cli", "check"], env=env, capture_output=True, text=True
    )
    assert check.returncode == 1
    [line] = [line for line in check.stdout.splitlines() if "zoom oauth" in line]
    assert line.startswith("FAIL") and refused in line and "wrong-secret" not in check.stdout


def test_check_accepts_good_credentials_and_names_missing_scopes(
    api: ZoomApi, redis_server: RedisServer, es_node: ElasticsearchNode, namespace: str
) -> None:
    env = environment(redis_server, es_node, namespace, api)
    check = subprocess.run(
        [sys.executable, "-m", "ops.cli", "check"], env=env, capture_output=True, text=True
    )
    lines = [line for line in check.stdout.splitlines() if "zoom " in line]
    assert lines[0].startswith("OK") and "token issued for account test-account-id" in lines[0]
    assert lines[1].startswith("OK") and "covers activity, operation, meeting_activity" in lines[1]

    api_scope = OAUTH["response"]["scope"]
    OAUTH["response"]["scope"] = "report:read:user_activities:admin"
    try:
        check = subprocess.run(
            [sys.executable, "-m", "ops.cli", "check"], env=env, capture_output=True, text=True
        )
    finally:
        OAUTH["response"]["scope"] = api_scope
    [line] = [line for line in check.stdout.splitlines() if "zoom scopes" in line]
    assert line.startswith("FAIL")
    assert "lacks report:read:operation_logs:admin, report:read:meeting_activity_log:admin" in line
    assert check.returncode == 1
