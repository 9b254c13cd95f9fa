"""phone.* -> ECS (reference section 7): call legs, their caller/callee and call timing."""

from __future__ import annotations

import contextlib

from worker.transform.fields import Document, append, get, has, put, put_present, rename
from worker.transform.options import TransformOptions
from worker.transform.steps import TimeRule, actions, apply_time_rules, set_event_types
from worker.transform.times import nanoseconds_between

EVENT_TYPES = {
    "phone.caller_ringing": ("info", "creation"),
    "phone.callee_ringing": ("info", "creation"),
    "phone.callee_answered": ("info", "start"),
    "phone.caller_connected": ("info", "start"),
    "phone.callee_missed": ("info", "end"),
    "phone.callee_ended": ("info", "end"),
    "phone.caller_ended": ("info", "end"),
}
DEFAULT_EVENT_TYPES = ("info",)

# In this order: for caller_ended, call_end_time (applied last) wins over ringing_start_time.
# Only voicemail's date_time is removed; the other times stay in zoom.phone.
TIMES = (
    TimeRule(
        "zoom.phone.ringing_start_time",
        "@timestamp",
        "iso8601",
        actions("phone.callee_ringing", "phone.caller_ringing", "phone.caller_ended"),
    ),
    TimeRule("zoom.phone.connected_start_time", "@timestamp", "iso8601", actions("phone.caller_connected")),
    TimeRule("zoom.phone.answer_start_time", "@timestamp", "iso8601", actions("phone.callee_answered")),
    TimeRule(
        "zoom.phone.call_end_time",
        "@timestamp",
        "iso8601",
        actions("phone.callee_missed", "phone.callee_ended", "phone.caller_ended", "phone.callee_rejected"),
    ),
    TimeRule(
        "zoom.phone.date_time",
        "@timestamp",
        "iso8601",
        actions("phone.voicemail_received"),
        remove_source=True,
    ),
)

# Voicemail payloads name the parties flat; under zoom.phone they become caller.* / callee.*.
FLATTENED = (
    ("callee_user_id", "callee.user_id"),
    ("callee_extension_type", "callee.extension_type"),
    ("callee_id", "callee.id"),
    ("callee_name", "callee.name"),
    ("callee_number", "callee.phone_number"),
    ("callee_number_type", "callee.number_type"),
    ("caller_id", "caller.id"),
    ("caller_name", "caller.name"),
    ("caller_number", "caller.phone_number"),
    ("caller_number_type", "caller.number_type"),
)

RELATED_USERS = ("zoom.phone.callee.user_id", "zoom.phone.callee_user_id", "zoom.phone.caller.user_id")


def transform(document: Document, action: str, options: TransformOptions) -> None:
    set_event_types(document, action, EVENT_TYPES, DEFAULT_EVENT_TYPES)
    rename(document, "zoom.object", "zoom.phone")
    rename(document, "zoom.phone.download_url", "url.full")
    apply_time_rules(document, action, TIMES)
    convert_duration(document)
    set_call_period(document)
    for flat, nested in FLATTENED:
        rename(document, f"zoom.phone.{flat}", f"zoom.phone.{nested}")
    for path in RELATED_USERS:
        append(document, "related.user", get(document, path), allow_duplicates=False)
    put_present(document, "source.user.id", get(document, "zoom.phone.caller.user_id"))
    put_present(document, "destination.user.id", get(document, "zoom.phone.callee.user_id"))


def convert_duration(document: Document) -> None:
    """zoom.phone.duration to a whole number ("1235" -> 1235); left as is when it is not one."""
    duration = get(document, "zoom.phone.duration")
    if isinstance(duration, str):
        with contextlib.suppress(ValueError):  # as the reference: a failed conversion is ignored
            put(document, "zoom.phone.duration", int(duration.strip()))


def set_call_period(document: Document) -> None:
    """event.start/end (Zoom's strings, copied) and event.duration for a call without phone.duration:
    ringing -> end when it was never answered, answer -> end when no ringing time is given."""
    if has(document, "zoom.phone.duration") or not has(document, "zoom.phone.call_end_time"):
        return
    ringing = has(document, "zoom.phone.ringing_start_time")
    answered = has(document, "zoom.phone.answer_start_time")
    if ringing and not answered:
        start_field = "zoom.phone.ringing_start_time"
    elif answered and not ringing:
        start_field = "zoom.phone.answer_start_time"
    else:
        return
    start, end = get(document, start_field), get(document, "zoom.phone.call_end_time")
    put(document, "event.start", start)
    put(document, "event.end", end)
    put_present(document, "event.duration", nanoseconds_between(start, end))
