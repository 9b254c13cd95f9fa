"""What every document gets around the mapping itself: module, dataset, data_stream, tags,
event.original (kept when asked for, or when the mapping failed) and @timestamp at receive time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from worker.transform.fields import Document
from worker.transform.options import TransformOptions
from worker.transform.times import format_timestamp

PRESERVE_ORIGINAL_TAG = "preserve_original_event"


def add_envelope(
    document: Document,
    text: str,
    received_at: datetime,
    options: TransformOptions,
    dataset: str,
    tags: Sequence[str],
) -> Document:
    event = document.setdefault("event", {})
    failed = event.get("kind") == "pipeline_error"
    all_tags = [PRESERVE_ORIGINAL_TAG] if options.preserve_original else []
    all_tags.extend(tags)
    if failed and PRESERVE_ORIGINAL_TAG not in all_tags:
        all_tags.append(PRESERVE_ORIGINAL_TAG)
    if options.preserve_original or failed:
        event["original"] = text
    event["module"] = "zoom"
    event["dataset"] = dataset
    document["data_stream"] = {"type": "logs", "dataset": dataset, "namespace": options.namespace}
    if all_tags:
        document["tags"] = all_tags
    document.setdefault("@timestamp", format_timestamp(received_at))
    return document
