"""compose/docker-compose.yml as the tests read it: where it and the Dockerfile are, and each
service's environment, command and healthcheck, with values interpolated as compose would with an
empty environment."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from shared.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
DOCKERFILE = COMPOSE_DIR / "Dockerfile"
SERVICES = {"redis", "elasticsearch", "receiver", "worker", "poller", "dashboard"}
APP_SERVICES = ("receiver", "worker", "poller")

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str) -> str:
    """The value compose would use with an empty environment (a required variable gets a stand-in)."""

    def replace(match: re.Match[str]) -> str:
        op, arg = match.group("op"), match.group("arg")
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return "stand-in-for-required-" + match.group("name").lower()
        return ""

    return INTERPOLATION.sub(replace, value)


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
