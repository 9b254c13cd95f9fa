"""chat_message.*: the reference documents, contact_id, and the date_time fallback."""

from __future__ import annotations

from typing import Any

import pytest

from .support import assert_reproduces, body, reference_cases, transform


@pytest.mark.parametrize(("raw_body", "expected"), reference_cases("chat_message"))
def test_reproduces_reference_document(raw_body: str, expected: dict[str, Any]) -> None:
    assert_reproduces(raw_body, expected)


def test_contact_id_joins_related_users_even_when_duplicate() -> None:
    event = body("chat_message", "chat_message.sent")
    event["payload"]["object"]["contact_id"] = "zfdgdfgdfgfp8uQ"  # the operator's id

    document = transform(event)

    assert document["related"]["user"] == ["zfdgdfgdfgfp8uQ", "zfdgdfgdfgfp8uQ"]


def test_without_epoch_timestamp_the_iso_date_time_gives_timestamp_and_stays() -> None:
    event = body("chat_message", "chat_message.sent")
    del event["payload"]["object"]["timestamp"]

    document = transform(event)

    assert document["@timestamp"] == "2020-02-11T22:02:11.000Z"
    assert document["zoom"]["chat_message"]["date_time"] == "2020-02-11T22:02:11Z"


def test_deleted_is_info_and_deletion() -> None:
    event = body("chat_message", "chat_message.sent")
    event["event"] = "chat_message.deleted"

    assert transform(event)["event"]["type"] == ["info", "deletion"]
