"""Dotted-path access to a document, the way Elasticsearch ingest processors address fields.

`get(doc, "zoom.participant.id")` walks nested objects; a missing step (or a step that is not an
object) reads as None. Because the default pipeline prunes every null and "" first, None always
means "absent" in the transforms.
"""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]

_DROP = object()


def get(document: Document, path: str) -> Any:
    """The value at `path`, or None when any step is missing or not an object."""
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
        if node is None:
            return None
    return node


def has(document: Document, path: str) -> bool:
    return get(document, path) is not None


def put(document: Document, path: str, value: Any) -> None:
    """Set `path`, creating missing parent objects.

    Raises TypeError when a parent exists but is not an object, as an ingest processor fails then.
    """
    *parents, leaf = path.split(".")
    node = document
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            raise TypeError(f"cannot set [{path}]: [{key}] is a {type(child).__name__}, not an object")
        node = child
    node[leaf] = value


def put_present(document: Document, path: str, value: Any) -> None:
    """Set `path` only when `value` is present (not None)."""
    if value is not None:
        put(document, path, value)


def pop(document: Document, path: str) -> Any:
    """Remove `path` and return its value (None if it was absent). Parents are left in place."""
    *parents, leaf = path.split(".")
    node = get(document, ".".join(parents)) if parents else document
    if not isinstance(node, dict):
        return None
    return node.pop(leaf, None)


def rename(document: Document, source: str, target: str) -> bool:
    """Move `source` to `target` when the source is present and the target is not (else no-op)."""
    if not has(document, source) or has(document, target):
        return False
    put(document, target, pop(document, source))
    return True


def append(document: Document, path: str, value: Any, *, allow_duplicates: bool) -> None:
    """Append `value` (if present) to the list at `path`, creating it; optionally skip duplicates."""
    if value is None:
        return
    values = get(document, path)
    if values is None:
        put(document, path, [value])
        return
    if not isinstance(values, list):
        values = [values]
        put(document, path, values)
    if allow_duplicates or value not in values:
        values.append(value)


def prune_empty(document: Document) -> None:
    """Drop every null and "" in the whole document, then every object or list left empty.

    0 and false are kept. Works in place on the top-level object.
    """
    pruned = _pruned(document)
    document.clear()
    if pruned is not _DROP:
        document.update(pruned)


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {}
        for key, child in value.items():
            pruned = _pruned(child)
            if pruned is not _DROP:
                kept[key] = pruned
        return kept if kept else _DROP
    if isinstance(value, list):
        items = []
        for item in value:
            pruned = _pruned(item)
            if pruned is not _DROP:
                items.append(pruned)
        return items if items else _DROP
    if value is None or (isinstance(value, str) and value == ""):
        return _DROP
    return value
