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
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, BadRequestError, ConflictError, Elasticsearch
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
from worker.template import TEMPLATE_NAME, index_template
from worker.transform.times import format_timestamp

log = logging.getLogger("zoom_ingest.worker")

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ESConnectionError | ESConnectionTimeout):
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
    return type(error).__name__ if error is not None else "unknown"


class Sink:
    def __init__(self, settings: Settings, client: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.client = client or build_client(settings)
        self.data_stream = settings.data_stream

    def retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_delay(self.settings.es_retry_seconds),
            wait=wait_random_exponential(multiplier=0.5, max=30),
            before_sleep=_log_retry,
            reraise=True,
        )

    def install_template(self) -> None:
        """Create or update the index template (idempotent)."""
        for attempt in self.retrying():
            with attempt:
                try:
                    self.client.indices.put_index_template(name=TEMPLATE_NAME, **index_template())
                except BadRequestError as error:
                    if "constant_keyword" not in json.dumps(error.body):
                        raise
                    log.warning(
                        "this cluster lacks the constant_keyword mapper; mapping constants as keyword"
                    )
                    self.client.indices.put_index_template(
                        name=TEMPLATE_NAME, **index_template(constant_keyword=False)
                    )

    def index(self, document_id: str, document: dict[str, Any]) -> str:
        """Write one document; returns "created", or "duplicate" when it was already there."""
        for attempt in self.retrying():
            with attempt:
                # Where Elastic's integration has an ingest pipeline stamp it, we stamp it at write time.
                document.setdefault("event", {})["ingested"] = format_timestamp(datetime.now(UTC))
                try:
                    self.client.create(index=self.data_stream, id=document_id, document=document)
                except ConflictError:
                    return "duplicate"
        return "created"
