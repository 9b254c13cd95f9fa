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

from datetime import datetime
from typing import Any

from shared.config import DATASET
from worker.transform.envelope import add_envelope
from worker.transform.fields import Document
from worker.transform.options import TransformOptions
from worker.transform.parsing import NotAnObject, mark_failed, parse_object
from worker.transform.pipeline import TransformError, new_document, run

__all__ = ["TransformOptions", "to_document"]


def to_document(body: bytes, received_at: datetime, options: TransformOptions) -> dict[str, Any]:
    """The ECS document for one webhook body; a `pipeline_error` document when it cannot be mapped."""
    try:
        document = _map(body, options)
    except TransformError as failure:
        document = mark_failed(failure.document, str(failure))
    except Exception as unexpected:  # a bug of ours must not lose the event either
        document = mark_failed(new_document(), f"unexpected {type(unexpected).__name__}: {unexpected}")
    text = body.decode("utf-8", errors="replace")
    return add_envelope(document, text, received_at, options, DATASET, options.tags)


def _map(body: bytes, options: TransformOptions) -> Document:
    try:
        parsed = parse_object(body)
    except NotAnObject as error:
        raise TransformError(str(error), new_document()) from error
    return run(parsed, options)
