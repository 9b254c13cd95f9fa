"""zoom-ingest against Elasticsearch as users run it: security on, HTTPS with the cluster's own CA, and
a file-realm user holding exactly the privileges the README documents (tests/secured.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from redis import Redis

from ops.cli import main
from ops.services import ElasticsearchNode, RedisServer
from shared import queue
from shared.config import load_settings
from tests.certificates import make_authority
from tests.secured import WRITER, add_user, grant
from tests.secured_node import SecuredElasticsearchNode
from tests.support import (
    count_documents,
    enqueue_directly,
    event_body,
    failure_reason,
    service_environment,
)


def environment_for(
    node: ElasticsearchNode, redis_server: RedisServer, namespace: str, user: tuple[str, str], ca: Path
) -> dict[str, str]:
    return service_environment(
        redis_server.url,
        node.url,
        namespace,
        es_username=user[0],
        es_password=user[1],
        es_ca_certs=str(ca),
        es_retry_seconds="5",
    )


def zoom_ingest(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def bodies(count: int) -> list[bytes]:
    return [
        event_body("meeting.started", object={"id": number, "uuid": f"u{number}"}) for number in range(count)
    ]


def queued(redis_server: RedisServer) -> int:
    settings = load_settings(redis_url=redis_server.url)
    return queue.event_queue(settings, Redis.from_url(redis_server.url)).count


def test_setup_worker_and_check_with_exactly_the_documented_privileges(
    secured_es_node: SecuredElasticsearchNode,
    secured_es: Elasticsearch,
    redis_server: RedisServer,
    redis: Redis,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment = environment_for(
        secured_es_node, redis_server, namespace, WRITER, secured_es_node.security.ca
    )
    for name, value in environment.items():
        if name.startswith("ZOOM_INGEST_"):
            monkeypatch.setenv(name, value)
    assert main(["setup"]) == 0
    enqueue_directly(redis_server.url, bodies(5))
    worker = zoom_ingest(environment, "worker", "--burst")
    assert worker.returncode == 0, worker.stderr
    assert count_documents(secured_es, namespace) == 5
    assert queued(redis_server) == 0

    capsys.readouterr()
    assert main(["check", "--json"]) == 0
    results = {line["check"]: line for line in json.loads(capsys.readouterr().out)}
    # All OK but the fixture Redis's unbounded memory: no warning about privileges the docs do not list.
    assert {name for name, line in results.items() if line["status"] != "OK"} == {"redis maxmemory"}
    assert results["es credentials"]["detail"] == "accepted: authenticated as zoom_writer"
    assert results["es privileges"]["detail"].startswith("create_doc, auto_configure on logs-zoom.webhook-*")
    assert "needs the cluster privilege monitor" in results["es version"]["detail"]


@pytest.mark.parametrize("wrong", ["password", "ca"])
def test_wrong_password_or_ca_is_one_clear_line_and_events_stay_queued(
    wrong: str,
    secured_es_node: SecuredElasticsearchNode,
    redis_server: RedisServer,
    redis: Redis,
    namespace: str,
    tmp_path: Path,
) -> None:
    user, ca = WRITER, secured_es_node.security.ca
    if wrong == "password":
        user = (WRITER[0], "not-the-password")
    else:
        ca = make_authority(tmp_path, "other-ca").certificate
    environment = environment_for(secured_es_node, redis_server, namespace, user, ca)
    enqueue_directly(redis_server.url, bodies(3))
    expected = {
        "password": "zoom-ingest: Elasticsearch refused the credentials (HTTP 401 security_exception: unable",
        "ca": "zoom-ingest: TLS to Elasticsearch failed (",
    }[wrong]
    for command in (["worker", "--burst"], ["setup"]):
        result = zoom_ingest(environment, *command)
        assert result.returncode == 1, command
        assert len(result.stderr.splitlines()) == 1, result.stderr  # one line, no traceback
        line = result.stderr.strip()
        assert line.startswith(expected), line
        assert user[1] not in result.stderr
    fix = {"password": "ZOOM_INGEST_ES_USERNAME/ZOOM_INGEST_ES_PASSWORD", "ca": "ZOOM_INGEST_ES_CA_CERTS"}
    assert fix[wrong] in line
    assert queued(redis_server) == 3  # nothing claimed, nothing lost

    check = zoom_ingest(environment, "check")
    assert check.returncode == 1
    [failure] = [line for line in check.stdout.splitlines() if line.startswith("FAIL")]
    if wrong == "password":
        assert failure.split()[1:4] == ["es", "credentials", "rejected"]
    else:
        assert failure.split()[1] == "elasticsearch" and "CERTIFICATE_VERIFY_FAILED" in failure


def test_user_without_create_doc_fails_events_with_the_403_and_replay_after_the_grant_indexes_them(
    secured_es_node: SecuredElasticsearchNode,
    secured_es: Elasticsearch,
    redis_server: RedisServer,
    redis: Redis,
    namespace: str,
) -> None:
    user = (f"no_create_doc_{namespace}", "limited-password-1")
    add_user(secured_es_node, secured_es, user, ["zoom_ingest_no_create_doc"])
    environment = environment_for(secured_es_node, redis_server, namespace, user, secured_es_node.security.ca)
    enqueue_directly(redis_server.url, bodies(4))
    worker = zoom_ingest(environment, "worker", "--burst")
    assert worker.returncode == 0, worker.stderr
    settings = load_settings(redis_url=redis_server.url)
    events = queue.event_queue(settings, Redis.from_url(redis_server.url))
    failed = events.failed_job_registry.get_job_ids()
    assert len(failed) == 4
    job = events.fetch_job(failed[0])
    assert job is not None
    reason = failure_reason(job)
    assert "HTTP 403 security_exception" in reason and "is unauthorized for user [no_create_doc_" in reason
    assert count_documents(secured_es, namespace) == 0

    grant(secured_es_node, secured_es, user, "zoom_ingest_writer")
    replay = zoom_ingest(environment, "replay", "--all")
    assert replay.returncode == 0, replay.stderr
    worker = zoom_ingest(environment, "worker", "--burst")
    assert worker.returncode == 0, worker.stderr
    assert count_documents(secured_es, namespace) == 4
    assert events.failed_job_registry.count == 0
