"""Logging for every zoom-ingest process: ECS JSON lines for log shippers, or a human format for a
terminal. `auto` picks human when stderr is a terminal, ECS otherwise.

Messages never carry secrets, tokens or payload bodies: call sites log event types, reasons and
addresses only.
"""

from __future__ import annotations

import logging
import sys

import ecs_logging

HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: str = "INFO", style: str = "auto") -> None:
    """Route all logging (ours, uvicorn's, rq's, the Elasticsearch client's) to stderr in one format."""
    if style == "auto":
        style = "human" if sys.stderr.isatty() else "ecs"
    handler = logging.StreamHandler(sys.stderr)
    if style == "ecs":
        handler.setFormatter(ecs_logging.StdlibFormatter(exclude_fields=["process", "log.original"]))
    else:
        handler.setFormatter(logging.Formatter(HUMAN_FORMAT))
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
