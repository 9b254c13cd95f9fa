"""ops/registry.py: what the operator commands print of a Redis URL and of a job's failure."""

from __future__ import annotations

from ops.registry import failure_line, failure_reason, redacted_url


def test_redacted_url() -> None:
    assert redacted_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert redacted_url("rediss://user:p%40ss@host/1") == "rediss://user:***@host/1"
    assert redacted_url("redis://host:6379/0") == "redis://host:6379/0"
    assert (
        redacted_url("unix:///run/redis.sock?db=0&password=pw") == "unix:///run/redis.sock?db=0&password=***"
    )


TRACEBACK = """Traceback (most recent call last):
  File "worker/sink.py", line 1, in index
    raise ConnectionError(error)
ConnectionError: first failure

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "worker/job.py", line 2, in index_event
    raise IndexingError(detail) from error
worker.sink.IndexingError: bad document <object at 0x7f3a2b1c9d50>
second line of the message
"""


def test_failure_line_and_reason() -> None:
    assert failure_line(TRACEBACK) == "worker.sink.IndexingError: bad document <object at 0x7f3a2b1c9d50>"
    assert failure_reason(TRACEBACK) == "worker.sink.IndexingError: bad document <object at 0x…>"
    assert failure_line("IndexingError: refused\ndetail") == "IndexingError: refused"
    abandoned = "Moved to FailedJobRegistry, due to AbandonedJobError, at 2026-11-25 10:00:00.123+00:00"
    assert failure_reason(abandoned) == "Moved to FailedJobRegistry, due to AbandonedJobError"
    assert failure_line(None) == failure_line("") == "(no failure recorded)"
    long = failure_line("ValueError: " + "x" * 500)
    assert len(long) == 120
    assert long.endswith("…")
