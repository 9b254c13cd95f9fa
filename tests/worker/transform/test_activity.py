"""activity records -> documents: the reference's expected documents, and rules A1-A10."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.worker.transform.report_support import (
    POLLED_AT_TEXT,
    assert_reproduces,
    reference_cases,
    report_document,
)

RECORD = {
    "client_type": "Browser",
    "email": "alice@example.com",
    "ip_address": "89.160.20.112",
    "time": "2024-06-07T10:00:00Z",
    "type": "Sign in",
    "version": "6.0.0.1000",
}


@pytest.mark.parametrize(("record", "expected"), reference_cases("activity"))
def test_reference_documents_reproduced(record: str, expected: dict[str, Any]) -> None:
    # The reference's geo and AS values come from Elastic's own GeoIP test databases, which cover
    # 192.0.2.0/24 and 203.0.113.0/24; MaxMind's test databases (used below) do not, so those two
    # objects are compared in test_sign_in_enriched_from_geoip_databases instead.
    expected = copy.deepcopy(expected)
    expected.get("source", {}).pop("geo", None)
    expected.get("source", {}).pop("as", None)
    document = assert_reproduces("activity", record, expected)

    assert document["tags"] == ["preserve_original_event", "forwarded", "zoom-activity"]
    assert document["data_stream"] == {"type": "logs", "dataset": "zoom.activity", "namespace": "default"}
    assert document["event"]["dataset"] == "zoom.activity" and document["event"]["module"] == "zoom"


def test_sign_in_enriched_from_geoip_databases(maxmind_databases: dict[str, Path]) -> None:
    document = report_document(
        "activity", RECORD, geoip_city_db=maxmind_databases["city"], geoip_asn_db=maxmind_databases["asn"]
    )

    assert document["source"]["ip"] == "89.160.20.112"
    assert document["source"]["geo"]["city_name"] == "Linköping"
    assert document["source"]["as"] == {"number": 29518, "organization": {"name": "Bredband2 AB"}}
    assert document["related"] == {"ip": ["89.160.20.112"], "user": ["alice@example.com"]}


def test_without_preserve_original_the_record_is_not_kept() -> None:
    document = report_document("activity", RECORD)

    assert "original" not in document["event"]
    assert document["tags"] == ["forwarded", "zoom-activity"]


def test_sign_out_ends_a_session() -> None:
    document = report_document("activity", RECORD | {"type": "Sign out"})

    assert document["event"]["action"] == "sign-out"
    assert document["event"]["type"] == ["end"]
    assert document["event"]["category"] == ["authentication", "session"]


@pytest.mark.parametrize("kind", ["sign in", "Login", ""])
def test_other_types_get_no_action_category_type_or_outcome(kind: str) -> None:
    document = report_document("activity", RECORD | {"type": kind})

    assert set(document["event"]) == {"kind", "module", "dataset"}
    assert document["event"]["kind"] == "event"


def test_unparseable_time_is_an_error_and_the_poll_time_stays() -> None:
    document = report_document("activity", RECORD | {"time": "yesterday"})

    assert document["@timestamp"] == POLLED_AT_TEXT
    assert document["event"]["kind"] == "pipeline_error"
    assert document["error"]["message"] == [
        "Failed to parse zoom.activity.time: 'yesterday' is not an ISO-8601 time"
    ]
    assert "time" not in document["zoom"]["activity"]
    assert "preserve_original_event" in document["tags"] and "original" in document["event"]


def test_invalid_ip_is_an_error_without_source() -> None:
    document = report_document("activity", RECORD | {"ip_address": "999.1.1.1"})

    assert "source" not in document and "ip" not in document["related"]
    assert document["error"]["message"] == [
        "Failed to convert zoom.activity.ip_address to IP: '999.1.1.1' is not an IP"
    ]
    assert document["event"]["kind"] == "pipeline_error"


def test_empty_and_not_applicable_values_are_dropped() -> None:
    document = report_document("activity", RECORD | {"client_type": "N/A", "version": "", "email": None})

    assert document["zoom"]["activity"] == {"type": "Sign in"}
    assert "user" not in document and document["related"] == {"ip": ["89.160.20.112"]}


def test_unknown_keys_are_kept() -> None:
    document = report_document("activity", RECORD | {"device": "iPhone"})

    assert document["zoom"]["activity"]["device"] == "iPhone"


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"a": NaN}'])
def test_a_record_that_is_not_an_object_is_kept_as_an_error(text: str) -> None:
    document = report_document("activity", text)

    assert document["event"]["kind"] == "pipeline_error"
    assert document["event"]["original"] == text
    assert document["@timestamp"] == POLLED_AT_TEXT
    assert "zoom" not in document
