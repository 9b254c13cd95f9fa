"""Why Elasticsearch refused a document or a request, as operators read it.

A refused document's reason comes in two forms: whole, for the failed registry (what
`zoom-ingest failed show` prints: the operator fixing a mapping needs the offending value), and
with the values masked, for logs and metrics, which never hold payload values.

Elasticsearch quotes the document's values in its reasons. Measured on 8.14.1 (a
document_parsing_exception, then its cause in parentheses, as the failed registry keeps them):
    failed to parse field [f] of type [long] in document with id 'x'. Preview of field's value: 'abc'
    (For input string: "abc")
    ... Preview of field's value: 'May 5' (failed to parse date field [May 5] with format [...])
    ... Preview of field's value: '"abc"' ('"abc"' is not an IP string literal.)
    ... Preview of field's value: '{bytes=abc}' (Cannot parse object as number)
    ... Preview of field's value: '987654321098765432109' (Value [987654321098765432109] is out of
    range for a long)
Field names and types are in brackets too, so only the brackets that follow a phrase naming a
value are masked; every quoted string is, but the document id (derived from the event's content
by hashing: not a value).
"""

from __future__ import annotations

import re
from typing import Any

from elasticsearch import ApiError, TransportError

from shared.logs import redact

MASK = "***"
# The preview is the reason's last part and may itself hold quotes: up to the last one.
_PREVIEW = re.compile(r"(Preview of field's value: )'.*'", re.DOTALL)
_VALUE_IN_BRACKETS = re.compile(r"(?i)((?:date field|value|values|term|string|text) )\[[^\]]*\]")
# Quoted strings, but for text kept as is: the document id (derived from the event by hashing) and
# the apostrophe of "field's".
_QUOTED = re.compile(r"(with id '[^']*'|Preview of field's value: )|'[^']*'|\"[^\"]*\"")


def mask_values(text: str) -> str:
    """The text with every value Elasticsearch quotes from a document replaced by ***."""
    text = _PREVIEW.sub(rf"\1'{MASK}'", text)
    text = _VALUE_IN_BRACKETS.sub(rf"\1[{MASK}]", text)
    return _QUOTED.sub(lambda match: match.group(1) or _masked_quote(match.group(0)), text)


def _masked_quote(quoted: str) -> str:
    return f"{quoted[0]}{MASK}{quoted[0]}"


def item_reason(status: int, error: dict[str, Any]) -> tuple[str, str]:
    """(whole, masked) reason of a bulk item refused with `status` and `error`:
    "HTTP 400 document_parsing_exception: <reason> (<cause's reason>)"."""
    kind = error.get("type", "error")
    reason = str(error.get("reason", ""))
    cause = error.get("caused_by")
    cause_reason = str(cause.get("reason") or "") if isinstance(cause, dict) else ""
    whole = f"HTTP {status} {kind}: {reason}" + (f" ({cause_reason})" if cause_reason else "")
    masked = f"HTTP {status} {kind}: {mask_values(reason)}" + (
        f" ({mask_values(cause_reason)})" if cause_reason else ""
    )
    return whole, masked


def describe(error: BaseException | None) -> str:
    """One line saying what went wrong, without credentials."""
    if isinstance(error, ApiError):
        cause = error.body.get("error", {}) if isinstance(error.body, dict) else {}
        reason = cause.get("reason") if isinstance(cause, dict) else None
        detail = f": {mask_values(str(reason))[:300]}" if reason else ""
        return f"HTTP {error.meta.status} {error.error}{detail}"
    if error is None:
        return "unknown"
    # A transport error's str() can be as bare as "TLS error"; its message says what failed.
    text = str(error.message) if isinstance(error, TransportError) else str(error)
    # Node URLs may carry credentials (https://user:password@host).
    message = redact(text)[:300]
    return f"{type(error).__name__}: {message}"


def error_type(error: BaseException) -> str:
    """ECS error.type of a failed request: Elasticsearch's error type, else the exception's class."""
    return str(error.error) if isinstance(error, ApiError) else type(error).__name__
