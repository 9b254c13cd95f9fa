"""webinar.*: the reference has no expected documents, so each rule of its section 10 is checked
against the real bodies of webinar.ndjson."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import RECEIVED_AT_TEXT, body, field, transform


@pytest.mark.parametrize(
    ("action", "types"),
    [
        ("webinar.created", ["info", "creation"]),
        ("webinar.updated", ["info", "change"]),
        ("webinar.deleted", ["info", "deletion"]),
        ("webinar.started", ["info", "start"]),
        ("webinar.ended", ["info", "end"]),
        ("webinar.alert", ["error"]),
        ("webinar.sharing_started", ["info", "start"]),
        ("webinar.registration_created", ["info", "creation"]),
        ("webinar.registration_approved", ["info", "allowed", "change"]),
        ("webinar.registration_denied", ["info", "denied", "change"]),
        ("webinar.registration_cancelled", ["info", "change"]),
        ("webinar.participant_joined", ["info"]),
        ("webinar.participant_left", ["info"]),
    ],
)
def test_event_type(action: str, types: list[str]) -> None:
    document = transform(body("webinar", action))

    assert document["event"]["type"] == types
    assert "category" not in document["event"]


def test_sharing_ended_is_info_and_end() -> None:
    event = body("webinar", "webinar.sharing_started")
    event["event"] = "webinar.sharing_ended"

    assert transform(event)["event"]["type"] == ["info", "end"]


def test_object_becomes_zoom_webinar_and_join_urls_stay() -> None:
    updated = transform(body("webinar", "webinar.updated"))
    registration = transform(body("webinar", "webinar.registration_created"))

    assert updated["zoom"]["webinar"]["join_url"] == "https://zoom.us/j/00000000"
    assert registration["zoom"]["registrant"]["join_url"] == "https://zoom.us/w/someendpointhere"
    assert "url" not in updated and "url" not in registration
    assert "object" not in updated["zoom"]


def test_duration_stays_and_gives_no_event_duration() -> None:
    document = transform(body("webinar", "webinar.created"))

    assert document["zoom"]["webinar"]["duration"] == 60
    assert field(document, "event.duration") is None


def test_top_level_account_id_outside_payload_is_dropped() -> None:
    document = transform(body("webinar", "webinar.alert"))

    assert "account_id" not in document["zoom"]
    assert document["zoom"]["webinar"]["topic"] == "My Webinar"


def test_updated_with_time_stamp_in_old_object_keeps_it_and_receive_time() -> None:
    document = transform(body("webinar", "webinar.updated"))

    assert document["@timestamp"] == RECEIVED_AT_TEXT
    assert document["zoom"]["old_values"]["time_stamp"] == 1562791953209
    assert "occurrences" not in document["zoom"]["old_values"]


def test_updated_with_payload_time_stamp_takes_timestamp_and_keeps_it() -> None:
    event = body("webinar", "webinar.updated")
    event["payload"]["time_stamp"] = 1562791953209

    document = transform(event)

    assert document["@timestamp"] == "2019-07-10T20:52:33.209Z"
    assert document["zoom"]["time_stamp"] == 1562791953209


def test_started_takes_timestamp_from_start_time_and_keeps_it() -> None:
    document = transform(body("webinar", "webinar.started"))

    assert document["@timestamp"] == "2019-07-09T17:00:00.000Z"
    assert document["zoom"]["webinar"]["start_time"] == "2019-07-09T17:00:00Z"
    assert "start" not in document["event"]


@pytest.mark.parametrize(
    ("action", "source"),
    [("webinar.participant_joined", "join_time"), ("webinar.participant_left", "leave_time")],
)
def test_participant_times_give_timestamp_and_stay(action: str, source: str) -> None:
    document = transform(body("webinar", action))

    assert document["@timestamp"] == "2019-07-16T17:13:13.000Z"
    assert document["zoom"]["participant"][source] == "2019-07-16T17:13:13Z"


def test_sharing_date_time_is_not_a_webinar_time() -> None:
    document = transform(body("webinar", "webinar.sharing_started"))

    assert document["@timestamp"] == RECEIVED_AT_TEXT
    assert document["zoom"]["participant"]["sharing_details"]["date_time"] == "2019-07-16T17:19:11Z"


def test_participant_is_the_user() -> None:
    event = body("webinar", "webinar.participant_joined")
    event["payload"]["object"]["participant"]["email"] = "shree@example.com"

    document = transform(event)

    assert document["user"] == {
        "id": "iFxeBPYun6SAiWUzBcEkX",
        "full_name": "shree",
        "email": "shree@example.com",
    }


def test_registrant_overrides_operator_as_user() -> None:
    document = transform(body("webinar", "webinar.registration_approved"))

    assert document["user"] == {
        "id": "U0BBBBBBBBBBfrUz1Q",
        "email": "coolemail@email.com",
        "full_name": "Cool Person",
    }


def test_operator_is_the_user_without_participant_or_registrant() -> None:
    with_id = transform(body("webinar", "webinar.created"))
    without_id = transform(body("webinar", "webinar.started"))

    assert with_id["user"] == {"id": "uLoRgfbbTayCX6r2Q_qQsQ", "email": "someemail@email.com"}
    assert without_id["user"] == {"email": "someemail@email.com"}


def test_no_user_at_all_for_alert() -> None:
    assert "user" not in transform(body("webinar", "webinar.alert"))


def test_related_users_deduplicated() -> None:
    approved = transform(body("webinar", "webinar.registration_approved"))
    joined = transform(body("webinar", "webinar.participant_joined"))

    assert approved["related"]["user"] == ["Lobbbbbbbbbb_qQsQ", "uLobbbbbbbbbb_qQsQ", "U0BBBBBBBBBBfrUz1Q"]
    assert joined["related"]["user"] == ["uLoRgfbbTayCX6r2Q_qQsQ", "iFxeBPYun6SAiWUzBcEkX", "16782040"]


def test_registrant_empties_and_custom_questions_are_gone() -> None:
    document = transform(body("webinar", "webinar.registration_created"))

    assert document["zoom"]["registrant"] == {
        "email": "coolemail@email.com",
        "first_name": "Cool",
        "id": "U0BBBBBBBBBBfrUz1Q",
        "join_url": "https://zoom.us/w/someendpointhere",
        "last_name": "Person",
        "status": "approved",
    }


def test_participant_public_ip_gets_geo(maxmind_databases: dict[str, Path]) -> None:
    event = body("webinar", "webinar.participant_joined")
    event["payload"]["object"]["participant"]["public_ip"] = "81.2.69.144"

    document = transform(
        event, geoip_city_db=maxmind_databases["city"], geoip_asn_db=maxmind_databases["asn"]
    )

    assert document["source"]["ip"] == "81.2.69.144"
    assert document["related"]["ip"] == ["81.2.69.144"]
    assert document["source"]["geo"]["city_name"] == "London"
    assert document["source"]["geo"]["region_iso_code"] == "GB-ENG"
    assert "public_ip" not in document["zoom"]["participant"]
