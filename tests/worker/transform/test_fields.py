"""Dotted-path helpers, with the ingest-processor semantics the transforms rely on."""

from __future__ import annotations

from typing import Any

import pytest

from worker.transform.fields import append, get, pop, prune_empty, put, rename


def test_get_walks_objects_and_reads_missing_as_none() -> None:
    document = {"a": {"b": {"c": 0}}, "s": "text"}

    assert get(document, "a.b.c") == 0
    assert get(document, "a.x.c") is None
    assert get(document, "s.length") is None


def test_put_creates_parents_but_not_through_a_value() -> None:
    document: dict[str, Any] = {"s": "text"}

    put(document, "a.b", 1)
    assert document["a"] == {"b": 1}
    with pytest.raises(TypeError, match=r"\[s\] is a str"):
        put(document, "s.x", 1)


def test_rename_moves_only_when_target_is_free() -> None:
    document: dict[str, Any] = {"a": 1, "b": 2, "c": 3}

    assert rename(document, "a", "x.y") is True
    assert rename(document, "b", "c") is False
    assert rename(document, "missing", "z") is False
    assert document == {"x": {"y": 1}, "b": 2, "c": 3}


def test_pop_leaves_parents() -> None:
    document: dict[str, Any] = {"a": {"b": 1}}

    assert pop(document, "a.b") == 1
    assert pop(document, "a.b") is None
    assert document == {"a": {}}


def test_append_with_and_without_duplicates() -> None:
    document: dict[str, Any] = {}

    append(document, "r.u", "x", allow_duplicates=True)
    append(document, "r.u", "x", allow_duplicates=True)
    append(document, "r.u", "x", allow_duplicates=False)
    append(document, "r.u", None, allow_duplicates=True)
    append(document, "r.u", "y", allow_duplicates=False)

    assert document == {"r": {"u": ["x", "x", "y"]}}


def test_prune_empty_to_nothing() -> None:
    document: dict[str, Any] = {"a": {"b": [None, ""]}, "c": ""}

    prune_empty(document)

    assert document == {}
