"""chat_channel.*: the reference documents, members, and the date_time fallback."""

from __future__ import annotations

from typing import Any

import pytest

from .support import assert_reproduces, body, reference_cases, transform


@pytest.mark.parametrize(("raw_body", "expected"), reference_cases("chat_channel"))
def test_reproduces_reference_document(raw_body: str, expected: dict[str, Any]) -> None:
    assert_reproduces(raw_body, expected)


def test_without_epoch_timestamp_the_iso_date_time_gives_timestamp_and_stays() -> None:
    event = body("chat_channel", "chat_channel.updated")
    del event["payload"]["object"]["timestamp"]

    document = transform(event)

    assert document["@timestamp"] == "2020-02-10T21:59:05.000Z"
    assert document["zoom"]["chat_channel"]["date_time"] == "2020-02-10T21:59:05Z"


def test_members_are_removed_after_feeding_related_users() -> None:
    document = transform(body("chat_channel", "chat_channel.member_invited"))

    assert "members" not in document["zoom"]["chat_channel"]
    assert sorted(document["related"]["user"]) == ["Matt Y", "s0hhFOCYw", "z8dfgdfguQrdfgdf"]


def test_unlisted_action_has_no_event_type() -> None:
    event = body("chat_channel", "chat_channel.updated")
    event["event"] = "chat_channel.archived"

    document = transform(event)

    assert "type" not in document["event"]
    assert document["zoom"]["chat_channel"]["name"] == "Building Happy"
