"""meeting.* -> ECS (reference section 6): the meeting object, its participant and registrant."""

from __future__ import annotations

from worker.transform.fields import Document, append, get, pop, put, put_present, rename
from worker.transform.geoip import set_source_ip
from worker.transform.options import TransformOptions
from worker.transform.steps import TimeRule, actions, apply_time_rules, set_event_types

EVENT_TYPES = {
    "meeting.alert": ("error",),
    "meeting.registration_approved": ("info", "allowed"),
    "meeting.created": ("info", "creation"),
    "meeting.registration_created": ("info", "creation"),
    "meeting.deleted": ("info", "deletion"),
    "meeting.updated": ("info", "change"),
    "meeting.started": ("info", "start"),
    "meeting.sharing_started": ("info", "start"),
    "meeting.ended": ("info", "end"),
    "meeting.sharing_ended": ("info", "end"),
}
DEFAULT_EVENT_TYPES = ("info",)

WAITING_ROOM = actions(
    "meeting.participant_put_in_waiting_room",
    "meeting.participant_joined_waiting_room",
    "meeting.participant_left_waiting_room",
)

# All read as ISO-8601. meeting.updated's time_stamp is usually epoch ms, which the reference also
# reads as ISO and so never parses; zoom-ingest, too, parses it only when it is an ISO string.
TIMES = (
    TimeRule(
        "zoom.meeting.start_time", "event.start", "iso8601", actions("meeting.started"), remove_source=True
    ),
    TimeRule(
        "zoom.participant.sharing_details.date_time",
        "@timestamp",
        "iso8601",
        actions("meeting.sharing_started"),
        remove_source=True,
    ),
    TimeRule("zoom.participant.date_time", "@timestamp", "iso8601", WAITING_ROOM, remove_source=True),
    TimeRule(
        "zoom.participant.join_time",
        "@timestamp",
        "iso8601",
        actions("meeting.participant_joined"),
        remove_source=True,
    ),
    TimeRule(
        "zoom.participant.leave_time",
        "@timestamp",
        "iso8601",
        actions("meeting.participant_left"),
        remove_source=True,
    ),
    TimeRule("zoom.time_stamp", "@timestamp", "iso8601", actions("meeting.updated"), remove_source=True),
)

RELATED_USERS = (
    "zoom.participant.id",
    "zoom.participant.user_id",
    "zoom.participant.participant_uuid",
    "zoom.meeting.host_id",
)

NANOSECONDS_PER_MINUTE = 60 * 1_000_000_000


def transform(document: Document, action: str, options: TransformOptions) -> None:
    set_event_types(document, action, EVENT_TYPES, DEFAULT_EVENT_TYPES)
    rename(document, "zoom.object", "zoom.meeting")
    if not rename(document, "zoom.meeting.join_url", "url.full"):
        rename(document, "zoom.registrant.join_url", "url.full")

    participant = get(document, "zoom.participant")
    if participant is not None:
        document.pop("user", None)  # the participant, not the operator, is the user
        put_present(document, "user.id", get(document, "zoom.participant.id"))
        put_present(document, "user.full_name", get(document, "zoom.participant.user_name"))
        put_present(document, "user.email", get(document, "zoom.participant.email"))
    if get(document, "user.id") is None:
        put_present(document, "user.id", get(document, "zoom.meeting.host_id"))
    for path in RELATED_USERS:
        append(document, "related.user", get(document, path), allow_duplicates=False)

    set_source_ip(document, options)
    set_duration(document)
    apply_time_rules(document, action, TIMES)


def set_duration(document: Document) -> None:
    """zoom.meeting.duration (minutes) -> event.duration (nanoseconds); the source is removed."""
    minutes = get(document, "zoom.meeting.duration")
    if isinstance(minutes, str) and minutes.strip().isdigit():
        minutes = int(minutes)
    if isinstance(minutes, int | float) and not isinstance(minutes, bool):
        put(document, "event.duration", int(minutes * NANOSECONDS_PER_MINUTE))
        pop(document, "zoom.meeting.duration")
