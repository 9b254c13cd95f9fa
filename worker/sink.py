"""Elasticsearch: the client, the index templates installed with retries (worker/installer.py),
and writing documents without loss or duplicates.

Every document is written with op_type=create and an `_id` derived from the event, so a redelivered
event finds its twin already there (409) and counts as done. Transient failures (connection errors,
timeouts, 429, 502/503/504) are retried with exponential backoff and jitter for at most
ZOOM_INGEST_ES_RETRY_SECONDS, which is kept below the job timeout; after that the job fails into
RQ's failed registry with the reason and can be requeued.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
)
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import ConnectionTimeout as ESConnectionTimeout
from elasticsearch import SSLError as ESSSLError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from shared.config import Settings, env_name
from worker import metrics
from worker.installer import TemplateConflict, install_templates
from worker.reasons import describe, error_type, item_reason
from worker.serializer import serializers
from worker.transform.times import format_timestamp

log = logging.getLogger("zoom_ingest.worker")
# The client's node pool warns of every failed request; the worker's own retry lines already say it.
logging.getLogger("elastic_transport.node_pool").setLevel(logging.ERROR)

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


class IndexingError(Exception):
    """Why one document was not written. The message is what operators see in the failed registry,
    whole; `masked` is the same without the document's values, for logs (worker/reasons.py)."""

    def __init__(
        self,
        reason: str,
        transient: bool = False,
        kind: str | None = None,
        *,
        masked: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.transient = transient
        # For metrics: refused for good, or still unavailable when retries ran out.
        self.kind = kind or ("unavailable" if transient else "rejected")
        self.masked = reason if masked is None else masked
        # ECS error.type: Elasticsearch's error type, or what kept the request from being answered.
        self.error_type = error_type or self.kind


IndexOutcome = Literal["created", "duplicate"] | IndexingError
Documents = Sequence[tuple[str, dict[str, Any]]]  # (_id, document)


class Interrupted(Exception):
    """The worker is stopping while Elasticsearch fails: the retries end early, and what the batch
    wrote is unknown, so its events go back to the queue (re-indexing finds the written ones)."""


class TransientItems(Exception):
    """Some items of a bulk request were refused for a transient reason: retry them."""


def is_transient(error: BaseException) -> bool:
    # A certificate the client does not trust stays untrusted however often it is retried.
    if isinstance(error, ESSSLError):
        return False
    if isinstance(error, ESConnectionError | ESConnectionTimeout | TransientItems):
        return True
    return isinstance(error, ApiError) and error.meta.status in TRANSIENT_STATUSES


def refusal(error: BaseException) -> str | None:
    """The one line to stop on when Elasticsearch cannot be used as configured (credentials,
    privileges, certificates, a template that is someone else's); None for any other error."""
    if isinstance(error, TemplateConflict):
        return str(error)
    if isinstance(error, AuthenticationException):
        return (
            f"Elasticsearch refused the credentials ({describe(error)}): set {env_name('es_api_key')} or "
            f"{env_name('es_username')}/{env_name('es_password')} to credentials it accepts"
        )
    if isinstance(error, AuthorizationException):
        return (
            f"Elasticsearch refused the request ({describe(error)}): the credentials need the "
            "privileges listed in docs/operations.md (Connection and permissions)"
        )
    if isinstance(error, ESSSLError):
        return (
            f"TLS to Elasticsearch failed ({describe(error)}): set {env_name('es_ca_certs')} to the CA "
            "that signed its certificate"
        )
    return None


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
        describe(error),
        state.attempt_number,
        state.upcoming_sleep,
    )


