"""Running `zoom-ingest check` in-process and reading its --json report, for the tests of each
group of checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ops.cli import main
from ops.services import ElasticsearchNode
from tests.faults import FaultProxy

Results = dict[str, dict[str, str]]


def check(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, Results, str]:
    code = main(["check", "--json", *arguments])
    out = capsys.readouterr().out
    return code, {result["check"]: result for result in json.loads(out)}, out


def proxied_check(
    capsys: pytest.CaptureFixture[str], es_node: ElasticsearchNode, **faults: Any
) -> tuple[int, Results, str, FaultProxy]:
    """Check against the test node behind a FaultProxy injecting `faults`."""
    with FaultProxy(es_node.url, **faults) as proxy:
        code, results, out = check(capsys, "--es-hosts", proxy.url)
    return code, results, out, proxy
