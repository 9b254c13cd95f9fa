"""zoomroom.* -> ECS (reference section 11): the room object, and start/end for check-in/out."""

from __future__ import annotations

from worker.transform.fields import Document, rename
from worker.transform.options import TransformOptions
from worker.transform.steps import set_event_types

EVENT_TYPES = {
    "zoomroom.checked_in": ("info", "start"),
    "zoomroom.checked_out": ("info", "end"),
}


def transform(document: Document, action: str, options: TransformOptions) -> None:
    set_event_types(document, action, EVENT_TYPES)
    rename(document, "zoom.object", "zoom.zoomroom")
