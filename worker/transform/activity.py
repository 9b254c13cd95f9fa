"""activity (Zoom's sign-in/sign-out report) -> ECS, rules A1-A10 of the reference (SPEC section 2)."""

from __future__ import annotations

from worker.transform.fields import Document, append, get, pop, put, put_present, rename
from worker.transform.geoip import add_source_ip, is_ip
from worker.transform.options import TransformOptions
from worker.transform.parsing import add_error
from worker.transform.steps import take_time
from worker.transform.times import from_iso8601

# type -> (event.action, event.type); other types get no action, category, type or outcome.
SESSION_TYPES = {"Sign in": ("sign-in", "start"), "Sign out": ("sign-out", "end")}


def transform(document: Document, options: TransformOptions) -> None:
    take_time(document, "zoom.activity.time", from_iso8601, "an ISO-8601 time")
    rename(document, "zoom.activity.version", "zoom.activity.client_version")
    put(document, "event.kind", "event")

    kind = get(document, "zoom.activity.type")
    if isinstance(kind, str) and kind in SESSION_TYPES:
        action, event_type = SESSION_TYPES[kind]
        put(document, "event.action", action)
        put(document, "event.category", ["authentication", "session"])
        put(document, "event.type", [event_type])
        put(document, "event.outcome", "success")

    email = pop(document, "zoom.activity.email")
    put_present(document, "user.email", email)
    if email not in (None, ""):
        put(document, "user.name", email)

    address = pop(document, "zoom.activity.ip_address")
    if address not in (None, ""):
        if isinstance(address, str) and is_ip(address):
            add_source_ip(document, address, options)
        else:
            add_error(document, f"Failed to convert zoom.activity.ip_address to IP: {address!r} is not an IP")
    append(document, "related.user", get(document, "user.email"), allow_duplicates=False)
