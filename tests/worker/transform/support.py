"""Shared by the transform tests: the reference events, running a body through to_document, and
the rules for comparing with the expected documents (tests/data/README.md)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import TEST_DATA
from worker.transform import TransformOptions, to_document

EVENTS_DIR = TEST_DATA / "events"

RECEIVED_AT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
RECEIVED_AT_TEXT = "2024-05-06T07:08:09.123Z"

# Added around the reference pipeline's output; never compared.
ENVELOPE_FIELDS = ("tags", "event.original", "event.module", "event.dataset", "data_stream")
# Compared only when the reference produced them; otherwise zoom-ingest may add them (receive time,
# or the ISO times the reference cannot parse).
IF_EXPECTED_FIELDS = ("@timestamp", "event.start", "event.end")
UNORDERED_FIELDS = ("event.type", "event.category")


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"test data not found at {path}: it belongs in tests/data/ (README.md there)")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def bodies(family: str) -> list[str]:
    """The raw webhook bodies of `<family>.ndjson`, one per line."""
    return _lines(EVENTS_DIR / f"{family}.ndjson")


def body(family: str, action: str, occurrence: int = 0) -> dict[str, Any]:
    """A fresh copy of the `occurrence`-th body of `family` whose event is `action`."""
    matching = [json.loads(line) for line in bodies(family) if json.loads(line).get("event") == action]
    return copy.deepcopy(matching[occurrence])


def reference_cases(family: str) -> list[Any]:
    """pytest params (body, expected document), one per line of `<family>.expected.ndjson`."""
    expected = _lines(EVENTS_DIR / f"{family}.expected.ndjson")
    raw = bodies(family)
    assert len(raw) == len(expected), f"{family}: {len(raw)} bodies but {len(expected)} expected documents"
    return [
        pytest.param(raw_body, json.loads(document), id=f"{number}-{json.loads(raw_body)['event']}")
        for number, (raw_body, document) in enumerate(zip(raw, expected, strict=True), start=1)
    ]


def transform(source: dict[str, Any] | str | bytes, **options: Any) -> dict[str, Any]:
    """to_document for a body given as an object, JSON text or bytes, received at RECEIVED_AT."""
    if isinstance(source, dict):
        source = json.dumps(source)
    raw = source.encode() if isinstance(source, str) else source
    document = to_document(raw, RECEIVED_AT, TransformOptions(**options))
    json.dumps(document, allow_nan=False)  # every document must serialise for the bulk request
    return document


def field(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _drop(document: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node = field(document, ".".join(parents)) if parents else document
    if isinstance(node, dict):
        node.pop(leaf, None)
        if parents and not node:
            _drop(document, ".".join(parents))


def _sorted(values: Any) -> Any:
    return (
        sorted(values, key=lambda value: json.dumps(value, sort_keys=True))
        if isinstance(values, list)
        else values
    )


def comparable(actual: dict[str, Any], expected: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both documents reduced by the reference's comparison rules, ready for ==."""
    actual, expected = copy.deepcopy(actual), copy.deepcopy(expected)
    for path in ENVELOPE_FIELDS:
        _drop(actual, path)
    for path in IF_EXPECTED_FIELDS:
        if field(expected, path) is None:
            _drop(actual, path)
    for document in (actual, expected):
        for path in UNORDERED_FIELDS:
            *parents, leaf = path.split(".")
            node = field(document, ".".join(parents))
            if isinstance(node, dict) and leaf in node:
                node[leaf] = _sorted(node[leaf])
        for name, values in (document.get("related") or {}).items():
            document["related"][name] = _sorted(values)
    return actual, expected


def assert_reproduces(raw_body: str, expected: dict[str, Any]) -> None:
    actual, wanted = comparable(transform(raw_body), expected)
    assert actual == wanted
