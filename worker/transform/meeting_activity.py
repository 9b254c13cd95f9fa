"""meeting_activity (Zoom's meeting audit trail) -> ECS, rules M1-M7 of the reference (SPEC section 4)."""

from __future__ import annotations

from datetime import UTC, datetime

from worker.transform.fields import Document, append, get, pop, put, put_present
from worker.transform.options import TransformOptions
from worker.transform.steps import take_time
from worker.transform.times import format_timestamp, from_iso8601

# Zoom writes `2024-03-21 07:09:03:216`: a colon before the milliseconds, no offset (taken as UTC).
ZOOM_TIME_FORMAT = "%Y-%m-%d %H:%M:%S:%f"


def transform(document: Document, options: TransformOptions) -> None:
    take_time(document, "zoom.meeting_activity.activity_time", parse_activity_time, "a known time format")
    put(document, "event.kind", "event")
    category = get(document, "zoom.meeting_activity.activity_category")
    if category not in (None, ""):
        put(document, "event.action", category)
    put(document, "event.type", ["info"])
    put_present(document, "user.email", pop(document, "zoom.meeting_activity.operator_email"))
    put_present(document, "user.name", pop(document, "zoom.meeting_activity.operator"))
    for path in ("user.email", "user.name"):
        value = get(document, path)
        if value != "":
            append(document, "related.user", value, allow_duplicates=False)


def parse_activity_time(value: object) -> str | None:
    """`yyyy-MM-dd HH:mm:ss:SSS` (UTC), else ISO-8601, as @timestamp text; None if neither."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value.strip(), ZOOM_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return from_iso8601(value)
    return format_timestamp(moment)
