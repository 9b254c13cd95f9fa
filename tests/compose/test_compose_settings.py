"""compose/docker-compose.yml passes every setting to the processes that read it.

READERS says which process reads each setting of shared/config.py; a setting added there fails
test_every_setting_names_its_readers until it is added here, and then the compose file must pass it
to each of its readers. With a Compose CLI the file is resolved for real: every variable set in an
env file arrives, unchanged, in each reader's environment, which is a valid configuration.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.config import ENV_PREFIX, Settings, env_name
from tests.compose.compose_cli import VALIDATORS, run_compose, validating_compose
from tests.compose.compose_file import APP_SERVICES, COMPOSE_FILE, app_settings, environment
from worker.batch import stop_bound

EVERY = APP_SERVICES
# Which processes read each setting. ES_RETRY_SECONDS goes everywhere: every process that writes
# jobs derives their RQ timeout from it (Settings.job_timeout_seconds).
READERS: dict[str, tuple[str, ...]] = {
    "redis_url": EVERY,
    "queue": EVERY,
    "result_ttl_seconds": EVERY,
    "failure_ttl_seconds": EVERY,
    "max_queued": ("receiver", "poller"),
    "redis_sentinels": EVERY,
    "redis_sentinel_master": EVERY,
    "redis_sentinel_username": EVERY,
    "redis_sentinel_password": EVERY,
    "ack_replicas": ("receiver",),
    "ack_replicas_timeout_ms": ("receiver",),
    "listen_host": ("receiver",),
    "listen_port": ("receiver",),
    "webhook_path": ("receiver",),
    "secret_tokens": ("receiver",),
    "auth_header": ("receiver",),
    "auth_value": ("receiver",),
    "allow_unauthenticated": ("receiver",),
    "signature_max_age_seconds": ("receiver",),
    "max_body_bytes": ("receiver",),
    "tls_certfile": ("receiver",),
    "tls_keyfile": ("receiver",),
    "trusted_proxies": ("receiver",),
    "log_level": EVERY,
    "log_format": EVERY,
    "metrics_host": EVERY,
    "metrics_port": EVERY,
    "es_hosts": ("worker",),
    "es_api_key": ("worker",),
    "es_username": ("worker",),
    "es_password": ("worker",),
    "es_ca_certs": ("worker",),
    "es_verify_certs": ("worker",),
    "es_request_timeout_seconds": ("worker",),
    "es_retry_seconds": EVERY,
    "namespace": ("worker",),
    "batch_size": ("worker",),
    "worker_ttl_seconds": ("worker",),
    "tags": ("worker",),
    "preserve_original": ("worker",),
    "geoip_city_db": ("worker",),
    "geoip_asn_db": ("worker",),
    "zoom_api_url": ("poller",),
    "zoom_oauth_url": ("poller",),
    "zoom_account_id": ("poller",),
    "zoom_client_id": ("poller",),
    "zoom_client_secret": ("poller",),
    "poll_streams": ("poller",),
    "poll_interval_seconds": ("poller",),
    "poll_lookback_days": ("poller",),
    "poll_page_size": ("poller",),
    "poll_meeting_activity_type": ("poller",),
    "poll_rate_per_second": ("poller",),
    "poll_rate_burst": ("poller",),
    "poll_request_timeout_seconds": ("poller",),
    "poll_retry_seconds": ("poller",),
    "poll_lease_seconds": ("poller",),
}
# Set by docker-compose.ha.yml, where Sentinel is what they are for (tests/compose/test_compose_ha.py).
HA_ONLY = {"redis_sentinels", "redis_sentinel_master"}

# A value for every setting compose passes through, none of them the default.
EXAMPLES = {
    "queue": "example-queue",
    "result_ttl_seconds": "61",
    "failure_ttl_seconds": "3601",
    "max_queued": "1234",
    "redis_sentinel_username": "sentinel-user",
    "redis_sentinel_password": "sentinel-password",
    "ack_replicas": "1",
    "ack_replicas_timeout_ms": "999",
    "webhook_path": "/example-path",
    "auth_header": "X-Example-Auth",
    "auth_value": "example-auth-value",
    "allow_unauthenticated": "true",
    "signature_max_age_seconds": "601",
    "max_body_bytes": "4096",
    "trusted_proxies": "10.0.0.0/8",
    "log_level": "DEBUG",
    "log_format": "human",
    "es_api_key": "example-api-key",
    "es_username": "example-user",
    "es_password": "example-password",
    "es_ca_certs": "/certs/ca.pem",
    "es_verify_certs": "false",
    "es_request_timeout_seconds": "15",
    "es_retry_seconds": "60",
    "namespace": "example",
    "batch_size": "123",
    "worker_ttl_seconds": "45",
    "tags": "a,b",
    "preserve_original": "true",
    "geoip_city_db": "/geoip/city.mmdb",
    "geoip_asn_db": "/geoip/asn.mmdb",
    "zoom_api_url": "http://zoom-api.example",
    "zoom_oauth_url": "http://zoom-oauth.example",
    "zoom_account_id": "example-account",
    "zoom_client_id": "example-client",
    "zoom_client_secret": "example-client-secret",
    "poll_streams": "activity",
    "poll_interval_seconds": "61",
    "poll_lookback_days": "7",
    "poll_page_size": "100",
    "poll_meeting_activity_type": "Meeting Join",
    "poll_rate_per_second": "0.5",
    "poll_rate_burst": "2",
    "poll_request_timeout_seconds": "11",
    "poll_retry_seconds": "31",
    "poll_lease_seconds": "21",
}
# Paths checked for existence when the settings load: real files, made by the test.
FILES = ("tls_certfile", "tls_keyfile")


def test_every_setting_names_its_readers() -> None:
    assert set(READERS) == set(Settings.model_fields), "add the new setting to READERS, then to compose"
    assert all(set(readers) <= set(APP_SERVICES) for readers in READERS.values())


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_process_is_given_every_setting_it_reads(services: dict[str, dict[str, Any]], name: str) -> None:
    given = set(environment(services[name]))
    needed = {env_name(field) for field, readers in READERS.items() if name in readers}
    missing = sorted(needed - given - {env_name(field) for field in HA_ONLY})
    assert not missing, f"{name} never sees {missing}"


def test_secrets_reach_only_the_process_that_needs_them(services: dict[str, dict[str, Any]]) -> None:
    """The internet-facing receiver holds no Elasticsearch or Zoom API credentials."""
    secrets = {field for field, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)}
    assert {"es_password", "zoom_client_secret", "auth_value"} <= secrets
    for field in secrets:
        for name in set(APP_SERVICES) - set(READERS[field]):
            assert env_name(field) not in environment(services[name]), f"{name} is given {field}"


@pytest.mark.parametrize("validator", VALIDATORS)
def test_values_set_for_compose_arrive_in_each_reader(validator: str, tmp_path: Path) -> None:
    tool = validating_compose(validator, tmp_path)
    for field in FILES:
        (tmp_path / field).write_text("exists; its content is the receiver's business\n")
    values = {env_name(field): value for field, value in EXAMPLES.items()}
    values |= {env_name(field): str(tmp_path / field) for field in FILES}
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in values.items()))

    result = run_compose(tool, COMPOSE_FILE, "config", "--format", "json", token="t0", env_file=env_file)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["services"]
    for name in APP_SERVICES:
        arrived = {key: value for key, value in resolved[name]["environment"].items() if value is not None}
        for field, readers in READERS.items():
            if name in readers and env_name(field) in values:
                assert arrived.get(env_name(field)) == values[env_name(field)], f"{name}: {field}"
        # What each process is given must load as its configuration (pairs complete, limits agree).
        given = {key.removeprefix(ENV_PREFIX).lower(): value for key, value in arrived.items()}
        if name == "worker":
            given.pop("es_api_key")  # one way of authenticating at a time: the user/password one here
        Settings(_env_file=None, **given)  # type: ignore[call-arg]


def seconds(duration: str) -> float:
    """A Compose duration such as 1m30s, 90s or 2m."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us)", duration)
    assert parts and "".join(number + unit for number, unit in parts) == duration, duration
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    return sum(float(number) * scale[unit] for number, unit in parts)


@pytest.mark.usefixtures("clean_environment")
def test_compose_waits_for_a_stopping_worker(services: dict[str, dict[str, Any]]) -> None:
    """A worker asked to stop exits within stop_bound (tests/test_shutdown.py runs one): compose must
    not kill it sooner."""
    worker = services["worker"]
    assert seconds(str(worker["stop_grace_period"])) >= stop_bound(app_settings(worker))
