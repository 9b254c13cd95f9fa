"""The documentation says what the code does: the README's settings table against the settings
class (names, defaults, limits), the README's commands against the command line, and every
environment variable the code reads against the docs. A new setting, flag or variable fails here
until it is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest
from annotated_types import Ge, Gt, Le
from pydantic import SecretStr

from ops.arguments import build_parser
from shared.config import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = README + "".join(path.read_text() for path in sorted((ROOT / "docs").glob("*.md")))
# The product's code (not tests/, bench/): where an environment variable it reads lives.
PRODUCT = ("shared", "receiver", "worker", "poller", "ops")
# Read by the code but set by the system, not by an operator.
NOT_SETTINGS = {"PATH"}
# Limits that any port or count has and no reader needs told.
OBVIOUS_LIMITS = {0, 1, 65535}


def settings_rows() -> dict[str, tuple[str, str]]:
    """{variable: (default column, whole row)} of the README's configuration table."""
    rows: dict[str, tuple[str, str]] = {}
    table = README.split("\n| variable | default | meaning |\n", 1)[1].split("\n\n", 1)[0]
    for line in table.splitlines()[1:]:
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        names = re.findall(r"`(ZOOM_INGEST_[A-Z_]+)`", cells[0])
        defaults = ["none"] * len(names) if cells[1] == "none" else re.findall(r"`([^`]*)`", cells[1])
        assert len(defaults) == len(names), f"one default per variable in: {line}"
        rows |= {name: (default, line) for name, default in zip(names, defaults, strict=True)}
    return rows


def as_documented(value: Any) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_readme_settings_table_lists_exactly_the_settings() -> None:
    documented = set(settings_rows())
    settings = {env_name(field) for field in Settings.model_fields}
    assert sorted(settings - documented) == [], "settings missing from the README's table"
    assert sorted(documented - settings) == [], "the README's table lists settings that do not exist"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_readme_gives_each_settings_default_and_limits(field: str) -> None:
    info = Settings.model_fields[field]
    default = info.get_default(call_default_factory=True)
    assert not isinstance(default, SecretStr), "a secret has no default"
    documented, row = settings_rows()[env_name(field)]
    assert documented == as_documented(default)
    limits = [
        bound
        for rule in info.metadata
        for bound in (getattr(rule, name, None) for name in ("ge", "gt", "le"))
        if isinstance(rule, Ge | Gt | Le) and bound is not None and bound not in OBVIOUS_LIMITS
    ]
    text = row.replace(",", "")
    for limit in limits:
        found = re.search(rf"(?<![\d.]){limit:g}(?![\d.])", text)
        assert found, f"{env_name(field)}: limit {limit} undocumented"


def environment_reads() -> set[str]:
    names = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            source = path.read_text()
            names |= set(re.findall(r"environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"", source))
            names |= set(re.findall(r"\"([A-Z][A-Z0-9_]+)\"\s+(?:not\s+)?in\s+os\.environ", source))
    return names - NOT_SETTINGS


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    reads = environment_reads()
    assert "ZOOM_INGEST_CACHE_DIR" in reads  # the scan finds what it should
    assert sorted(name for name in reads if f"`{name}`" not in DOCS) == []


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def long_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {
        flag
        for action in parser._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    }


def mentions(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def commands_section() -> str:
    return README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]


def test_readme_lists_every_command_with_its_flags() -> None:
    section = commands_section()
    rows = {
        match.group(1): line
        for line in section.splitlines()
        if (match := re.match(r"\| `zoom-ingest ([a-z-]+)", line))
    }
    assert sorted(rows) == sorted(subcommands())
    shared = section.split("Flags of several commands", 1)[1].split("\n\n", 1)[0]
    for name, parser in subcommands().items():
        missing = [flag for flag in long_flags(parser) if not mentions(rows[name] + shared, flag)]
        assert missing == [], f"zoom-ingest {name}: flags the README does not mention"
    for flag in long_flags(build_parser()):  # before the subcommand
        assert mentions(shared, flag)


def test_every_setting_flag_names_its_variable_in_its_help() -> None:
    for name, parser in [("zoom-ingest", build_parser()), *subcommands().items()]:
        for action in parser._actions:
            if not action.dest.startswith("setting_"):
                continue
            field = action.dest.removeprefix("setting_")
            assert field in Settings.model_fields, f"{name} {action.option_strings}: no setting {field}"
            assert env_name(field) in (action.help or ""), f"{name} {action.option_strings}"
