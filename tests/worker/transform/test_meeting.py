"""meeting.*: the reference documents, GeoIP of participants, and the ISO-time deviation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .support import RECEIVED_AT_TEXT, assert_reproduces, body, field, reference_cases, transform


@pytest.mark.parametrize(("raw_body", "expected"), reference_cases("meeting"))
def test_reproduces_reference_document(raw_body: str, expected: dict[str, Any]) -> None:
    assert_reproduces(raw_body, expected)


def joined_from(public_ip: str) -> dict[str, Any]:
    event = body("meeting", "meeting.participant_joined")
    event["payload"]["object"]["participant"]["public_ip"] = public_ip
    return event


def test_participant_public_ip_becomes_source_ip_with_london_geo(maxmind_databases: dict[str, Path]) -> None:
    document = transform(
        joined_from("81.2.69.144"),
        geoip_city_db=maxmind_databases["city"],
        geoip_asn_db=maxmind_databases["asn"],
    )

    assert document["source"]["ip"] == "81.2.69.144"
    assert document["related"]["ip"] == ["81.2.69.144"]
    assert document["source"]["geo"] == {
        "city_name": "London",
        "continent_name": "Europe",
        "country_iso_code": "GB",
        "country_name": "United Kingdom",
        "region_iso_code": "GB-ENG",
        "region_name": "England",
        "location": {"lat": 51.5142, "lon": -0.0931},
    }
    assert "as" not in document["source"]  # 81.2.69.144 is not in the ASN test database
    assert "public_ip" not in document["zoom"]["participant"]


def test_participant_address_gets_autonomous_system(maxmind_databases: dict[str, Path]) -> None:
    document = transform(
        joined_from("89.160.20.112"),
        geoip_city_db=maxmind_databases["city"],
        geoip_asn_db=maxmind_databases["asn"],
    )

    assert document["source"]["as"] == {"number": 29518, "organization": {"name": "Bredband2 AB"}}
    assert document["source"]["geo"]["city_name"] == "Linköping"


def test_public_ip_without_databases_is_still_source_ip() -> None:
    document = transform(joined_from("81.2.69.144"))

    assert document["source"] == {"ip": "81.2.69.144"}
    assert document["related"]["ip"] == ["81.2.69.144"]


def test_invalid_public_ip_is_dropped_without_source_ip() -> None:
    document = transform(joined_from("not-an-ip"))

    assert "source" not in document
    assert "related" in document and "ip" not in document["related"]
    assert "public_ip" not in document["zoom"]["participant"]
    assert document["event"]["kind"] == ["event"]


def test_participant_joined_takes_timestamp_from_join_time() -> None:
    document = transform(body("meeting", "meeting.participant_joined"))

    assert document["@timestamp"] == "2019-07-16T17:13:13.000Z"
    assert "join_time" not in document["zoom"]["participant"]


def test_participant_left_takes_timestamp_from_leave_time() -> None:
    document = transform(body("meeting", "meeting.participant_left"))

    assert document["@timestamp"] == "2019-07-16T17:13:13.000Z"
    assert "leave_time" not in document["zoom"]["participant"]


def test_started_takes_event_start_from_start_time_and_removes_it() -> None:
    document = transform(body("meeting", "meeting.started"))

    assert document["event"]["start"] == "2019-07-09T17:00:00.000Z"
    assert "start_time" not in document["zoom"]["meeting"]
    assert document["@timestamp"] == RECEIVED_AT_TEXT


def test_sharing_started_takes_timestamp_from_sharing_date_time_and_removes_it() -> None:
    document = transform(body("meeting", "meeting.sharing_started"))

    assert document["@timestamp"] == "2019-07-16T17:19:11.000Z"
    assert "date_time" not in document["zoom"]["participant"]["sharing_details"]


def test_sharing_ended_keeps_sharing_date_time_and_receive_time() -> None:
    document = transform(body("meeting", "meeting.sharing_ended"))

    assert document["@timestamp"] == RECEIVED_AT_TEXT
    assert document["zoom"]["participant"]["sharing_details"]["date_time"] == "2019-07-16T17:19:11Z"


@pytest.mark.parametrize(
    "action",
    [
        "meeting.participant_put_in_waiting_room",
        "meeting.participant_joined_waiting_room",
        "meeting.participant_left_waiting_room",
    ],
)
def test_waiting_room_events_take_timestamp_from_participant_date_time(action: str) -> None:
    event = body("meeting", "meeting.participant_joined")
    event["event"] = action
    participant = event["payload"]["object"]["participant"]
    del participant["join_time"]
    participant["date_time"] = "2021-03-04T05:06:07+01:00"

    document = transform(event)

    assert document["@timestamp"] == "2021-03-04T04:06:07.000Z"
    assert "date_time" not in document["zoom"]["participant"]
    assert document["event"]["type"] == ["info"]


def test_updated_with_iso_time_stamp_takes_timestamp_and_removes_it() -> None:
    event = body("meeting", "meeting.updated")
    event["payload"]["time_stamp"] = "2019-07-10T20:52:33.209Z"

    document = transform(event)

    assert document["@timestamp"] == "2019-07-10T20:52:33.209Z"
    assert "time_stamp" not in document["zoom"]


def test_updated_with_epoch_time_stamp_removes_it_like_the_reference() -> None:
    document = transform(body("meeting", "meeting.updated"))

    assert document["@timestamp"] == RECEIVED_AT_TEXT
    assert "time_stamp" not in document["zoom"]


def test_unparsable_join_time_is_removed_and_receive_time_used() -> None:
    event = body("meeting", "meeting.participant_joined")
    event["payload"]["object"]["participant"]["join_time"] = "yesterday"

    document = transform(event)

    assert document["@timestamp"] == RECEIVED_AT_TEXT
    assert "join_time" not in document["zoom"]["participant"]


def test_participant_email_replaces_operator_as_user() -> None:
    event = body("meeting", "meeting.participant_joined")
    event["payload"]["operator"] = "host@example.com"
    event["payload"]["operator_id"] = "operator-1"
    event["payload"]["object"]["participant"]["email"] = "shree@example.com"

    document = transform(event)

    assert document["user"] == {
        "id": "iFxeBPYun6SAiWUzBcEkX",
        "full_name": "shree",
        "email": "shree@example.com",
    }
    assert document["related"]["user"][0] == "operator-1"


def test_participant_uuid_joins_related_users() -> None:
    event = body("meeting", "meeting.participant_joined")
    event["payload"]["object"]["participant"]["participant_uuid"] = "uuid-1"

    document = transform(event)

    assert "uuid-1" in document["related"]["user"]


def test_meeting_without_duration_has_no_event_duration() -> None:
    event = body("meeting", "meeting.created")
    del event["payload"]["object"]["duration"]

    document = transform(event)

    assert field(document, "event.duration") is None
    assert document["event"]["type"] == ["info", "creation"]
