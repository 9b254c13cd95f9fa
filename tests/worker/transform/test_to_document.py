"""to_document: the envelope around the pipeline output, preserve_original, and pipeline_error
documents that keep the event whatever the body is."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from worker.transform import TransformOptions, to_document

from .support import RECEIVED_AT, RECEIVED_AT_TEXT, body, transform


def test_envelope_defaults() -> None:
    document = transform(body("zoomroom", "zoomroom.alert"))

    assert document["event"]["module"] == "zoom"
    assert document["event"]["dataset"] == "zoom.webhook"
    assert document["data_stream"] == {"type": "logs", "dataset": "zoom.webhook", "namespace": "default"}
    assert document["tags"] == ["zoom-webhook", "forwarded"]
    assert document["@timestamp"] == RECEIVED_AT_TEXT
    assert "original" not in document["event"]
    assert "ingested" not in document["event"] and "timezone" not in document["event"]


def test_namespace_and_tags_come_from_options() -> None:
    document = transform(body("zoomroom", "zoomroom.alert"), namespace="prod", tags=("a", "b", "c"))

    assert document["data_stream"]["namespace"] == "prod"
    assert document["tags"] == ["a", "b", "c"]


def test_no_tags_configured_means_no_tags_field() -> None:
    assert "tags" not in transform(body("zoomroom", "zoomroom.alert"), tags=())


def test_preserve_original_keeps_raw_body_and_tags_it_first() -> None:
    raw = '{"event":"zoomroom.alert", "payload": {"object": {"id": "r1", "note": ""}}}'

    document = transform(raw, preserve_original=True)

    assert document["event"]["original"] == raw
    assert document["tags"] == ["preserve_original_event", "zoom-webhook", "forwarded"]
    assert document["event"]["kind"] == ["event"]


def test_event_timestamp_wins_over_receive_time() -> None:
    assert transform(body("account", "account.updated"))["@timestamp"] == "2019-07-01T17:03:04.527Z"


def test_receive_time_is_written_in_utc_with_milliseconds() -> None:
    received = datetime(2024, 1, 1, 1, 2, 3, 999999, tzinfo=timezone(timedelta(hours=2)))

    document = to_document(
        json.dumps(body("zoomroom", "zoomroom.alert")).encode(), received, TransformOptions()
    )

    assert document["@timestamp"] == "2023-12-31T23:02:03.999Z"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"event": "meeting.started", "payload": ', "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"event": "x", "payload": {"n": NaN}}', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'[{"event": "meeting.started", "payload": {}}]', "JSON array, not an object"),
        (b'"meeting.started"', "JSON string, not an object"),
        (b"42", "JSON number, not an object"),
        (b"null", "JSON null, not an object"),
        (b'{"event": "meeting.started", "event_ts": 1}', "no payload"),
        (b'{"event": "meeting.started", "payload": {"object": {"id": null}}}', "no payload"),
        (b'{"event": "meeting.started", "payload": [1, 2]}', "payload is a list, not an object"),
    ],
)
def test_unmappable_body_becomes_pipeline_error_with_the_raw_body(raw: bytes, message: str) -> None:
    document = transform(raw)

    assert document["event"]["kind"] == "pipeline_error"
    assert isinstance(document["error"]["message"], list) and len(document["error"]["message"]) == 1
    assert message in document["error"]["message"][0]
    assert document["event"]["original"] == raw.decode("utf-8", errors="replace")
    assert document["tags"] == ["zoom-webhook", "forwarded", "preserve_original_event"]
    assert document["event"]["module"] == "zoom"
    assert document["data_stream"]["dataset"] == "zoom.webhook"
    assert document["@timestamp"] == RECEIVED_AT_TEXT


def test_pipeline_error_with_preserve_original_does_not_duplicate_the_tag() -> None:
    document = transform(b"not json", preserve_original=True)

    assert document["tags"] == ["preserve_original_event", "zoom-webhook", "forwarded"]
    assert document["event"]["original"] == "not json"


def test_body_without_payload_keeps_what_the_pipeline_had_done() -> None:
    document = transform({"event": "meeting.started", "event_ts": 5, "other": {"a": ""}})

    assert document["event"]["action"] == "meeting.started"
    assert document["zoom"] == {"event_ts": 5}
    assert document["observer"]["vendor"] == "Zoom"


def test_family_step_failure_becomes_pipeline_error_keeping_the_event() -> None:
    event = body("chat_channel", "chat_channel.member_invited")
    event["payload"]["object"]["members"] = ["Matt Y"]  # members must be objects
    raw = json.dumps(event)

    document = transform(raw)

    assert document["event"]["kind"] == "pipeline_error"
    assert document["error"]["message"] == [
        "chat_channel transform failed: TypeError: zoom.chat_channel.members must be a list of objects"
    ]
    assert document["event"]["original"] == raw
    assert "preserve_original_event" in document["tags"]
    assert document["event"]["action"] == "chat_channel.member_invited"
    assert document["zoom"]["chat_channel"]["name"] == "Delivering Happiness"


def test_family_step_writing_into_a_non_object_becomes_pipeline_error() -> None:
    event = body("phone", "phone.voicemail_received")
    event["payload"]["object"]["callee"] = "Testaccount2"  # callee_id cannot move under a string

    document = transform(event)

    assert document["event"]["kind"] == "pipeline_error"
    assert document["error"]["message"][0].startswith("phone transform failed: TypeError: cannot set")


def test_body_too_deep_to_parse_is_an_error_document() -> None:
    raw = b'{"event": "x", "payload": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"

    document = transform(raw)

    assert document["event"]["kind"] == "pipeline_error"
    assert "not valid JSON" in document["error"]["message"][0]
    assert document["event"]["original"] == raw.decode()


def test_body_too_deep_to_walk_is_an_error_document_without_zoom(monkeypatch: pytest.MonkeyPatch) -> None:
    import worker.transform.pipeline as pipeline

    def too_deep(_: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(pipeline, "prune_empty", too_deep)

    document = transform(body("meeting", "meeting.started"))

    assert document["event"]["kind"] == "pipeline_error"
    assert document["error"]["message"] == ["RecursionError: maximum recursion depth exceeded"]
    assert "zoom" not in document  # a document too deep to walk is too deep to index
    assert json.loads(document["event"]["original"])["event"] == "meeting.started"


def test_unexpected_exception_still_yields_a_document(monkeypatch: pytest.MonkeyPatch) -> None:
    import worker.transform as transform_module

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(transform_module, "run", broken)

    document = to_document(b'{"event": "meeting.started", "payload": {}}', RECEIVED_AT, TransformOptions())

    assert document["event"]["kind"] == "pipeline_error"
    assert document["error"]["message"] == ["unexpected RuntimeError: boom"]
    assert document["event"]["original"] == '{"event": "meeting.started", "payload": {}}'
