"""A record of one of Zoom's report APIs -> ECS document: the skeleton the reference's three polling
pipelines share (SPEC section 1.5), around the stream's own rules (activity.py, operation.py,
meeting_activity.py).

    document = to_report_document("activity", record, polled_at, options)

`record` is one API record as JSON text (bytes); `polled_at` is when the poller fetched it, the
@timestamp of a record without a time of its own. Like to_document, this never raises: a record it
cannot map becomes a `pipeline_error` document that still carries the record in event.original.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from worker.transform import activity, meeting_activity, operation
from worker.transform.envelope import add_envelope
from worker.transform.fields import Document, get
from worker.transform.options import TransformOptions
from worker.transform.parsing import NotAnObject, mark_failed, parse_object
from worker.transform.pipeline import ECS_VERSION

StreamRules = Callable[[Document, TransformOptions], None]

# stream -> its record rules; the record sits at zoom.<stream> when they run.
STREAM_RULES: dict[str, StreamRules] = {
    "activity": activity.transform,
    "operation": operation.transform,
    "meeting_activity": meeting_activity.transform,
}

# Values the reference's final script removes from objects (and lists), besides empty ones.
_NOT_APPLICABLE = "N/A"
_DROP = object()


def to_report_document(
    stream: str, record: bytes, polled_at: datetime, options: TransformOptions
) -> dict[str, Any]:
    """The ECS document for one report record of `stream` (a key of STREAM_RULES)."""
    rules = STREAM_RULES[stream]
    document: Document = {"ecs": {"version": ECS_VERSION}}
    try:
        document["zoom"] = {stream: parse_object(record)}
        rules(document, options)
        prune(document)
        if get(document, "error.message") is not None:
            document.setdefault("event", {})["kind"] = "pipeline_error"
    except NotAnObject as error:
        mark_failed(document, str(error))
    except Exception as unexpected:  # a bug of ours must not lose the record either
        document = mark_failed(
            {"ecs": {"version": ECS_VERSION}}, f"unexpected {type(unexpected).__name__}: {unexpected}"
        )
    tags = ("forwarded", f"zoom-{stream}")
    text = record.decode("utf-8", errors="replace")
    return add_envelope(document, text, polled_at, options, f"zoom.{stream}", tags)


def prune(document: Document) -> None:
    """Drop null, "", "N/A", and objects or lists left empty, everywhere; 0 and false stay.

    The reference keeps "N/A" inside lists while dropping it from objects; zoom-ingest drops it
    in both (docs/ecs-mapping.md)."""
    pruned = _pruned(document)
    document.clear()
    if isinstance(pruned, dict):
        document.update(pruned)


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {
            key: child for key, child in ((k, _pruned(v)) for k, v in value.items()) if child is not _DROP
        }
        return kept or _DROP
    if isinstance(value, list):
        items = [child for child in map(_pruned, value) if child is not _DROP]
        return items or _DROP
    if value is None or value == "" or value == _NOT_APPLICABLE:
        return _DROP
    return value
