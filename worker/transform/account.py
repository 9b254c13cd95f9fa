"""account.* -> ECS (reference section 3): sub-account, its owner (user.target) and changes."""

from __future__ import annotations

from worker.transform.fields import Document, append, get, put, put_present, rename
from worker.transform.options import TransformOptions
from worker.transform.steps import TimeRule, apply_time_rules, set_event_categories, set_event_types

EVENT_TYPES = {
    "account.created": ("user", "creation"),
    "account.updated": ("user", "change"),
    "account.settings_updated": ("user", "change"),
    "account.disassociated": ("user", "change"),
}
DEFAULT_EVENT_TYPES = ("user",)

TIMES = (TimeRule("zoom.time_stamp", "@timestamp", "epoch_ms", remove_source=True),)

# zoom.account / zoom.old_values field -> user.target / user.changes field
ACCOUNT_TO_USER = (
    ("id", "id"),
    ("account_email", "email"),
    ("account_name", "full_name"),
    ("account_alias", "name"),
)


def transform(document: Document, action: str, options: TransformOptions) -> None:
    categories = ["iam", "configuration"] if action == "account.settings_updated" else ["iam"]
    set_event_categories(document, categories)
    set_event_types(document, action, EVENT_TYPES, DEFAULT_EVENT_TYPES)
    rename(document, "zoom.account_id", "zoom.master_account_id")
    rename(document, "zoom.object.id", "zoom.sub_account_id")
    rename(document, "zoom.object", "zoom.account")
    apply_time_rules(document, action, TIMES)

    put_present(document, "user.target.id", get(document, "zoom.account.owner_id"))
    put_present(document, "user.target.email", get(document, "zoom.account.owner_email"))
    for account_field, user_field in ACCOUNT_TO_USER:
        put_present(document, f"user.target.{user_field}", get(document, f"zoom.old_values.{account_field}"))
    # zoom.account.id never exists here (object.id became zoom.sub_account_id above), so, as in the
    # reference, user.changes.id is never set.
    for account_field, user_field in ACCOUNT_TO_USER:
        new = get(document, f"zoom.account.{account_field}")
        if new is not None and new != get(document, f"zoom.old_values.{account_field}"):
            put(document, f"user.changes.{user_field}", new)

    for path in ("zoom.account.owner_id", "user.target.id", "user.changes.id"):
        append(document, "related.user", get(document, path), allow_duplicates=False)
