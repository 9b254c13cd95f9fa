"""Building blocks the family modules share: event.type/category tables, time rules, names."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from worker.transform.fields import Document, get, pop, put
from worker.transform.parsing import add_error
from worker.transform.times import from_epoch_ms, from_iso8601

EventTypes = Mapping[str, tuple[str, ...]]


def set_event_types(
    document: Document, action: str, table: EventTypes, default: tuple[str, ...] = ()
) -> None:
    """event.type from the family's table (exact action) or its default; nothing when empty."""
    types = table.get(action, default)
    if types:
        put(document, "event.type", list(types))


def set_event_categories(document: Document, categories: Iterable[str]) -> None:
    values = list(categories)
    if values:
        put(document, "event.category", values)


@dataclass(frozen=True)
class TimeRule:
    """Take a time from `source` into `target` for the given actions (None: every action).

    `format` is how Zoom wrote it: "epoch_ms" (milliseconds since 1970) or "iso8601". The reference
    parses epoch milliseconds but never its ISO strings; zoom-ingest parses both (the documented
    deviation). `remove_source` deletes the source afterwards, parsed or not, as the reference does.
    """

    source: str
    target: str
    format: Literal["epoch_ms", "iso8601"]
    actions: frozenset[str] | None = None
    remove_source: bool = False


def apply_time_rules(document: Document, action: str, rules: Iterable[TimeRule]) -> None:
    """Apply the rules in order (a later rule that parses overwrites an earlier target)."""
    for rule in rules:
        if rule.actions is not None and action not in rule.actions:
            continue
        value = get(document, rule.source)
        if value is None:
            continue
        parsed = from_epoch_ms(value) if rule.format == "epoch_ms" else from_iso8601(value)
        if parsed is not None:
            put(document, rule.target, parsed)
        if rule.remove_source:
            pop(document, rule.source)


def full_name(person: Any) -> str | None:
    """The "first last" name of an object with first_name/last_name; None without a first_name."""
    if not isinstance(person, dict) or person.get("first_name") is None:
        return None
    parts = [person["first_name"], person.get("last_name")]
    return " ".join(str(part) for part in parts if part is not None)


def actions(*names: str) -> frozenset[str]:
    return frozenset(names)


def set_chat_timestamp(document: Document, chat_object: str) -> None:
    """@timestamp for chat_channel/chat_message objects.

    From `<object>.timestamp` (epoch ms) when present, and then `date_time` is removed; otherwise
    from `<object>.date_time` (ISO; the reference fails here), which then stays. `timestamp` is
    always removed.
    """
    timestamp = pop(document, f"{chat_object}.timestamp")
    if timestamp is None:
        parsed = from_iso8601(get(document, f"{chat_object}.date_time"))
    else:
        parsed = from_epoch_ms(timestamp)
        pop(document, f"{chat_object}.date_time")
    if parsed is not None:
        put(document, "@timestamp", parsed)


def take_time(document: Document, path: str, parse: Callable[[Any], str | None], expected: str) -> None:
    """A report record's time into @timestamp, as the reference's polling pipelines do it: the
    source field is removed; one that is present but does not parse adds an error.message (the
    document then becomes a pipeline_error, keeping the record)."""
    value = pop(document, path)
    if value is None or value == "":
        return
    parsed = parse(value)
    if parsed is None:
        add_error(document, f"Failed to parse {path}: {value!r} is not {expected}")
    else:
        put(document, "@timestamp", parsed)
