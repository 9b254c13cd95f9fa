"""One line of `zoom-ingest check`: a check's name, its status, what was found and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class Result:
    check: str
    status: CheckStatus
    detail: str
    fix: str = ""


def ok(check: str, detail: str) -> Result:
    return Result(check, "OK", detail)


def warn(check: str, detail: str, fix: str) -> Result:
    return Result(check, "WARN", detail, fix)


def fail(check: str, detail: str, fix: str) -> Result:
    return Result(check, "FAIL", detail, fix)
