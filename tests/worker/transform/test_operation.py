"""operation records -> documents: the reference's expected documents, and rules O1-O8."""

from __future__ import annotations

from typing import Any

import pytest

from tests.worker.transform.report_support import assert_reproduces, reference_cases, report_document

RECORD = {
    "action": "Update",
    "category_type": "Account",
    "operation_detail": "Change account setting",
    "operator": "admin@example.com",
    "time": "2024-06-07T10:00:00Z",
}


@pytest.mark.parametrize(("record", "expected"), reference_cases("operation"))
def test_reference_documents_reproduced(record: str, expected: dict[str, Any]) -> None:
    document = assert_reproduces("operation", record, expected)

    assert document["tags"] == ["preserve_original_event", "forwarded", "zoom-operation"]
    assert document["data_stream"]["dataset"] == "zoom.operation"


@pytest.mark.parametrize(
    ("action", "types"),
    [
        ("Update", ["change", "info"]),
        ("Add", ["change", "creation"]),
        ("Create", ["change", "creation"]),
        ("Delete", ["change", "deletion"]),
        ("Remove", ["change", "deletion"]),
        ("Add/Remove", ["change", "creation", "deletion"]),
        # A whole word only: the reference would call these a creation.
        ("Address change", ["change", "info"]),
        ("Readd", ["change", "info"]),
    ],
)
def test_event_type_from_the_words_of_the_action(action: str, types: list[str]) -> None:
    document = report_document("operation", RECORD | {"action": action})

    assert document["event"]["type"] == types
    assert document["event"]["action"] == action == document["zoom"]["operation"]["action"]


@pytest.mark.parametrize(
    ("category_type", "categories"),
    [
        ("User", ["configuration", "iam"]),
        ("User Settings", ["configuration", "iam"]),
        ("Role", ["configuration", "iam"]),
        ("Sub Account", ["configuration"]),
        ("Recording", ["configuration"]),
    ],
)
def test_identity_and_access_categories(category_type: str, categories: list[str]) -> None:
    document = report_document("operation", RECORD | {"category_type": category_type})

    assert document["event"]["category"] == categories


def test_operator_without_at_sign_is_a_name_only() -> None:
    document = report_document("operation", RECORD | {"operator": "API"})

    assert document["user"] == {"name": "API"}
    assert document["related"] == {"user": ["API"]}


def test_unparseable_time_is_an_error() -> None:
    document = report_document("operation", RECORD | {"time": "2024-13-45"})

    assert document["event"]["kind"] == "pipeline_error"
    assert document["error"]["message"] == [
        "Failed to parse zoom.operation.time: '2024-13-45' is not an ISO-8601 time"
    ]
