"""chat_message.* -> ECS (reference section 5): the message, and its contact into related.user."""

from __future__ import annotations

from worker.transform.fields import Document, append, get, rename
from worker.transform.options import TransformOptions
from worker.transform.steps import set_chat_timestamp, set_event_types

EVENT_TYPES = {
    "chat_message.sent": ("info", "creation"),
    "chat_message.updated": ("info", "change"),
    "chat_message.deleted": ("info", "deletion"),
}
DEFAULT_EVENT_TYPES = ("info",)


def transform(document: Document, action: str, options: TransformOptions) -> None:
    set_event_types(document, action, EVENT_TYPES, DEFAULT_EVENT_TYPES)
    rename(document, "zoom.object", "zoom.chat_message")
    append(document, "related.user", get(document, "zoom.chat_message.contact_id"), allow_duplicates=True)
    set_chat_timestamp(document, "zoom.chat_message")
