"""user.*: the reference documents, user.changes, and the ISO-time deviation."""

from __future__ import annotations

from typing import Any

import pytest

from .support import RECEIVED_AT_TEXT, assert_reproduces, body, reference_cases, transform


@pytest.mark.parametrize(("raw_body", "expected"), reference_cases("user"))
def test_reproduces_reference_document(raw_body: str, expected: dict[str, Any]) -> None:
    assert_reproduces(raw_body, expected)


@pytest.mark.parametrize(
    ("action", "timestamp"),
    [
        ("user.signed_in", "2019-09-10T14:36:10.000Z"),
        ("user.signed_out", "2019-09-10T14:36:10.000Z"),
        ("user.presence_status_updated", "2019-11-26T20:13:57.000Z"),
        ("user.personal_notes_updated", "2019-11-26T21:29:08.000Z"),
    ],
)
def test_iso_date_time_gives_timestamp_and_is_removed(action: str, timestamp: str) -> None:
    document = transform(body("user", action))

    assert document["@timestamp"] == timestamp
    assert "date_time" not in document["zoom"]["user"]


def test_date_time_of_other_actions_is_removed_without_timestamp() -> None:
    event = body("user", "user.deactivated")
    event["payload"]["object"]["date_time"] = "2019-11-26T20:13:57Z"

    document = transform(event)

    assert document["@timestamp"] == RECEIVED_AT_TEXT
    assert "date_time" not in document["zoom"]["user"]


def test_changed_email_and_name_become_user_changes() -> None:
    event = body("user", "user.updated")
    event["payload"]["object"] = {
        "id": "u1",
        "email": "new@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
    }
    event["payload"]["old_object"] = {
        "id": "u1",
        "email": "old@example.com",
        "first_name": "Ann",
        "last_name": "Li",
    }

    document = transform(event)

    assert document["user"]["changes"] == {"email": "new@example.com", "full_name": "Ann Lee"}
    assert document["user"]["target"] == {"id": "u1", "email": "old@example.com", "full_name": "Ann Li"}


def test_changed_id_becomes_user_changes_id_and_both_ids_are_related() -> None:
    event = body("user", "user.updated")
    event["payload"]["object"]["id"] = "new-id"

    document = transform(event)

    assert document["user"]["changes"] == {"id": "new-id"}
    assert document["related"]["user"] == ["uLobbbbbbbb_qQsQ", "new-id"]  # old id = operator id


def test_operator_id_without_email_operator_falls_back_to_user_email() -> None:
    event = body("user", "user.deactivated")
    del event["payload"]["operator"]

    document = transform(event)

    assert document["user"]["id"] == "z8yCxjabcdEFGHfp8uQ"
    assert document["user"]["email"] == "henrysemail@email.com"


def test_settings_updated_is_configuration_and_iam() -> None:
    document = transform(body("user", "user.settings_updated"))

    assert document["event"]["category"] == ["configuration", "iam"]
    assert document["zoom"]["settings"] == {"in_meeting": {"private_chat": False}}
