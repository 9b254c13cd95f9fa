"""Index templates of the report streams: `logs-zoom.activity-*`, `logs-zoom.operation-*` and
`logs-zoom.meeting_activity-*`, data streams typed from the reference's field definitions.

Each is built and installed like the webhook one (worker/template.py): same priority, same ownership
(`_meta.managed_by`, a `logs-zoom.<stream>@custom` component template that is yours), same rule that
strings Zoom adds later under `zoom.*` become keyword; only the pattern and the fields differ.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from worker.template import CONSTANT_FIELDS, TEXT_MULTI_FIELDS, index_template, substitute

STREAMS = ("activity", "operation", "meeting_activity")

# The ECS fields the three pipelines write (keyword unless typed here).
COMMON_FIELDS: dict[str, str] = {
    "@timestamp": "date",
    "tags": "keyword",
    "ecs.version": "keyword",
    "event.action": "keyword",
    "event.category": "keyword",
    "event.kind": "keyword",
    "event.outcome": "keyword",
    "event.type": "keyword",
    "event.ingested": "date",
    "event.original": "keyword",
    "error.message": "text",
    "user.email": "keyword",
    "user.name": "keyword",
    "related.user": "keyword",
}

STREAM_FIELDS: dict[str, dict[str, str]] = {
    "activity": {
        "zoom.activity.client_type": "keyword",
        "zoom.activity.client_version": "keyword",
        "zoom.activity.type": "keyword",
        "related.ip": "ip",
        "source.ip": "ip",
        "source.geo.city_name": "keyword",
        "source.geo.continent_name": "keyword",
        "source.geo.country_iso_code": "keyword",
        "source.geo.country_name": "keyword",
        "source.geo.region_iso_code": "keyword",
        "source.geo.region_name": "keyword",
        "source.geo.location": "geo_point",
        "source.as.number": "long",
        "source.as.organization.name": "keyword",
    },
    "operation": {
        "zoom.operation.action": "keyword",
        "zoom.operation.category_type": "keyword",
        "zoom.operation.operation_detail": "match_only_text",
    },
    "meeting_activity": {
        "zoom.meeting_activity.activity_category": "keyword",
        "zoom.meeting_activity.activity_detail": "keyword",
        "zoom.meeting_activity.meeting_number": "keyword",
    },
}


def report_dataset(stream: str) -> str:
    return f"zoom.{stream}"


def field_types(stream: str, missing: Collection[str] = ()) -> dict[str, str]:
    """{dotted field: type} of the stream's data stream, without the mapper types in `missing`."""
    types = COMMON_FIELDS | STREAM_FIELDS[stream] | dict.fromkeys(CONSTANT_FIELDS, "constant_keyword")
    types |= {f"{path}.text": "match_only_text" for path in TEXT_MULTI_FIELDS if path in types}
    return {path: substitute(kind, missing) for path, kind in types.items()}


def report_template(stream: str) -> dict[str, Any]:
    """The body of PUT _index_template/<template_name(report_dataset(stream))>."""
    return index_template(
        report_dataset(stream), field_types(stream), f"Zoom {stream} report records as ECS documents"
    )
