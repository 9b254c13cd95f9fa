from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from ops.arguments import build_parser
from ops.cli import main
from ops.services import ElasticsearchNode
from tests.support import TEST_DATA, running, wait_for
from worker.template import PRIORITY, SUBSTITUTES, TEMPLATE_NAME, index_template, template_name, without_types
from worker.transform import TransformOptions
from worker.transform.report import to_report_document


def test_help_explains_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("receiver", "worker", "transform", "setup", "local"):
        assert command in text
    assert build_parser().parse_args(["receiver", "--workers", "3"]).workers == 3


def test_receiver_refuses_to_start_without_authentication(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ZOOM_INGEST_SECRET_TOKENS", "ZOOM_INGEST_AUTH_HEADER", "ZOOM_INGEST_ALLOW_UNAUTHENTICATED"):
        monkeypatch.delenv(name, raising=False)
    assert main(["receiver"]) == 2
    assert "ZOOM_INGEST_SECRET_TOKENS" in capsys.readouterr().err


def test_invalid_flag_value_names_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--namespace", "Bad-Name"]) == 2
    assert "ZOOM_INGEST_NAMESPACE" in capsys.readouterr().err


def test_transform_reads_ndjson_from_stdin_and_keeps_order() -> None:
    bodies = [
        {"event": "meeting.started", "payload": {"account_id": "a", "object": {"id": 1, "uuid": "u"}}},
        {"event": "user.created", "payload": {"account_id": "a", "object": {"id": "x"}}},
    ]
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", "transform", "--namespace", "preview"],
        input="\n".join(json.dumps(body) for body in bodies) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["event"]["action"] for d in documents] == ["meeting.started", "user.created"]
    assert {d["data_stream"]["namespace"] for d in documents} == {"preview"}


@pytest.mark.parametrize("stream", ["activity", "operation", "meeting_activity"])
def test_transform_stream_writes_what_the_worker_would_index(stream: str) -> None:
    path = TEST_DATA / "polling" / f"{stream}.ndjson"
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", "transform", "--stream", stream, "--preserve-original", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = path.read_text().splitlines()
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["event"]["original"] for d in documents] == lines
    options = TransformOptions(preserve_original=True)
    for line, document in zip(lines, documents, strict=True):
        polled_at = datetime.fromisoformat(document["@timestamp"].replace("Z", "+00:00"))
        assert document == to_report_document(stream, line.encode(), polled_at, options)
        assert document["data_stream"]["dataset"] == f"zoom.{stream}"
        assert document["event"]["kind"] == "event"


def test_transform_refuses_an_unknown_stream(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["transform", "--stream", "webinars"])
    assert "invalid choice: 'webinars'" in capsys.readouterr().err


def test_transform_reports_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transform", "/nonexistent/events.ndjson"]) == 2
    assert "/nonexistent/events.ndjson" in capsys.readouterr().err


def test_transform_enriches_with_the_given_geoip_databases(maxmind_databases: dict[str, Path]) -> None:
    body = {
        "event": "meeting.participant_joined",
        "payload": {
            "account_id": "a",
            "object": {"id": 1, "participant": {"id": "p", "public_ip": "81.2.69.144"}},
        },
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.cli",
            "transform",
            "--geoip-city-db",
            str(maxmind_databases["city"]),
            "--preserve-original",
            "-",
        ],
        input=json.dumps(body),
        capture_output=True,
        text=True,
        check=True,
    )
    [document] = [json.loads(line) for line in result.stdout.splitlines()]
    assert document["source"]["geo"]["city_name"] == "London"
    assert document["event"]["original"] == json.dumps(body)


def test_setup_installs_the_index_template(es_node: ElasticsearchNode, es: Elasticsearch) -> None:
    # An outdated version of ours in place.
    outdated = index_template()
    outdated["template"]["mappings"]["properties"] = {"zoom": {"type": "object"}}
    outdated["priority"] = 1
    es.indices.put_index_template(name=TEMPLATE_NAME, **without_types(outdated, SUBSTITUTES))
    assert main(["setup", "--es-hosts", es_node.url]) == 0
    [installed] = es.indices.get_index_template(name=TEMPLATE_NAME)["index_templates"]
    assert installed["index_template"]["priority"] == PRIORITY
    assert (
        "meeting" in installed["index_template"]["template"]["mappings"]["properties"]["zoom"]["properties"]
    )
    for stream in ("activity", "operation", "meeting_activity"):
        [report] = es.indices.get_index_template(name=template_name(f"zoom.{stream}"))["index_templates"]
        assert report["index_template"]["index_patterns"] == [f"logs-zoom.{stream}-*"]
        assert stream in report["index_template"]["template"]["mappings"]["properties"]["zoom"]["properties"]


def test_poll_without_zoom_credentials_refuses_to_start() -> None:
    result = subprocess.run([sys.executable, "-m", "ops.cli", "poll"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "the poller cannot start: ZOOM_INGEST_ZOOM_ACCOUNT_ID" in result.stderr


def test_poll_if_configured_idles_without_credentials_until_stopped(tmp_path: Path) -> None:
    log = tmp_path / "poll.log"
    with running(["--log-format", "human", "poll", "--if-configured"], dict(os.environ), log) as poller:
        wait_for(lambda: "the poller is off" in log.read_text(), what="the poller's notice")
        assert poller.poll() is None
        poller.send_signal(signal.SIGTERM)
        assert poller.wait(timeout=20) == 0
