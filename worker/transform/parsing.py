"""From raw bytes to a JSON object, and how a document is marked as not (fully) mapped."""

from __future__ import annotations

import json
from typing import Any

from worker.transform.fields import Document


class NotAnObject(ValueError):
    """The bytes are not one JSON object; the message says why."""


def parse_object(raw: bytes) -> dict[str, Any]:
    """The JSON object in `raw`; raises NotAnObject for anything else (NaN and Infinity included)."""
    try:
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise NotAnObject(f"body is not UTF-8 text: {error}") from error
    except (ValueError, RecursionError) as error:
        raise NotAnObject(f"body is not valid JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise NotAnObject(f"body is a JSON {_json_type(parsed)}, not an object")
    return parsed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return names.get(type(value), "null")


def add_error(document: Document, message: str) -> None:
    """Append to error.message, as the reference's processors do on failure."""
    document.setdefault("error", {}).setdefault("message", []).append(message)


def mark_failed(document: Document, message: str) -> Document:
    """As the reference's on_failure: event.kind becomes the string pipeline_error, the message is
    appended to error.message (the tag and event.original are added with the envelope)."""
    document.setdefault("event", {})["kind"] = "pipeline_error"
    add_error(document, message)
    return document
