"""recording.* -> ECS (reference section 8): the recording, its host and registrant."""

from __future__ import annotations

from worker.transform.fields import Document, append, get, put_present, rename
from worker.transform.options import TransformOptions
from worker.transform.steps import TimeRule, actions, apply_time_rules, full_name, set_event_types

EVENT_TYPES = {
    "recording.registration_created": ("info", "creation"),
    "recording.registration_approved": ("info", "allowed"),
    "recording.registration_denied": ("info", "denied"),
    "recording.deleted": ("info", "deletion"),
    "recording.trashed": ("info", "deletion"),
    "recording.paused": ("info", "change"),
    "recording.resumed": ("info", "change"),
    "recording.renamed": ("info", "change"),
    "recording.recovered": ("info", "change"),
    "recording.started": ("info", "start"),
    "recording.stopped": ("info", "end"),
    "recording.completed": ("info", "end"),
    "recording.transcript_completed": ("info", "end"),
}
DEFAULT_EVENT_TYPES = ("info",)

TIMES = (
    TimeRule("zoom.time_stamp", "@timestamp", "epoch_ms", actions("recording.renamed"), remove_source=True),
    TimeRule(
        "zoom.recording.recording_file.recording_start", "@timestamp", "iso8601", actions("recording.started")
    ),
)

# Copied as Zoom wrote them (the reference copies the strings, it does not parse them).
COPIED_TIMES = (
    ("recording.started", "zoom.recording.recording_file.recording_start", "event.start"),
    ("recording.stopped", "zoom.recording.recording_file.recording_end", "event.end"),
)
# The reference's event.duration needs event.start and event.end on recording.stopped, which never
# has event.start: it is never set, so zoom-ingest does not compute it either.


def transform(document: Document, action: str, options: TransformOptions) -> None:
    set_event_types(document, action, EVENT_TYPES, DEFAULT_EVENT_TYPES)
    rename(document, "zoom.object", "zoom.recording")
    rename(document, "zoom.recording.share_url", "url.full")
    apply_time_rules(document, action, TIMES)
    for copied_action, source, target in COPIED_TIMES:
        if action == copied_action:
            put_present(document, target, get(document, source))

    append(document, "related.user", get(document, "zoom.recording.host_id"), allow_duplicates=True)
    append(document, "related.user", get(document, "zoom.registrant.id"), allow_duplicates=True)
    registrant = get(document, "zoom.registrant")
    if registrant is None:
        put_present(document, "user.id", get(document, "zoom.recording.host_id"))
    elif get(document, "user.id") is None:
        put_present(document, "user.email", get(document, "zoom.registrant.email"))
        put_present(document, "user.full_name", full_name(registrant))
        put_present(document, "user.id", get(document, "zoom.registrant.id"))
