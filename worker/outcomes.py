"""A batch of claimed events and what became of each: indexed (or already there), refused for good
(failed, with one log line each), or left for Elasticsearch to take later (back on the queue)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from worker import metrics
from worker.job_state import QueuedEvent
from worker.sink import IndexingError, IndexOutcome

log = logging.getLogger("zoom_ingest.worker")


@dataclass
class Batch:
    claimed: int
    claimed_at: datetime
    events: list[QueuedEvent]
    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # positions in `events` refused before indexing
    refused: dict[int, IndexingError] = field(default_factory=dict)
    indexing: Future[list[IndexOutcome]] | None = None

    def outcomes(self) -> list[IndexOutcome]:
        """One per event, in order; waits for the bulk request."""
        indexed: Iterator[IndexOutcome] = iter(self.indexing.result() if self.indexing else [])
        return [
            self.refused[position] if position in self.refused else next(indexed)
            for position in range(len(self.events))
        ]


def log_failure(job_id: str, event_type: str | None, error: IndexingError) -> None:
    """One line per event that went to the failed registry: its type and Elasticsearch's reason
    with the document's values masked (the registry keeps them: `zoom-ingest failed show`)."""
    metrics.FAILED.labels(error.kind).inc()
    fields = {
        "event.id": job_id,
        "event.outcome": "failure",
        "error.type": error.error_type,
        "error.message": error.masked,
    }
    if event_type:
        fields["event.action"] = event_type
    log.warning("event %s (%s) failed: %s", job_id, event_type or "unknown event", error.masked, extra=fields)
