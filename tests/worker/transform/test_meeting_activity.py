"""meeting_activity records -> documents, rule by rule (M1-M7): the reference has no expected
documents for this stream."""

from __future__ import annotations

import json

import pytest

from tests.worker.transform.report_support import POLLED_AT_TEXT, records, report_document

STARTED, JOINED, LEFT, ENDED, CREATED = (json.loads(line) for line in records("meeting_activity"))


def test_a_started_meeting_as_a_whole() -> None:
    document = report_document("meeting_activity", STARTED)

    assert document == {
        "@timestamp": "2024-03-21T07:09:03.216Z",
        "ecs": {"version": "8.11.0"},
        "event": {
            "action": "Meeting Started",
            "dataset": "zoom.meeting_activity",
            "kind": "event",
            "module": "zoom",
            "type": ["info"],
        },
        "data_stream": {"type": "logs", "dataset": "zoom.meeting_activity", "namespace": "default"},
        "related": {"user": ["jillchill@example.com", "Jill Chill"]},
        "tags": ["forwarded", "zoom-meeting_activity"],
        "user": {"email": "jillchill@example.com", "name": "Jill Chill"},
        "zoom": {
            "meeting_activity": {
                "activity_category": "Meeting Started",
                "activity_detail": "Meeting Started",
                "meeting_number": "982 610 0285",
            }
        },
    }


@pytest.mark.parametrize(
    ("record", "timestamp"),
    [
        (STARTED, "2024-03-21T07:09:03.216Z"),
        (JOINED, "2024-03-21T07:09:45.002Z"),
        (LEFT, "2024-03-21T07:35:12.880Z"),
        (ENDED, "2024-03-21T07:40:00.120Z"),
        (CREATED, "2024-03-22T09:00:10.500Z"),
    ],
)
def test_m1_activity_time_in_zoom_format_is_utc(record: dict[str, str], timestamp: str) -> None:
    document = report_document("meeting_activity", record)

    assert document["@timestamp"] == timestamp
    assert "activity_time" not in document["zoom"]["meeting_activity"]  # M7


def test_m1_iso_time_accepted_too() -> None:
    document = report_document("meeting_activity", STARTED | {"activity_time": "2024-03-21T07:09:03+02:00"})

    assert document["@timestamp"] == "2024-03-21T05:09:03.000Z"


def test_m1_unparseable_time_is_an_error() -> None:
    document = report_document("meeting_activity", STARTED | {"activity_time": "21/03/2024"})

    assert document["@timestamp"] == POLLED_AT_TEXT
    assert document["event"]["kind"] == "pipeline_error"
    assert document["error"]["message"] == [
        "Failed to parse zoom.meeting_activity.activity_time: '21/03/2024' is not a known time format"
    ]


@pytest.mark.parametrize("record", [JOINED, LEFT, ENDED, CREATED])
def test_m2_to_m4_action_verbatim_type_info_no_category(record: dict[str, str]) -> None:
    document = report_document("meeting_activity", record)

    assert document["event"]["kind"] == "event"
    assert document["event"]["action"] == record["activity_category"]
    assert document["event"]["type"] == ["info"]
    assert "category" not in document["event"]


def test_m3_no_action_without_a_category() -> None:
    document = report_document("meeting_activity", STARTED | {"activity_category": ""})

    assert "action" not in document["event"]


def test_m5_m6_operator_without_email() -> None:
    document = report_document("meeting_activity", CREATED)

    assert document["user"] == {"name": "Alice Adams"}
    assert document["related"] == {"user": ["Alice Adams"]}
    assert document["zoom"]["meeting_activity"] == {
        "activity_category": "Meeting created",
        "activity_detail": "Meeting created",
        "meeting_number": "112 233 4455",
    }


def test_m6_related_user_deduplicated() -> None:
    document = report_document("meeting_activity", STARTED | {"operator": "jillchill@example.com"})

    assert document["related"] == {"user": ["jillchill@example.com"]}
