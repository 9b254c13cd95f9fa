"""compose/docker-compose.yml as YAML, and settings built from it free of the developer's shell."""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml

from shared.config import ENV_PREFIX
from tests.compose.compose_file import COMPOSE_FILE


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
