"""webinar.* -> ECS (reference section 10): like meeting, but the user comes from participant,
registrant or operator, nothing is removed, and there is no event.duration or url.full."""

from __future__ import annotations

from worker.transform.fields import Document, append, get, put_present, rename
from worker.transform.geoip import set_source_ip
from worker.transform.options import TransformOptions
from worker.transform.steps import TimeRule, actions, apply_time_rules, full_name, set_event_types

EVENT_TYPES = {
    "webinar.alert": ("error",),
    "webinar.created": ("info", "creation"),
    "webinar.registration_created": ("info", "creation"),
    "webinar.deleted": ("info", "deletion"),
    "webinar.registration_approved": ("info", "allowed", "change"),
    "webinar.registration_denied": ("info", "denied", "change"),
    "webinar.updated": ("info", "change"),
    "webinar.registration_cancelled": ("info", "change"),
    "webinar.started": ("info", "start"),
    "webinar.sharing_started": ("info", "start"),
    "webinar.ended": ("info", "end"),
    "webinar.sharing_ended": ("info", "end"),
}
DEFAULT_EVENT_TYPES = ("info",)

# Nothing is removed after these (the reference keeps join_time, leave_time and time_stamp).
TIMES = (
    TimeRule("zoom.time_stamp", "@timestamp", "epoch_ms", actions("webinar.updated")),
    TimeRule("zoom.webinar.start_time", "@timestamp", "iso8601", actions("webinar.started")),
    TimeRule("zoom.participant.join_time", "@timestamp", "iso8601"),
    TimeRule("zoom.participant.leave_time", "@timestamp", "iso8601"),
)

RELATED_USERS = (
    "zoom.webinar.host_id",
    "zoom.registrant.id",
    "zoom.participant.id",
    "zoom.participant.user_id",
    "zoom.participant.participant_uuid",
)


def transform(document: Document, action: str, options: TransformOptions) -> None:
    set_event_types(document, action, EVENT_TYPES, DEFAULT_EVENT_TYPES)
    rename(document, "zoom.object", "zoom.webinar")
    apply_time_rules(document, action, TIMES)

    participant = get(document, "zoom.participant")
    registrant = get(document, "zoom.registrant")
    if participant is not None:
        put_present(document, "user.id", get(document, "zoom.participant.id"))
        put_present(document, "user.full_name", get(document, "zoom.participant.user_name"))
        put_present(document, "user.email", get(document, "zoom.participant.email"))
    if registrant is not None:
        put_present(document, "user.id", get(document, "zoom.registrant.id"))
        put_present(document, "user.email", get(document, "zoom.registrant.email"))
        put_present(document, "user.full_name", full_name(registrant))
    if participant is None and registrant is None:
        put_present(document, "user.id", get(document, "zoom.operator_id"))
        put_present(document, "user.email", get(document, "zoom.operator"))
    for path in RELATED_USERS:
        append(document, "related.user", get(document, path), allow_duplicates=False)

    set_source_ip(document, options)