class Sink:
    def __init__(self, settings: Settings, client: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.client = client or build_client(settings)
        self.data_stream = settings.data_stream
        # Called while waiting between retries, so a worker keeps proving it is alive.
        self.while_waiting: Callable[[], None] = lambda: None
        # True once the worker is stopping: no further attempt, and the pause before one ends early.
        self.interrupted: Callable[[], bool] = lambda: False

    def retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_delay(self.settings.es_retry_seconds),
            # Capped so a worker heartbeats (between attempts) well within its TTL.
            wait=wait_random_exponential(multiplier=0.5, max=10),
            before_sleep=self._before_sleep,
            sleep=self._pause,
            reraise=True,
        )

    def _pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.interrupted() and (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))

    def _before_sleep(self, state: RetryCallState) -> None:
        _log_retry(state)
        metrics.RETRIES.inc()
        self.while_waiting()

    def answers(self) -> bool:
        """Whether Elasticsearch answers: any reply but a transient one (a refusal is an answer)."""
        try:
            self.client.info()
        except Exception as error:
            return not is_transient(error)
        return True

    def install_template(self) -> None:
        """Create or update the index template (idempotent), retrying transient failures."""
        for attempt in self.retrying():
            with attempt:
                self.put_template()

    def put_template(self) -> None:
        """One attempt at creating or updating the index templates (worker/installer.py)."""
        install_templates(self.client)

    def target(self, document: dict[str, Any]) -> str:
        """The data stream a document names (report records have their own), else the webhook one."""
        stream = document.get("data_stream")
        if isinstance(stream, dict) and all(stream.get(part) for part in ("type", "dataset", "namespace")):
            return f"{stream['type']}-{stream['dataset']}-{stream['namespace']}"
        return self.data_stream

    def index(self, document_id: str, document: dict[str, Any]) -> str:
        """Write one document; returns "created" or "duplicate", raises IndexingError otherwise."""
        [outcome] = self.index_many([(document_id, document)])
        if isinstance(outcome, IndexingError):
            raise outcome
        return outcome

    def index_many(self, documents: Documents) -> list[IndexOutcome]:
        """Write documents with one bulk request (more while some are retried); one outcome each, in order.

        Items Elasticsearch refuses for a transient reason (429, 503, ...) are retried with the whole
        request's retries; an item refused for good (mapping error, ...) gets its IndexingError while
        the rest of its batch is written. Raises Interrupted when the worker stops before a retry.
        """
        outcomes: list[IndexOutcome | None] = [None] * len(documents)
        pending = list(range(len(documents)))
        try:
            for attempt in self.retrying():
                with attempt:
                    if self.interrupted():
                        raise Interrupted(f"stopping with {len(pending)} documents not written")
                    pending = self._bulk(documents, pending, outcomes)
                    if pending:
                        raise TransientItems(f"{len(pending)} documents refused for now")
        except Interrupted:
            raise
        except TransientItems:
            pass  # out of retries: each keeps the refusal it got last
        except Exception as failure:
            error = IndexingError(
                describe(failure), transient=is_transient(failure), error_type=error_type(failure)
            )
            for position in pending:
                outcomes[position] = error
        return [outcome if outcome is not None else IndexingError("not attempted") for outcome in outcomes]

    def _bulk(
        self, documents: Documents, pending: list[int], outcomes: list[IndexOutcome | None]
    ) -> list[int]:
        """One bulk request for the pending positions; returns the positions to try again."""
        ingested = format_timestamp(datetime.now(UTC))
        operations: list[dict[str, Any]] = []
        for position in pending:
            document_id, document = documents[position]
            # Where Elastic's integration has an ingest pipeline stamp it, we stamp it at write time.
            document.setdefault("event", {})["ingested"] = ingested
            operations.append({"create": {"_index": self.target(document), "_id": document_id}})
            operations.append(document)
        # Fleet may set the integration's ingest pipeline as default pipeline on our write index;
        # it must not run again on documents already transformed.
        response = self.client.bulk(operations=operations, pipeline="_none")
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
                whole, masked = item_reason(status, error)
                transient = status in TRANSIENT_STATUSES
                error_type = str(error.get("type", f"http_{status}"))
                outcomes[position] = IndexingError(
                    whole, transient=transient, masked=masked, error_type=error_type
                )
                if transient:
                    retry.append(position)
        return retry
