"""Requests to Zoom's report APIs: one page at a time, within the client-side rate limit, with the
token renewed on a 401 and backoff on 429 (Retry-After honoured), 5xx and connection errors.

A failure that outlasts ZOOM_INGEST_POLL_RETRY_SECONDS, or that retrying cannot fix (a refused
token, a missing scope, a bad request), is raised as a PollError.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2

from poller import metrics
from poller.errors import PollError
from poller.limiter import RateLimiter
from poller.oauth import TokenSource
from poller.streams import ReportStream
from shared.config import Settings

log = logging.getLogger("zoom_ingest.poller")

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0


@dataclass(frozen=True)
class Page:
    # each record as compact JSON with sorted keys, as Elastic's integration re-encodes it
    records: list[str]
    next_page_token: str | None


def build_http(settings: Settings) -> httpx2.Client:
    return httpx2.Client(timeout=settings.poll_request_timeout_seconds, follow_redirects=False)


class ReportApi:
    def __init__(
        self,
        settings: Settings,
        http: httpx2.Client,
        tokens: TokenSource,
        wait: Callable[[float], None],
    ) -> None:
        """`wait(seconds)` pauses (raising poller.errors.Stopped to abandon the poll)."""
        self.settings = settings
        self.base = settings.zoom_api_url.rstrip("/")
        self.http = http
        self.tokens = tokens
        self.wait = wait
        self.limiter = RateLimiter(settings.poll_rate_per_second, settings.poll_rate_burst)

    def page(self, stream: ReportStream, start: date, end: date, page_token: str | None) -> Page:
        params: dict[str, Any] = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "page_size": self.settings.poll_page_size,
        }
        if stream.name == "meeting_activity":
            params["activity_type"] = self.settings.poll_meeting_activity_type
        if page_token:
            params["next_page_token"] = page_token
        return _page(stream, self._get(stream, params))

    def _get(self, stream: ReportStream, params: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.poll_retry_seconds
        where = f"GET {stream.path}"
        attempt = 0
        renewed = False
        while True:
            self.wait(0)  # keeps the lease (or stops) before every request
            while (delay := self.limiter.delay()) > 0:
                self.wait(delay)
            try:
                token = self.tokens.token()
                response = self.http.get(
                    self.base + stream.path,
                    params=params,
                    headers={"Authorization": f"Bearer {token.value}"},
                )
            except httpx2.TransportError as error:
                failure = PollError("connection", f"{where}: {type(error).__name__} reaching {self.base}")
                pause = _backoff(attempt)
            except PollError as error:
                if error.kind == "oauth":
                    raise
                failure, pause = error, _backoff(attempt)
            else:
                status = response.status_code
                if status == 200:
                    return _json_body(response, where)
                if status == 401 and not renewed:
                    # Expired or revoked early: one new token, then the request again.
                    log.info("zoom refused the access token (%s); fetching a new one", where)
                    self.tokens.invalidate()
                    renewed = True
                    continue
                failure = _http_failure(response, where)
                if failure.kind not in ("rate_limited", "server_error"):
                    raise failure
                pause = failure.retry_after if failure.retry_after is not None else _backoff(attempt)
            attempt += 1
            if time.monotonic() + pause > deadline:
                raise failure
            metrics.RETRIES.labels(stream.name, failure.kind).inc()
            log.warning("%s; retry %d in %.1fs", failure, attempt, pause)
            self.wait(pause)


def _backoff(attempt: int) -> float:
    """Exponential with jitter: about 1, 2, 4 ... seconds, at most BACKOFF_MAX_SECONDS."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)


def _http_failure(response: httpx2.Response, where: str) -> PollError:
    status = response.status_code
    detail = _zoom_message(response)
    message = f"{where}: HTTP {status} {response.reason_phrase}" + (f": {detail}" if detail else "")
    if status == 429:
        return PollError("rate_limited", message, retry_after(response))
    if status >= 500:
        return PollError("server_error", message, None)
    kinds = {401: "unauthorized", 403: "forbidden"}
    if status in (401, 403) or "scope" in detail.lower():
        message += " (does the app have the report scopes? see README)"
    return PollError(kinds.get(status, f"http_{status}"), message)


def _zoom_message(response: httpx2.Response) -> str:
    """Zoom's error message ({"code": ..., "message": ...}), cut short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:200]
    return ""


def retry_after(response: httpx2.Response, now: datetime | None = None) -> float | None:
    """Seconds to wait from Retry-After: a number of seconds, an HTTP date or an ISO-8601 time."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    moment: datetime | None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _json_body(response: httpx2.Response, where: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise PollError("bad_response", f"{where}: the response is not JSON") from None
    if not isinstance(body, dict):
        raise PollError("bad_response", f"{where}: the response is not a JSON object")
    return body


def _page(stream: ReportStream, body: dict[str, Any]) -> Page:
    records = body.get(stream.records_key) or []
    if not isinstance(records, list):
        raise PollError("bad_response", f"GET {stream.path}: {stream.records_key} is not a list")
    token = body.get("next_page_token")
    encoded = [
        json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for record in records
    ]
    return Page(encoded, token if isinstance(token, str) and token else None)
