"""recording.*: the reference documents and the ISO-time deviation."""

from __future__ import annotations

from typing import Any

import pytest

from .support import RECEIVED_AT_TEXT, assert_reproduces, body, reference_cases, transform


@pytest.mark.parametrize(("raw_body", "expected"), reference_cases("recording"))
def test_reproduces_reference_document(raw_body: str, expected: dict[str, Any]) -> None:
    assert_reproduces(raw_body, expected)


def test_started_takes_timestamp_from_recording_start_and_keeps_it() -> None:
    document = transform(body("recording", "recording.started"))

    assert document["@timestamp"] == "2019-07-31T22:41:02.000Z"
    assert document["event"]["start"] == "2019-07-31T22:41:02Z"  # copied as Zoom wrote it, as the reference
    assert document["zoom"]["recording"]["recording_file"]["recording_start"] == "2019-07-31T22:41:02Z"


def test_stopped_has_event_end_but_no_duration() -> None:
    document = transform(body("recording", "recording.stopped"))

    assert document["event"]["end"] == "2019-07-31T22:43:29Z"
    assert "start" not in document["event"] and "duration" not in document["event"]
    assert document["@timestamp"] == RECEIVED_AT_TEXT


def test_registrant_with_operator_keeps_operator_as_user() -> None:
    event = body("recording", "recording.registration_approved")
    event["payload"]["operator"] = "approver@example.com"
    event["payload"]["operator_id"] = "approver-1"

    document = transform(event)

    assert document["user"] == {"id": "approver-1", "email": "approver@example.com"}
    assert document["related"]["user"] == ["approver-1", "uLobbbbbbbbbb_qQsQ", "U0BBBBBBBBBBfrUz1Q"]


def test_host_id_overrides_operator_when_no_registrant() -> None:
    event = body("recording", "recording.completed")
    event["payload"]["operator_id"] = "operator-1"

    document = transform(event)

    assert document["user"]["id"] == "uLobbbbbbbbbb_qQsQ"
