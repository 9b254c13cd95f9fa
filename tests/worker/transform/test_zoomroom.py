"""zoomroom.*: the reference documents and check-out."""

from __future__ import annotations

from typing import Any

import pytest

from .support import assert_reproduces, body, reference_cases, transform


@pytest.mark.parametrize(("raw_body", "expected"), reference_cases("zoomroom"))
def test_reproduces_reference_document(raw_body: str, expected: dict[str, Any]) -> None:
    assert_reproduces(raw_body, expected)


def test_checked_out_is_info_and_end() -> None:
    event = body("zoomroom", "zoomroom.checked_in")
    event["event"] = "zoomroom.checked_out"

    document = transform(event)

    assert document["event"]["type"] == ["info", "end"]
    assert document["zoom"]["zoomroom"]["room_name"] == "Sharks Room"
