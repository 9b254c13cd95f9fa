"""The RQ job: one webhook body in, one document in Elasticsearch out.

The receiver enqueues `worker.job.index_event(body, received_at)` by name (see shared/queue.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache

from shared.config import Settings, load_settings
from shared.queue import parse_iso_as_utc
from worker.sink import Sink
from worker.transform import TransformOptions, to_document


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
    document = to_document(
        body.encode("utf-8", "surrogatepass"), parse_iso_as_utc(received_at), current.options
    )
    return current.sink.index(document_id(body), document)
