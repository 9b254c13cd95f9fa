"""compose/Dockerfile, read without a Docker engine: the stages it builds and what the app image
runs as."""

from __future__ import annotations

import re
import tomllib

from tests.compose.compose_file import DOCKERFILE, ROOT


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
