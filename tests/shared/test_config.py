from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings, retired_settings


def test_defaults_match_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.queue == "zoom-webhooks"
    assert (settings.listen_host, settings.listen_port) == ("127.0.0.1", 8181)
    assert settings.webhook_path == "/zoom-webhook"
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.namespace == "default"
    assert settings.data_stream == "logs-zoom.webhook-default"
    assert settings.tags == ["zoom-webhook", "forwarded"]
    # Long enough to admit Zoom's last retry, ~85 minutes after the first attempt.
    assert settings.signature_max_age_seconds >= 85 * 60


def test_comma_separated_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_INGEST_SECRET_TOKENS", "tok-a, tok-b")
    monkeypatch.setenv("ZOOM_INGEST_ES_HOSTS", "https://es1:9200,https://es2:9200")
    settings = load_settings()
    assert [token.get_secret_value() for token in settings.secret_tokens] == ["tok-a", "tok-b"]
    assert settings.es_hosts == ["https://es1:9200", "https://es2:9200"]


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_INGEST_LISTEN_PORT", "9000")
    assert load_settings(listen_port=9100).listen_port == 9100


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ZOOM_INGEST_LISTEN_PORT", "eighty", "ZOOM_INGEST_LISTEN_PORT"),
        ("ZOOM_INGEST_NAMESPACE", "Prod-EU", "ZOOM_INGEST_NAMESPACE"),
        ("ZOOM_INGEST_ES_HOSTS", "es1:9200", "ZOOM_INGEST_ES_HOSTS"),
        ("ZOOM_INGEST_ES_HOSTS", "http://es1:92OO", "ZOOM_INGEST_ES_HOSTS"),
        ("ZOOM_INGEST_WEBHOOK_PATH", "zoom", "ZOOM_INGEST_WEBHOOK_PATH"),
        ("ZOOM_INGEST_AUTH_HEADER", "X-Token", "ZOOM_INGEST_AUTH_VALUE"),
        ("ZOOM_INGEST_TLS_CERTFILE", "/nonexistent/cert.pem", "ZOOM_INGEST_TLS_KEYFILE"),
    ],
)
def test_invalid_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_errors_never_echo_secret_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_INGEST_AUTH_VALUE", "hunter2-very-secret")
    with pytest.raises(ConfigError) as failure:
        load_settings()
    assert "hunter2" not in str(failure.value)
    assert "hunter2" not in repr(load_settings(auth_header="X-A"))


def test_one_kind_of_elasticsearch_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_INGEST_ES_API_KEY", "k-very-secret")
    monkeypatch.setenv("ZOOM_INGEST_ES_USERNAME", "elastic")
    monkeypatch.setenv("ZOOM_INGEST_ES_PASSWORD", "p-very-secret")
    with pytest.raises(ConfigError, match="ZOOM_INGEST_ES_API_KEY") as failure:
        load_settings()
    assert "very-secret" not in str(failure.value)


def test_tls_files_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not checked here")
    monkeypatch.setenv("ZOOM_INGEST_TLS_CERTFILE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("ZOOM_INGEST_TLS_KEYFILE", str(key))
    with pytest.raises(ConfigError, match="ZOOM_INGEST_TLS_CERTFILE: no such file"):
        load_settings()


def test_the_poller_is_off_by_default_and_polls_every_stream_once_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert not settings.poller_configured
    assert (settings.zoom_api_url, settings.zoom_oauth_url) == ("https://api.zoom.us", "https://zoom.us")
    # Elastic's integration defaults: 300 records a page, 0.1 requests a second, bursts of 3.
    assert (settings.poll_page_size, settings.poll_rate_per_second, settings.poll_rate_burst) == (300, 0.1, 3)
    assert settings.poll_meeting_activity_type == "All Activities"
    for name, value in (("ACCOUNT_ID", "acc"), ("CLIENT_ID", "cid"), ("CLIENT_SECRET", "shh")):
        monkeypatch.setenv(f"ZOOM_INGEST_ZOOM_{name}", value)
    monkeypatch.setenv("ZOOM_INGEST_POLL_STREAMS", "operation, activity")
    settings = load_settings()
    assert settings.poller_configured
    assert settings.poll_streams == ["operation", "activity"]


def test_zoom_credentials_come_together_and_empty_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_INGEST_ZOOM_ACCOUNT_ID", "acc")
    monkeypatch.setenv("ZOOM_INGEST_ZOOM_CLIENT_SECRET", "very-secret")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "must be set together" in str(raised.value) and "very-secret" not in str(raised.value)
    monkeypatch.setenv("ZOOM_INGEST_ZOOM_ACCOUNT_ID", "")
    monkeypatch.setenv("ZOOM_INGEST_ZOOM_CLIENT_SECRET", " ")
    assert not load_settings().poller_configured


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ZOOM_INGEST_POLL_STREAMS", "activity,webinars", "ZOOM_INGEST_POLL_STREAMS: Input should be"),
        ("ZOOM_INGEST_POLL_PAGE_SIZE", "301", "ZOOM_INGEST_POLL_PAGE_SIZE"),
        ("ZOOM_INGEST_POLL_LOOKBACK_DAYS", "181", "ZOOM_INGEST_POLL_LOOKBACK_DAYS"),
        ("ZOOM_INGEST_ZOOM_API_URL", "api.zoom.us", "ZOOM_INGEST_ZOOM_API_URL: 'api.zoom.us' is not"),
    ],
)
def test_bad_poller_settings_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert message in str(raised.value)


def test_worker_ttl_must_exceed_the_request_timeout_by_more_than_10_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rule as the README and docs/operations.md state it: a worker heartbeats between attempts,
    one request and one backoff pause (at most 10 s) apart."""
    monkeypatch.setenv("ZOOM_INGEST_ES_REQUEST_TIMEOUT_SECONDS", "30")
    assert load_settings(worker_ttl_seconds=41).worker_ttl_seconds == 41
    with pytest.raises(ConfigError, match="ZOOM_INGEST_WORKER_TTL_SECONDS must exceed"):
        load_settings(worker_ttl_seconds=40)


def test_jobs_carry_a_timeout_their_retries_fit_in() -> None:
    """A stock `rq worker` kills a job at its timeout: never while it is still retrying."""
    settings = load_settings(es_retry_seconds=900, es_request_timeout_seconds=45)
    assert settings.job_timeout_seconds > 900 + 45


def test_a_retired_setting_is_named_not_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade keeps old environment files: a setting no longer read is reported, from the
    environment or from ./.env, and nothing is reported when none is set."""
    monkeypatch.delenv("ZOOM_INGEST_JOB_TIMEOUT_SECONDS", raising=False)
    assert retired_settings(tmp_path / ".env") == []
    (tmp_path / ".env").write_text("ZOOM_INGEST_JOB_TIMEOUT_SECONDS=600\n")
    [warning] = retired_settings(tmp_path / ".env")
    assert warning.startswith("ZOOM_INGEST_JOB_TIMEOUT_SECONDS is no longer read (a batch is bounded by")
    monkeypatch.setenv("ZOOM_INGEST_JOB_TIMEOUT_SECONDS", "600")
    assert len(retired_settings(tmp_path / "absent.env")) == 1
