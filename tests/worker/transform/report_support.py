"""Shared by the report-stream transform tests: the reference's records and expected documents
(tests/data/polling/), and running a record through to_report_document."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import TEST_DATA
from tests.worker.transform.support import comparable
from worker.transform import TransformOptions
from worker.transform.report import to_report_document

POLLING_DIR = TEST_DATA / "polling"
POLLED_AT = datetime(2024, 7, 1, 2, 3, 4, 567000, tzinfo=UTC)
POLLED_AT_TEXT = "2024-07-01T02:03:04.567Z"


def records(stream: str) -> list[str]:
    path = POLLING_DIR / f"{stream}.ndjson"
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def reference_cases(stream: str) -> list[Any]:
    """pytest params (record, expected document), one per line of `<stream>.expected.ndjson`."""
    expected = [
        json.loads(line) for line in (POLLING_DIR / f"{stream}.expected.ndjson").read_text().splitlines()
    ]
    raw = records(stream)
    assert len(raw) == len(expected) == 5
    return [
        pytest.param(record, document, id=str(number))
        for number, (record, document) in enumerate(zip(raw, expected, strict=True), start=1)
    ]


def report_document(stream: str, record: dict[str, Any] | str, **options: Any) -> dict[str, Any]:
    text = json.dumps(record) if isinstance(record, dict) else record
    document = to_report_document(stream, text.encode(), POLLED_AT, TransformOptions(**options))
    json.dumps(document, allow_nan=False)
    return document


def assert_reproduces(stream: str, record: str, expected: dict[str, Any], **options: Any) -> dict[str, Any]:
    """The document for `record`, fed as the reference's tests feed it (preserve_original_event
    tag), equals `expected` by the comparison rules; expected's envelope is checked, then set aside."""
    document = report_document(stream, record, preserve_original=True, **options)
    expected = copy.deepcopy(expected)
    assert expected.pop("tags") == ["preserve_original_event"] == document["tags"][:1]
    assert expected["event"].pop("original") == document["event"]["original"] == record
    actual, wanted = comparable(document, expected)
    assert actual == wanted
    return document
