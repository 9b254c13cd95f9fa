"""The reference's default pipeline (section 1 of its mapping), run for every webhook body.

Steps 1-9 shape every document; step 10 hands it to the family module whose prefix starts
event.action (FAMILIES below); step 11: any other family (team_chat.*, group.*, session.*, ...)
is indexed as steps 1-9 left it, its payload object still at zoom.object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker.transform import (
    account,
    chat_channel,
    chat_message,
    meeting,
    phone,
    recording,
    user,
    webinar,
    zoomroom,
)
from worker.transform.fields import Document, append, get, pop, prune_empty, put, put_present, rename
from worker.transform.options import TransformOptions

ECS_VERSION = "8.11.0"

Family = Callable[[Document, str, TransformOptions], None]

# event.action prefix -> family transform (a prefix test: "meeting.participant_jbh_waiting" is meeting)
FAMILIES: dict[str, Family] = {
    "meeting": meeting.transform,
    "account": account.transform,
    "chat_message": chat_message.transform,
    "chat_channel": chat_channel.transform,
    "phone": phone.transform,
    "recording": recording.transform,
    "user": user.transform,
    "webinar": webinar.transform,
    "zoomroom": zoomroom.transform,
}

GENERIC_RENAMES = (
    ("zoom.old_object", "zoom.old_values"),
    ("zoom.object.participant", "zoom.participant"),
    ("zoom.object.settings", "zoom.settings"),
    ("zoom.object.registrant", "zoom.registrant"),
)

# Large arrays the reference drops before indexing.
HEAVY_FIELDS = (
    "message",
    "zoom.object.occurrences",
    "zoom.old_values.occurrences",
    "zoom.object.recurrence",
    "zoom.old_values.recurrence",
    "zoom.object.managed_domains",
    "zoom.old_values.managed_domains",
    "zoom.registrant.custom_questions",
    "zoom.old_values.registrant.custom_questions",
    "zoom.object.call_logs",
    "zoom.old_values.call_logs",
    "zoom.object.recording_files",
    "zoom.old_values.recording_files",
)


class TransformError(Exception):
    """A step failed; `document` is the document as far as the pipeline got (as the reference
    indexes it on failure)."""

    def __init__(self, message: str, document: Document) -> None:
        super().__init__(message)
        self.document = document


def run(body: Any, options: TransformOptions) -> Document:
    """The document for a parsed webhook body (a JSON object).

    Raises TransformError, carrying the partial document, when a step fails.
    """
    document = new_document()
    document["zoom"] = body
    try:
        _run(document, options)
    except TransformError:
        raise
    except Exception as error:
        if isinstance(error, RecursionError):
            document.pop("zoom", None)  # too deep to walk, so too deep to index: event.original keeps it
        raise TransformError(_exception_line(error), document) from error
    return document


def new_document() -> Document:
    """Steps 1 and 2: observer and ecs.version, which every document carries."""
    return {"observer": {"vendor": "Zoom", "product": "Webhook"}, "ecs": {"version": ECS_VERSION}}


def _run(document: Document, options: TransformOptions) -> None:
    # step 3: before anything else looks at the body
    prune_empty(document)
    # steps 4 and 5
    append(document, "event.kind", "event", allow_duplicates=True)
    put_present(document, "event.action", pop(document, "zoom.event"))

    # step 6: the payload replaces the body; the rest of the body (event_ts, ...) is dropped
    payload = pop(document, "zoom.payload")
    if payload is None:
        raise TransformError("body has no payload", document)
    if not isinstance(payload, dict):
        raise TransformError(f"body's payload is a {type(payload).__name__}, not an object", document)
    document["zoom"] = payload

    # steps 7 to 9
    for source, target in GENERIC_RENAMES:
        rename(document, source, target)
    operator_id = get(document, "zoom.operator_id")
    if operator_id is not None:
        append(document, "related.user", operator_id, allow_duplicates=True)
        put(document, "user.id", operator_id)
        put_present(document, "user.email", get(document, "zoom.operator"))
    for path in HEAVY_FIELDS:
        pop(document, path)

    # steps 10 and 11: the family, if the reference maps it
    action = get(document, "event.action")
    family = family_of(action)
    if family is not None:
        name, transform = family
        try:
            transform(document, action, options)
        except Exception as error:
            raise TransformError(f"{name} transform failed: {_exception_line(error)}", document) from error


def family_of(action: Any) -> tuple[str, Family] | None:
    """The family whose prefix starts `action`, or None for families the reference does not map."""
    if not isinstance(action, str):
        return None
    for prefix, transform in FAMILIES.items():
        if action.startswith(prefix):
            return prefix, transform
    return None


def _exception_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
