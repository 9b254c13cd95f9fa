"""user.* -> ECS (reference section 9): the actor (user.*), the user acted on (user.target.*)
and what changed (user.changes.*)."""

from __future__ import annotations

from worker.transform.fields import Document, append, get, has, pop, put, put_present, rename
from worker.transform.options import TransformOptions
from worker.transform.steps import (
    TimeRule,
    actions,
    apply_time_rules,
    full_name,
    set_event_categories,
    set_event_types,
)

EVENT_TYPES = {
    "user.created": ("creation",),
    "user.deleted": ("deletion",),
    "user.updated": ("change",),
    "user.settings_updated": ("change",),
    "user.deactivated": ("change",),
    "user.activated": ("change",),
    "user.disassociated": ("change",),
    "user.presence_status_updated": ("change",),
    "user.personal_notes_updated": ("change",),
    "user.signed_in": ("start",),
    "user.signed_out": ("end",),
}

AUTHENTICATION = actions("user.signed_in", "user.signed_out")

TIMES = (
    TimeRule("zoom.time_stamp", "@timestamp", "epoch_ms", actions("user.updated", "user.settings_updated")),
    TimeRule(
        "zoom.user.date_time",
        "@timestamp",
        "iso8601",
        actions(
            "user.signed_in", "user.signed_out", "user.personal_notes_updated", "user.presence_status_updated"
        ),
    ),
)


def transform(document: Document, action: str, options: TransformOptions) -> None:
    set_event_categories(document, categories(action))
    set_event_types(document, action, EVENT_TYPES)
    rename(document, "zoom.object", "zoom.user")
    apply_time_rules(document, action, TIMES)
    pop(document, "zoom.time_stamp")
    pop(document, "zoom.user.date_time")
    append(document, "related.user", get(document, "zoom.user.id"), allow_duplicates=True)

    set_actor(document)
    set_target(document)
    set_changes(document)

    append(document, "related.user", get(document, "zoom.user.id"), allow_duplicates=False)
    append(document, "related.user", get(document, "zoom.old_values.id"), allow_duplicates=False)


def categories(action: str) -> list[str]:
    found = ["configuration"] if action == "user.settings_updated" else []
    found.append("authentication" if action in AUTHENTICATION else "iam")
    return found


def set_actor(document: Document) -> None:
    """user.*: the operator when there is one, else the user the event is about."""
    operator = get(document, "zoom.operator")
    if operator is None and not has(document, "zoom.operator_id"):
        put_present(document, "user.id", get(document, "zoom.user.id"))
        put_present(document, "user.email", get(document, "zoom.user.email"))
        put_present(document, "user.full_name", full_name(get(document, "zoom.user")))
    elif isinstance(operator, str) and "@" in operator:
        put(document, "user.email", operator)
    elif not has(document, "user.email"):
        put_present(document, "user.email", get(document, "zoom.user.email"))


def set_target(document: Document) -> None:
    """user.target.*: the old values first, then (with old values or an operator) the user's own."""
    old = get(document, "zoom.old_values")
    put_present(document, "user.target.id", get(document, "zoom.old_values.id"))
    put_present(document, "user.target.email", get(document, "zoom.old_values.email"))
    put_present(document, "user.target.full_name", full_name(old))
    if old is None and not (has(document, "zoom.operator") or has(document, "zoom.operator_id")):
        return
    current = {
        "id": get(document, "zoom.user.id"),
        "email": get(document, "zoom.user.email"),
        "full_name": full_name(get(document, "zoom.user")),
    }
    for field, value in current.items():
        if not has(document, f"user.target.{field}"):
            put_present(document, f"user.target.{field}", value)


def set_changes(document: Document) -> None:
    """user.changes.*: a new id, email or name, when the old value is known and differs."""
    old = get(document, "zoom.old_values")
    new = get(document, "zoom.user")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    for field in ("id", "email"):
        if old.get(field) is not None and new.get(field) is not None and old[field] != new[field]:
            put(document, f"user.changes.{field}", new[field])
    renamed = any(
        old.get(part) is not None and old.get(part) != new.get(part) for part in ("first_name", "last_name")
    )
    if renamed:
        put_present(document, "user.changes.full_name", full_name(new))
