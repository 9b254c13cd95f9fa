"""The RQ jobs: one webhook body, or one polled report record, in; one document in Elasticsearch out.

The receiver enqueues `worker.job.index_event(body, received_at)` by name (see shared/queue.py),
the poller `worker.job.index_record(record, polled_at, stream)` (see shared/reports.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from shared.config import Settings, load_settings
from shared.queue import JOB_FUNCTION, parse_iso_as_utc
from shared.reports import RECORD_FUNCTION
from worker.sink import Sink
from worker.transform import TransformOptions, to_document
from worker.transform.report import STREAM_RULES, to_report_document


@dataclass(frozen=True)
class Context:
    settings: Settings
    sink: Sink
    options: TransformOptions


def transform_options(settings: Settings) -> TransformOptions:
    return TransformOptions(
        namespace=settings.namespace,
        tags=tuple(settings.tags),
        preserve_original=settings.preserve_original,
        geoip_city_db=settings.geoip_city_db,
        geoip_asn_db=settings.geoip_asn_db,
    )


@cache
def context() -> Context:
    """Built once per worker process, on the first job (or by the worker at start)."""
    settings = load_settings()
    return Context(settings=settings, sink=Sink(settings), options=transform_options(settings))


def document_id(body: str) -> str:
    """Identity of an event, from its content: Zoom redelivers the same event with the same body,
    while its per-delivery headers (x-zm-trackingid, timestamps) change. The body is canonicalised
    so that a sender re-serialising it (key order, spacing) still maps to the same document."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        canonical = body
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def index_event(body: str, received_at: str) -> str:
    current = context()
    prepared = job_document(JOB_FUNCTION, (body, received_at), current.options)
    assert prepared is not None
    return current.sink.index(*prepared)


def index_record(record: str, polled_at: str, stream: str) -> str:
    current = context()
    prepared = job_document(RECORD_FUNCTION, (record, polled_at, stream), current.options)
    if prepared is None:
        raise ValueError(f"not a report stream: {stream!r}")
    return current.sink.index(*prepared)


def job_document(
    func_name: str, args: tuple[Any, ...], options: TransformOptions
) -> tuple[str, dict[str, Any]] | None:
    """(document id, document) for a queued job's function and arguments, the one place that routes
    a job to its transform; None for a job that is neither a webhook nor a report record."""
    if func_name == JOB_FUNCTION and len(args) == 2:
        body, received_at = args
        document = to_document(body.encode("utf-8", "surrogatepass"), parse_iso_as_utc(received_at), options)
        return document_id(body), document
    if func_name == RECORD_FUNCTION and len(args) == 3 and args[2] in STREAM_RULES:
        record, polled_at, stream = args
        raw = record.encode("utf-8", "surrogatepass")
        return document_id(record), to_report_document(stream, raw, parse_iso_as_utc(polled_at), options)
    return None
