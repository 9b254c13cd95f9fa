"""operation (Zoom's admin operation log) -> ECS, rules O1-O8 of the reference (SPEC section 3).

One difference: creation and deletion are recognised by whole words of the action ("Add",
"Deleted", ...), where the reference finds "add" inside any word (docs/ecs-mapping.md).
"""

from __future__ import annotations

import re

from worker.transform.fields import Document, append, get, pop, put
from worker.transform.options import TransformOptions
from worker.transform.steps import take_time
from worker.transform.times import from_iso8601

CREATION = re.compile(r"\b(add|added|adds|create|created|creates)\b", re.IGNORECASE)
DELETION = re.compile(r"\b(delete|deleted|deletes|remove|removed|removes)\b", re.IGNORECASE)
# category_type values about identities and access: "User", "User Settings", "Role", ...
IAM = re.compile(r"user|role", re.IGNORECASE)


def transform(document: Document, options: TransformOptions) -> None:
    take_time(document, "zoom.operation.time", from_iso8601, "an ISO-8601 time")
    put(document, "event.kind", "event")

    action = get(document, "zoom.operation.action")
    if action not in (None, ""):
        put(document, "event.action", action)
    category_type = get(document, "zoom.operation.category_type")
    categories = ["configuration"]
    if isinstance(category_type, str) and IAM.search(category_type):
        categories.append("iam")
    put(document, "event.category", categories)
    put(document, "event.type", event_types(action))

    operator = pop(document, "zoom.operation.operator")
    if operator not in (None, ""):
        put(document, "user.name", operator)
        if isinstance(operator, str) and "@" in operator:
            put(document, "user.email", operator)
        append(document, "related.user", operator, allow_duplicates=False)


def event_types(action: object) -> list[str]:
    """[change] plus creation and/or deletion from the action's words, else plus info (as the
    reference orders them)."""
    text = action if isinstance(action, str) else ""
    types = ["change"]
    if CREATION.search(text):
        types.append("creation")
    if DELETION.search(text):
        types.append("deletion")
    if len(types) == 1:
        types.append("info")
    return types
