"""The one typed configuration object, read from ZOOM_INGEST_* environment variables (and `.env`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.logs import redact

ENV_PREFIX = "ZOOM_INGEST_"
# Read from the working directory, after the environment (which wins).
ENV_FILE = Path(".env")

# Zoom retries a failed delivery at about +5, +25 and +85 minutes. Whether a retry carries a fresh
# x-zm-request-timestamp is undocumented, so the window must admit the last retry's original
# timestamp: 2 hours leaves margin for clock skew and queueing on Zoom's side.
DEFAULT_SIGNATURE_MAX_AGE_SECONDS = 2 * 60 * 60

# Where documents go: the data stream <type>-<dataset>-<namespace>, as Elastic's Zoom integration
# names it.
DATASET = "zoom.webhook"
DATA_STREAM_PREFIX = f"logs-{DATASET}"
# Elasticsearch data stream namespaces: lowercase, no '-' (it separates type-dataset-namespace).
_NAMESPACE_PATTERN = re.compile(r"^[a-z0-9_.]{1,100}$")


class ConfigError(ValueError):
    """Configuration that cannot work; the message names the offending ZOOM_INGEST_* setting."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]
# Zoom's report APIs the poller can read, by the name of their data stream (logs-zoom.<stream>-*).
ReportStream = Literal["activity", "operation", "meeting_activity"]
REPORT_STREAMS: tuple[ReportStream, ...] = ("activity", "operation", "meeting_activity")
StreamList = Annotated[list[ReportStream], NoDecode]
SecretList = Annotated[list[SecretStr], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )

    # Queue (shared by receiver and worker)
    redis_url: str = "redis://localhost:6379/0"
    queue: str = "zoom-webhooks"
    result_ttl_seconds: int = Field(default=60, ge=0)
    failure_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    # Beyond this many waiting events the receiver answers 503: Zoom retries later, and Redis (with
    # noeviction) is not filled until it refuses every write. ~2-3 KB per queued event.
    max_queued: int = Field(default=200_000, ge=1)
    # High availability: find the primary through these Sentinels (comma-separated host:port) under
    # this master name; REDIS_URL then gives only the database, credentials and TLS of the servers.
    redis_sentinels: CommaList = Field(default_factory=list)
    redis_sentinel_master: str | None = None
    redis_sentinel_username: str | None = None
    redis_sentinel_password: SecretStr | None = None
    # Answer 200 only once Redis WAIT confirms the event's write reached this many replicas; the
    # wait stays below the receiver's 5 s Redis socket timeout (shared/connection.py).
    ack_replicas: int = Field(default=0, ge=0)
    ack_replicas_timeout_ms: int = Field(default=1000, ge=1, le=4000)

    # Receiver
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=8181, ge=0, le=65535)
    webhook_path: str = "/zoom-webhook"
    secret_tokens: SecretList = Field(default_factory=list)
    auth_header: str | None = None
    auth_value: SecretStr | None = None
    allow_unauthenticated: bool = False
    signature_max_age_seconds: int = Field(default=DEFAULT_SIGNATURE_MAX_AGE_SECONDS, ge=0)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or networks, "*" for any); empty = none, the peer address is the client.
    trusted_proxies: CommaList = Field(default_factory=list)

    # Every process
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "ecs", "human"] = "auto"
    # Prometheus metrics of this process (shared/monitoring.py) on this address; port 0 = off. Apart
    # from the receiver's webhook port, so /metrics never faces the internet.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)

    # Elasticsearch (worker)
    es_hosts: CommaList = Field(default_factory=lambda: ["http://localhost:9200"])
    es_api_key: SecretStr | None = None
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_ca_certs: Path | None = None
    es_verify_certs: bool = True
    es_request_timeout_seconds: float = Field(default=30.0, gt=0)
    es_retry_seconds: int = Field(default=240, ge=0)
    namespace: str = "default"
    batch_size: int = Field(default=500, ge=1, le=10_000)
    # A worker silent this long is presumed dead and its claimed events go back to the queue.
    worker_ttl_seconds: int = Field(default=60, ge=5)

    # Documents (worker)
    tags: CommaList = Field(default_factory=lambda: ["zoom-webhook", "forwarded"])
    preserve_original: bool = False
    geoip_city_db: Path | None = None
    geoip_asn_db: Path | None = None

    # Poller (Zoom's report APIs; off until the three Server-to-Server OAuth credentials are set)
    zoom_api_url: str = "https://api.zoom.us"
    zoom_oauth_url: str = "https://zoom.us"
    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    poll_streams: StreamList = Field(default_factory=lambda: list(REPORT_STREAMS))
    poll_interval_seconds: int = Field(default=3600, ge=1)
    # First run only: how far back to fetch (Zoom keeps sign-ins and operation logs 6 months).
    poll_lookback_days: int = Field(default=30, ge=1, le=180)
    poll_page_size: int = Field(default=300, ge=1, le=300)
    poll_meeting_activity_type: str = "All Activities"
    # Client-side limit of report requests (Zoom counts them per account, all apps together);
    # Elastic's integration defaults. 0 = no limit.
    poll_rate_per_second: float = Field(default=0.1, ge=0)
    poll_rate_burst: int = Field(default=3, ge=1)
    poll_request_timeout_seconds: float = Field(default=30.0, gt=0)
    # A failing request (5xx, connection error, 429) is retried with backoff for this long, then
    # the poll is given up (cursor untouched) and tried again after the same pause.
    poll_retry_seconds: int = Field(default=300, ge=0)
    # The poller holding the lease polls; another takes over this long after the holder died.
    poll_lease_seconds: int = Field(default=60, ge=10)

    _split = field_validator(
        "secret_tokens",
        "es_hosts",
        "tags",
        "trusted_proxies",
        "poll_streams",
        "redis_sentinels",
        mode="before",
    )(_split_commas)

    @field_validator("zoom_account_id", "zoom_client_id", "zoom_client_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("webhook_path")
    @classmethod
    def _path_is_absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace_is_valid(cls, value: str) -> str:
        if not _NAMESPACE_PATTERN.match(value):
            raise ValueError("must be 1-100 characters of a-z, 0-9, '_' or '.' (no '-', no upper case)")
        return value

    @field_validator("es_hosts")
    @classmethod
    def _hosts_are_urls(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one URL")
        for host in value:
            if not re.match(r"^https?://[^/\s]+", host):
                raise ValueError(f"{redact(host)!r} is not an http(s):// URL")
            try:
                urlsplit(host).port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                raise ValueError(f"{redact(host)!r} has an invalid port") from None
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels_are_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _pairs_are_complete(self) -> Settings:
        if bool(self.redis_sentinels) != (self.redis_sentinel_master is not None):
            raise ValueError(
                "ZOOM_INGEST_REDIS_SENTINELS and ZOOM_INGEST_REDIS_SENTINEL_MASTER must be set together"
            )
        if (self.auth_header is None) != (self.auth_value is None):
            raise ValueError("ZOOM_INGEST_AUTH_HEADER and ZOOM_INGEST_AUTH_VALUE must be set together")
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("ZOOM_INGEST_TLS_CERTFILE and ZOOM_INGEST_TLS_KEYFILE must be set together")
        for name, path in (("TLS_CERTFILE", self.tls_certfile), ("TLS_KEYFILE", self.tls_keyfile)):
            if path is not None and not path.is_file():
                raise ValueError(f"ZOOM_INGEST_{name}: no such file {path}")
        if (self.es_username is None) != (self.es_password is None):
            raise ValueError("ZOOM_INGEST_ES_USERNAME and ZOOM_INGEST_ES_PASSWORD must be set together")
        if self.es_api_key is not None and self.es_username is not None:
            raise ValueError("set ZOOM_INGEST_ES_API_KEY or ZOOM_INGEST_ES_USERNAME/PASSWORD, not both")
        # A worker heartbeats between attempts: one request plus one backoff pause (<= 10 s) apart.
        if self.worker_ttl_seconds <= self.es_request_timeout_seconds + 10:
            raise ValueError(
                "ZOOM_INGEST_WORKER_TTL_SECONDS must exceed ZOOM_INGEST_ES_REQUEST_TIMEOUT_SECONDS by more "
                "than 10 s, or a worker waiting on a slow request is taken for dead"
            )
        zoom_credentials = (self.zoom_account_id, self.zoom_client_id, self.zoom_client_secret)
        if any(value is not None for value in zoom_credentials) and not self.poller_configured:
            raise ValueError(
                "ZOOM_INGEST_ZOOM_ACCOUNT_ID, ZOOM_INGEST_ZOOM_CLIENT_ID and ZOOM_INGEST_ZOOM_CLIENT_SECRET "
                "must be set together"
            )
        for name, url in (("ZOOM_API_URL", self.zoom_api_url), ("ZOOM_OAUTH_URL", self.zoom_oauth_url)):
            if not re.match(r"^https?://[^/\s]+", url):
                raise ValueError(f"ZOOM_INGEST_{name}: {redact(url)!r} is not an http(s):// URL")
        return self

    @property
    def job_timeout_seconds(self) -> int:
        """The RQ timeout each job carries, for a stock `rq worker` (the only one that enforces it):
        its retries and their last request fit in it. zoom-ingest's batch worker needs no per-job
        timeout: ES_RETRY_SECONDS and the request timeout bound each batch, which then goes back to
        the queue (worker/batch.py). So it is derived, not a setting."""
        return int(self.es_retry_seconds + self.es_request_timeout_seconds) + 60

    @property
    def authentication_configured(self) -> bool:
        return bool(self.secret_tokens) or self.auth_header is not None

    @property
    def poller_configured(self) -> bool:
        return None not in (self.zoom_account_id, self.zoom_client_id, self.zoom_client_secret)

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        addresses = (address.rpartition(":") for address in self.redis_sentinels)
        return [(host.strip("[]"), int(port)) for host, _, port in addresses]

    @property
    def data_stream(self) -> str:
        return data_stream_name(self.namespace)


def data_stream_name(namespace: str) -> str:
    return f"{DATA_STREAM_PREFIX}-{namespace}"


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


# Settings no longer read, and what took their place: set, they are named at start-up rather than
# ignored without a word (an upgrade keeps old environment files).
RETIRED = {
    "job_timeout_seconds": "a batch is bounded by ZOOM_INGEST_ES_RETRY_SECONDS plus "
    "ZOOM_INGEST_ES_REQUEST_TIMEOUT_SECONDS, and jobs' RQ timeout derives from them",
}


def retired_settings(env_file: Path = ENV_FILE) -> list[str]:
    """A warning for each retired setting set in the environment or in the settings' .env file."""
    names = set(os.environ)
    if env_file.is_file():
        names |= set(dotenv_values(env_file))
    return [
        f"{env_name(field)} is no longer read ({reason}): remove it"
        for field, reason in RETIRED.items()
        if env_name(field) in names
    ]


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; overrides (command-line flags) win over the environment.

    Raises ConfigError naming each bad setting by its environment variable, never echoing values
    (some are secrets).
    """
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            location = [str(part) for part in detail["loc"] if not isinstance(part, int)]
            name = env_name(location[0]) if location else "configuration"
            message = detail["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if location else message)
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
