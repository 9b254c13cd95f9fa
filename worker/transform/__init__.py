"""Zoom webhook body -> ECS document, field for field as Elastic's Zoom integration does.

Contract used by the worker and the `zoom-ingest transform` command (do not change the signatures):

    options = TransformOptions(namespace="default", tags=("zoom-webhook", "forwarded"),
                               preserve_original=False, geoip_city_db=None, geoip_asn_db=None)
    document = to_document(body, received_at, options)

`body` is the raw webhook body exactly as received (bytes); `received_at` an aware datetime.
`to_document` never raises: a body it cannot map becomes a `pipeline_error` document that still
carries the event.

Where things live: pipeline.py is the default pipeline every body goes through, with the table
routing `event.action` to a family module (meeting.py, webinar.py, recording.py, user.py,
account.py, chat_channel.py, chat_message.py, phone.py, zoomroom.py); this module parses the body
and adds the envelope (event.module/dataset, data_stream, tags, event.original, @timestamp at
receive time). docs/ecs-mapping.md describes the result for users.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.config import DATASET
from worker.transform.fields import Document
from worker.transform.options import TransformOptions
from worker.transform.pipeline import TransformError, new_document, run
from worker.transform.times import format_timestamp

__all__ = ["TransformOptions", "to_document"]

PRESERVE_ORIGINAL_TAG = "preserve_original_event"


def to_document(body: bytes, received_at: datetime, options: TransformOptions) -> dict[str, Any]:
    """The ECS document for one webhook body; a `pipeline_error` document when it cannot be mapped."""
    try:
        document = _map(body, options)
    except TransformError as failure:
        document = _failed(failure.document, str(failure))
    except Exception as unexpected:  # a bug of ours must not lose the event either
        document = _failed(new_document(), f"unexpected {type(unexpected).__name__}: {unexpected}")
    return _with_envelope(document, body.decode("utf-8", errors="replace"), received_at, options)


def _map(body: bytes, options: TransformOptions) -> Document:
    try:
        parsed = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise TransformError(f"body is not UTF-8 text: {error}", new_document()) from error
    except (ValueError, RecursionError) as error:
        raise TransformError(f"body is not valid JSON: {error}", new_document()) from error
    if not isinstance(parsed, dict):
        raise TransformError(f"body is a JSON {_json_type(parsed)}, not an object", new_document())
    return run(parsed, options)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return names.get(type(value), "null")


def _failed(document: Document, message: str) -> Document:
    """As the reference's on_failure: event.kind becomes the string pipeline_error, the message is
    appended to error.message (the tag and event.original are added with the envelope)."""
    document.setdefault("event", {})["kind"] = "pipeline_error"
    document.setdefault("error", {}).setdefault("message", []).append(message)
    return document


def _with_envelope(
    document: Document, text: str, received_at: datetime, options: TransformOptions
) -> Document:
    event = document.setdefault("event", {})
    failed = event.get("kind") == "pipeline_error"
    tags = [PRESERVE_ORIGINAL_TAG] if options.preserve_original else []
    tags.extend(options.tags)
    if failed and PRESERVE_ORIGINAL_TAG not in tags:
        tags.append(PRESERVE_ORIGINAL_TAG)
    if options.preserve_original or failed:
        event["original"] = text
    event["module"] = "zoom"
    event["dataset"] = DATASET
    document["data_stream"] = {"type": "logs", "dataset": DATASET, "namespace": options.namespace}
    if tags:
        document["tags"] = tags
    document.setdefault("@timestamp", format_timestamp(received_at))
    return document
