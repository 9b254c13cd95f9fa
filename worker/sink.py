"""Elasticsearch: the client, the index template, and writing documents without loss or duplicates.

Every document is written with op_type=create and an `_id` derived from the event, so a redelivered
event finds its twin already there (409) and counts as done. Transient failures (connection errors,
timeouts, 429, 502/503/504) are retried with exponential backoff and jitter for at most
ZOOM_INGEST_ES_RETRY_SECONDS, which is kept below the job timeout; after that the job fails into
RQ's failed registry with the reason and can be requeued.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import ApiError, BadRequestError, Elasticsearch
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import ConnectionTimeout as ESConnectionTimeout
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from shared.config import Settings
from worker import metrics
from worker.serializer import serializers
from worker.template import TEMPLATE_NAME, index_template
from worker.transform.times import format_timestamp

log = logging.getLogger("zoom_ingest.worker")

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


class IndexingError(Exception):
    """Why one document was not written. The message is what operators see in the failed registry."""

    def __init__(self, reason: str, transient: bool = False, kind: str | None = None) -> None:
        super().__init__(reason)
        self.transient = transient
        # For metrics: refused for good, or still unavailable when retries ran out.
        self.kind = kind or ("unavailable" if transient else "rejected")


Outcome = Literal["created", "duplicate"] | IndexingError
Documents = Sequence[tuple[str, dict[str, Any]]]  # (_id, document)


class TransientItems(Exception):
    """Some items of a bulk request were refused for a transient reason: retry them."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ESConnectionError | ESConnectionTimeout | TransientItems):
        return True
    return isinstance(error, ApiError) and error.meta.status in TRANSIENT_STATUSES


def build_client(settings: Settings) -> Elasticsearch:
    options: dict[str, Any] = {
        "hosts": settings.es_hosts,
        "request_timeout": settings.es_request_timeout_seconds,
        # Retries are ours (tenacity), with a bound the job timeout can respect.
        "max_retries": 0,
        "retry_on_timeout": False,
        "verify_certs": settings.es_verify_certs,
        "serializers": serializers(),
    }
    if settings.es_api_key is not None:
        options["api_key"] = settings.es_api_key.get_secret_value()
    if settings.es_username is not None and settings.es_password is not None:
        options["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_certs is not None:
        options["ca_certs"] = str(settings.es_ca_certs)
    return Elasticsearch(**options)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "elasticsearch unavailable (%s), retry %d in %.1fs",
        _describe(error),
        state.attempt_number,
        state.upcoming_sleep,
    )


def _describe(error: BaseException | None) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.meta.status} {error.error}"
    if error is None:
        return "unknown"
    # Node URLs may carry credentials (https://user:password@host).
    message = re.sub(r"://[^/@\s]+@", "://", str(error))[:300]
    return f"{type(error).__name__}: {message}"


class Sink:
    def __init__(self, settings: Settings, client: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.client = client or build_client(settings)
        self.data_stream = settings.data_stream
        # Called while waiting between retries, so a worker keeps proving it is alive.
        self.while_waiting: Callable[[], None] = lambda: None

    def retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_delay(self.settings.es_retry_seconds),
            # Capped so a worker heartbeats (between attempts) well within its TTL.
            wait=wait_random_exponential(multiplier=0.5, max=10),
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _before_sleep(self, state: RetryCallState) -> None:
        _log_retry(state)
        metrics.RETRIES.inc()
        self.while_waiting()

    def install_template(self) -> None:
        """Create or update the index template (idempotent), retrying transient failures."""
        for attempt in self.retrying():
            with attempt:
                self.put_template()

    def put_template(self) -> None:
        """One attempt at creating or updating the index template."""
        try:
            self.client.indices.put_index_template(name=TEMPLATE_NAME, **index_template())
        except BadRequestError as error:
            if "constant_keyword" not in json.dumps(error.body):
                raise
            log.warning("this cluster lacks the constant_keyword mapper; mapping constants as keyword")
            self.client.indices.put_index_template(
                name=TEMPLATE_NAME, **index_template(constant_keyword=False)
            )

    def index(self, document_id: str, document: dict[str, Any]) -> str:
        """Write one document; returns "created" or "duplicate", raises IndexingError otherwise."""
        [outcome] = self.index_many([(document_id, document)])
        if isinstance(outcome, IndexingError):
            raise outcome
        return outcome

    def index_many(self, documents: Documents) -> list[Outcome]:
        """Write documents with one bulk request (more while some are retried); one outcome each, in order.

        Items Elasticsearch refuses for a transient reason (429, 503, ...) are retried with the whole
        request's retries; an item refused for good (mapping error, ...) gets its IndexingError while
        the rest of its batch is written.
        """
        outcomes: list[Outcome | None] = [None] * len(documents)
        pending = list(range(len(documents)))
        try:
            for attempt in self.retrying():
                with attempt:
                    pending = self._bulk(documents, pending, outcomes)
                    if pending:
                        raise TransientItems(f"{len(pending)} documents refused for now")
        except TransientItems:
            pass  # out of retries: each keeps the refusal it got last
        except Exception as failure:
            error = IndexingError(_describe(failure), transient=is_transient(failure))
            for position in pending:
                outcomes[position] = error
        return [outcome if outcome is not None else IndexingError("not attempted") for outcome in outcomes]

    def _bulk(self, documents: Documents, pending: list[int], outcomes: list[Outcome | None]) -> list[int]:
        """One bulk request for the pending positions; returns the positions to try again."""
        ingested = format_timestamp(datetime.now(UTC))
        operations: list[dict[str, Any]] = []
        for position in pending:
            document_id, document = documents[position]
            # Where Elastic's integration has an ingest pipeline stamp it, we stamp it at write time.
            document.setdefault("event", {})["ingested"] = ingested
            operations.append({"create": {"_index": self.data_stream, "_id": document_id}})
            operations.append(document)
        response = self.client.bulk(operations=operations)
        retry = []
        for position, item in zip(pending, response["items"], strict=True):
            result = item["create"]
            status = result["status"]
            if status in (200, 201):
                outcomes[position] = "created"
            elif status == 409:
                outcomes[position] = "duplicate"
            else:
                error = result.get("error", {})
                reason = f"HTTP {status} {error.get('type', 'error')}: {error.get('reason', '')}"
                caused_by = error.get("caused_by", {}).get("reason")
                if caused_by:
                    reason += f" ({caused_by})"
                transient = status in TRANSIENT_STATUSES
                outcomes[position] = IndexingError(reason, transient=transient)
                if transient:
                    retry.append(position)
        return retry
