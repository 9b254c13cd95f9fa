"""phone.*: the reference has no expected documents, so each rule of its section 7 is checked
against the real bodies of phone.ndjson."""

from __future__ import annotations

import pytest

from .support import RECEIVED_AT_TEXT, body, field, transform


@pytest.mark.parametrize(
    ("action", "types"),
    [
        ("phone.caller_ringing", ["info", "creation"]),
        ("phone.caller_connected", ["info", "start"]),
        ("phone.callee_answered", ["info", "start"]),
        ("phone.callee_missed", ["info", "end"]),
        ("phone.callee_ended", ["info", "end"]),
        ("phone.caller_ended", ["info", "end"]),
        ("phone.callee_rejected", ["info"]),
        ("phone.voicemail_received", ["info"]),
        ("phone.caller_call_log_completed", ["info"]),
    ],
)
def test_event_type(action: str, types: list[str]) -> None:
    document = transform(body("phone", action))

    assert document["event"]["type"] == types
    assert "category" not in document["event"]


def test_callee_ringing_is_creation_and_takes_ringing_time() -> None:
    event = body("phone", "phone.caller_ringing")
    event["event"] = "phone.callee_ringing"

    document = transform(event)

    assert document["event"]["type"] == ["info", "creation"]
    assert document["@timestamp"] == "2020-07-22T01:41:55.000Z"


@pytest.mark.parametrize(
    ("action", "timestamp"),
    [
        ("phone.caller_ringing", "2020-07-22T01:41:55.000Z"),  # ringing_start_time
        ("phone.caller_connected", "2020-07-22T01:42:04.000Z"),  # connected_start_time
        ("phone.callee_answered", "2020-07-22T01:42:04.000Z"),  # answer_start_time
        ("phone.callee_missed", "2020-07-22T21:09:24.000Z"),  # call_end_time
        ("phone.callee_rejected", "2020-07-22T21:06:39.000Z"),  # call_end_time
        ("phone.voicemail_received", "2020-07-22T21:06:39.000Z"),  # date_time
    ],
)
def test_iso_times_give_timestamp(action: str, timestamp: str) -> None:
    assert transform(body("phone", action))["@timestamp"] == timestamp


def test_call_times_stay_but_voicemail_date_time_is_removed() -> None:
    ringing = transform(body("phone", "phone.caller_ringing"))
    voicemail = transform(body("phone", "phone.voicemail_received"))

    assert ringing["zoom"]["phone"]["ringing_start_time"] == "2020-07-22T01:41:55Z"
    assert "date_time" not in voicemail["zoom"]["phone"]


def test_caller_ended_prefers_call_end_over_ringing_time() -> None:
    event = body("phone", "phone.caller_ended")
    event["payload"]["object"]["ringing_start_time"] = "2020-07-22T21:09:10Z"

    assert transform(event)["@timestamp"] == "2020-07-22T21:09:24.000Z"


def test_call_logs_keep_only_user_id_and_receive_time() -> None:
    document = transform(body("phone", "phone.callee_call_log_completed"))

    assert document["zoom"]["phone"] == {"user_id": "z8sdfsdfds3uQ"}
    assert document["@timestamp"] == RECEIVED_AT_TEXT
    assert "related" not in document


def test_rejected_call_spans_ringing_to_end() -> None:
    document = transform(body("phone", "phone.callee_rejected"))

    assert document["event"]["start"] == "2020-07-22T21:06:33Z"
    assert document["event"]["end"] == "2020-07-22T21:06:39Z"
    assert document["event"]["duration"] == 6_000_000_000


@pytest.mark.parametrize("action", ["phone.callee_ended", "phone.caller_ended"])
def test_ended_call_spans_answer_to_end(action: str) -> None:
    document = transform(body("phone", action))

    assert document["event"]["start"] == "2020-07-22T21:09:20Z"
    assert document["event"]["end"] == "2020-07-22T21:09:24Z"
    assert document["event"]["duration"] == 4_000_000_000


@pytest.mark.parametrize(
    "action",
    ["phone.callee_missed", "phone.callee_answered", "phone.caller_ringing", "phone.voicemail_received"],
)
def test_no_call_span_without_a_start_and_end_pair(action: str) -> None:
    document = transform(body("phone", action))

    assert field(document, "event.start") is None
    assert field(document, "event.end") is None
    assert field(document, "event.duration") is None


def test_no_call_span_with_both_ringing_and_answer_times() -> None:
    event = body("phone", "phone.callee_ended")
    event["payload"]["object"]["ringing_start_time"] = "2020-07-22T21:09:10Z"

    assert "duration" not in transform(event)["event"]


def test_no_call_span_when_phone_duration_is_given() -> None:
    event = body("phone", "phone.callee_rejected")
    event["payload"]["object"]["duration"] = 6

    document = transform(event)

    assert "duration" not in document["event"] and "start" not in document["event"]
    assert document["zoom"]["phone"]["duration"] == 6


def test_voicemail_is_flattened_converted_and_linked() -> None:
    document = transform(body("phone", "phone.voicemail_received"))
    phone = document["zoom"]["phone"]

    assert phone["callee"] == {
        "user_id": "543234",
        "extension_type": "2",
        "id": "1234",
        "name": "Testaccount2",
        "phone_number": "+12044444444",
        "number_type": "2",
    }
    assert phone["caller"] == {"name": "Testaccount", "phone_number": "+12044444444", "number_type": "3"}
    assert phone["duration"] == 1235  # "1235" converted to a number
    assert "duration" not in document["event"]  # the minutes conversion never fires
    assert document["url"]["full"] == "https://testurl.com/file.mp4"
    assert "download_url" not in phone
    assert document["related"]["user"] == ["543234"]
    assert document["destination"]["user"]["id"] == "543234"
    assert "source" not in document


def test_unconvertible_duration_is_kept() -> None:
    event = body("phone", "phone.voicemail_received")
    event["payload"]["object"]["duration"] = "about a minute"

    assert transform(event)["zoom"]["phone"]["duration"] == "about a minute"


def test_caller_and_callee_user_ids_become_source_and_destination() -> None:
    ringing = transform(body("phone", "phone.caller_ringing"))
    answered = transform(body("phone", "phone.callee_answered"))

    assert ringing["source"]["user"]["id"] == "cadsd32wA"
    assert "destination" not in ringing
    assert answered["destination"]["user"]["id"] == "z8yCDSSQWSSWuQ"
    assert "source" not in answered


def test_related_users_are_callee_and_caller_without_duplicates() -> None:
    event = body("phone", "phone.callee_answered")
    event["payload"]["object"]["caller"]["user_id"] = "caller-1"
    event["payload"]["object"]["callee_user_id"] = (
        "z8yCDSSQWSSWuQ"  # cannot be flattened: callee.user_id exists
    )

    document = transform(event)

    assert document["related"]["user"] == ["z8yCDSSQWSSWuQ", "caller-1"]
    assert document["zoom"]["phone"]["callee_user_id"] == "z8yCDSSQWSSWuQ"


def test_phone_has_no_user_fields() -> None:
    for raw in ("phone.caller_ringing", "phone.voicemail_received"):
        assert "user" not in transform(body("phone", raw))
