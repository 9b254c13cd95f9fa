"""Why a poll failed, in words an operator can act on (never a secret, never record data)."""

from __future__ import annotations


class PollError(Exception):
    """A request failed for good (after retries, or at once when retrying cannot help).

    kind: a short label for metrics (oauth, unauthorized, forbidden, rate_limited, server_error,
    connection, bad_response, http_<status>). retry_after: seconds Zoom asked us to wait, if it did.
    """

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class Stopped(Exception):
    """The poller was asked to stop, or lost its lease, while waiting: abandon the poll."""
