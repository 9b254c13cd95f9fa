"""`zoom-ingest check` with the poller configured: each report stream it polls gets its own index
template line and template precedence line, as the webhook data stream does (real node, Zoom's API
stood in for by tests/zoom_api.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from ops.cli import main
from ops.services import ElasticsearchNode, RedisServer
from shared.config import env_name, load_settings
from tests.ops.checking import Results
from tests.support import TOKEN
from tests.zoom_api import zoom_api
from worker.sink import Sink
from worker.template import template_name

ACTIVITY = template_name("zoom.activity")


@pytest.fixture
def polling(
    redis_server: RedisServer, es_node: ElasticsearchNode, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("ZOOM_INGEST_REDIS_URL", redis_server.url)
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", es_node.url)
    monkeypatch.setenv("ZOOM_INGEST_SECRET_TOKENS", TOKEN)
    monkeypatch.setenv("ZOOM_INGEST_POLL_STREAMS", "activity,operation")
    Sink(load_settings(es_hosts=es_node.url)).install_template()
    with zoom_api() as api:
        for name, value in api.settings().items():
            monkeypatch.setenv(env_name(name), value)
        yield


def check(capsys: pytest.CaptureFixture[str], *arguments: str) -> Results:
    main(["check", "--json", *arguments])
    return {result["check"]: result for result in json.loads(capsys.readouterr().out)}


def test_each_polled_report_stream_has_its_template_and_precedence_lines(
    polling: None, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = check(capsys, "--namespace", namespace)
    for stream in ("activity", "operation"):
        name = template_name(f"zoom.{stream}")
        assert results[f"index template ({stream})"]["status"] == "OK"
        assert results[f"index template ({stream})"]["detail"] == f"{name} matches this version"
        precedence = results[f"template precedence ({stream})"]
        assert precedence["status"] == "OK"
        assert precedence["detail"] == f"{name} (priority 300) applies to logs-zoom.{stream}-{namespace}"
    # Not polled, not checked; the webhook lines keep their names.
    assert not [line for line in results if "meeting_activity" in line]
    assert results["template precedence"]["status"] == "OK"


def test_a_template_that_outranks_a_report_streams_is_named(
    polling: None, es: Elasticsearch, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    es.indices.put_index_template(
        name="someone-elses", index_patterns=["logs-zoom.activity-*"], data_stream={}, priority=400
    )
    try:
        results = check(capsys, "--namespace", namespace)
    finally:
        es.indices.delete_index_template(name="someone-elses")
    line = results["template precedence (activity)"]
    assert line["status"] == "WARN"
    assert line["detail"] == (
        f"someone-elses (priority 400) applies to logs-zoom.activity-{namespace}, not zoom-ingest's; "
        f"also matching: {ACTIVITY} (priority 300)"
    )
    assert "give someone-elses a priority below 300" in line["fix"]
    assert results["template precedence (operation)"]["status"] == "OK"
    assert results["template precedence"]["status"] == "OK"


def test_a_report_template_not_installed_warns(
    polling: None, es: Elasticsearch, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    es.indices.delete_index_template(name=ACTIVITY)
    results = check(capsys, "--namespace", namespace)
    assert results["index template (activity)"]["status"] == "WARN"
    assert results["index template (activity)"]["detail"] == f"{ACTIVITY} is not installed"
    assert "zoom-ingest setup" in results["index template (activity)"]["fix"]
    assert results["template precedence (activity)"]["detail"] == (
        f"no index template matches logs-zoom.activity-{namespace}"
    )
