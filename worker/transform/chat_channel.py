"""chat_channel.* -> ECS (reference section 4): the channel, and its members into related.user."""

from __future__ import annotations

from worker.transform.fields import Document, append, pop, rename
from worker.transform.options import TransformOptions
from worker.transform.steps import set_chat_timestamp, set_event_types

EVENT_TYPES = {
    "chat_channel.created": ("creation",),
    "chat_channel.deleted": ("deletion",),
    "chat_channel.updated": ("change",),
    "chat_channel.member_invited": ("user",),
    "chat_channel.member_joined": ("user",),
    "chat_channel.member_left": ("user",),
}


def transform(document: Document, action: str, options: TransformOptions) -> None:
    set_event_types(document, action, EVENT_TYPES)
    rename(document, "zoom.object", "zoom.chat_channel")
    set_chat_timestamp(document, "zoom.chat_channel")
    members = pop(document, "zoom.chat_channel.members")
    if members is None:
        return
    if not isinstance(members, list) or not all(isinstance(member, dict) for member in members):
        raise TypeError("zoom.chat_channel.members must be a list of objects")
    for member in members:
        append(document, "related.user", member.get("display_name"), allow_duplicates=False)
        append(document, "related.user", member.get("id"), allow_duplicates=False)
