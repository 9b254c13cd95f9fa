"""Logging for every zoom-ingest process: ECS JSON lines for log shippers, or a human format for a
terminal. `auto` picks human when stderr is a terminal, ECS otherwise.

Messages never carry secrets, tokens or payload bodies: call sites log event types, reasons and
addresses only, and text that may quote a URL or a secret (a library's error message, an address
from the settings) goes through `redact` first.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import ecs_logging

# user:password@ in a URL (the password may hold an unescaped '@': up to the last one before the path)
_URL_PASSWORD = re.compile(r"://([^/@\s:]*):[^/\s]*@")
# password=... in a URL's query (redis-py reads one from there)
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#\s]*")

# ECS `service.name` of every line; `service.node.role` says which process wrote it.
SERVICE_NAME = "zoom-ingest"
# Fields ECS lines leave out: the process record and the unformatted message add nothing, and
# uvicorn's `color_message` is its message again with terminal escapes in it.
EXCLUDED_FIELDS = ["process", "log.original", "color_message"]


def configure(level: str = "INFO", style: str = "auto", role: str = "cli") -> None:
    """Route all logging (ours, uvicorn's, rq's, the Elasticsearch client's) to stderr in one format,
    each line naming the service and the process `role` (receiver, worker, poll, ...)."""
    if style == "auto":
        style = "human" if sys.stderr.isatty() else "ecs"
    handler = logging.StreamHandler(sys.stderr)
    if style == "ecs":
        service = {"service.name": SERVICE_NAME, "service.node.role": role}
        handler.setFormatter(ecs_logging.StdlibFormatter(extra=service, exclude_fields=EXCLUDED_FIELDS))
    else:
        # Several processes may share a terminal (`zoom-ingest local`): say which one speaks.
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {role} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that install their own handlers would print twice, in another format.
    for name in ("uvicorn", "uvicorn.error", "rq.worker"):
        library = logging.getLogger(name)
        library.handlers[:] = []
        library.propagate = True
    # A line per accepted webhook is noise at Zoom's volumes; refusals get a line of our own.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    # One line per Elasticsearch request is noise at INFO.
    logging.getLogger("elastic_transport.transport").setLevel(max(root.level, logging.WARNING))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with the password of every URL in it, and each of `secrets`, replaced by ***."""
    text = _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"://\1:***@", text))
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def url_passwords(urls: Iterable[str]) -> list[str]:
    """The passwords the URLs carry, as written and decoded (either may show up in an error)."""
    found: list[str] = []
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        found += [password, unquote(password)] if password else []
    return found
