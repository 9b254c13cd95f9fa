"""Requests to the report APIs against the stand-in (tests/zoom_api.py): paging, Retry-After,
what is retried and what is not, and token caching."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx2
import pytest

from poller.api import ReportApi, build_http, retry_after
from poller.errors import PollError
from poller.oauth import TokenSource
from poller.streams import STREAMS
from shared.config import Settings, load_settings
from tests.zoom_api import OAUTH, Canned, ZoomApi, zoom_api

START, END = date(2026, 11, 30), date(2026, 12, 1)


@pytest.fixture
def api() -> Iterator[ZoomApi]:
    with zoom_api() as stand_in:
        yield stand_in


def settings_for(api: ZoomApi, **extra: object) -> Settings:
    return load_settings(
        zoom_api_url=api.url + "/",
        zoom_oauth_url=api.url,
        zoom_account_id=OAUTH["account_id"],
        zoom_client_id=OAUTH["client_id"],
        zoom_client_secret=OAUTH["client_secret"],
        poll_rate_per_second=0,
        **extra,
    )


class Waits(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(settings: Settings) -> tuple[ReportApi, Waits]:
    http = build_http(settings)
    waits = Waits()
    return ReportApi(settings, http, TokenSource(settings, http), waits), waits


def test_pages_follow_the_next_page_token(api: ZoomApi) -> None:
    reports, _ = client(settings_for(api, poll_page_size=50))
    stream = STREAMS["meeting_activity"]

    first = reports.page(stream, START, END, None)
    second = reports.page(stream, START, END, first.next_page_token)
    third = reports.page(stream, START, END, second.next_page_token)

    assert (first.next_page_token, second.next_page_token, third.next_page_token) == (
        "mock-page-2-token",
        "mock-page-3-token",
        None,
    )
    assert [len(page.records) for page in (first, second, third)] == [2, 1, 1]
    # compact JSON with sorted keys, as the reference re-encodes a record
    assert first.records[0].startswith('{"activity_category":"Meeting Started","activity_detail":')
    request = api.report_requests("meeting_activity")[1]
    assert request.query == {
        "activity_type": "All Activities",
        "from": "2026-11-30",
        "to": "2026-12-01",
        "page_size": "50",
        "next_page_token": "mock-page-2-token",
    }
    assert len(api.token_requests()) == 1  # cached


def test_429_waits_as_retry_after_says_and_5xx_backs_off(api: ZoomApi) -> None:
    api.fail_next(Canned(429, {"Retry-After": "7"}), Canned(503), Canned(502))
    reports, waits = client(settings_for(api))

    page = reports.page(STREAMS["activity"], START, END, None)

    assert len(page.records) == 2
    pauses = [seconds for seconds in waits if seconds > 0]
    assert pauses[0] == 7.0
    assert 1.0 <= pauses[1] <= 2.0 and 2.0 <= pauses[2] <= 4.0  # exponential per attempt, with jitter


def test_gives_up_once_retries_would_outlast_the_retry_budget(api: ZoomApi) -> None:
    api.fail_next(*[Canned(500, {}, {"code": 500, "message": "Internal error"})] * 3)
    reports, _ = client(settings_for(api, poll_retry_seconds=2))

    with pytest.raises(PollError) as raised:
        reports.page(STREAMS["operation"], START, END, None)
    assert raised.value.kind == "server_error"
    assert str(raised.value) == "GET /v2/report/operationlogs: HTTP 500 Internal Server Error: Internal error"


def test_a_missing_scope_is_not_retried(api: ZoomApi) -> None:
    message = "Invalid access token, does not contain scopes:[report:read:admin]."
    api.fail_next(Canned(400, {}, {"code": 4711, "message": message}))
    reports, waits = client(settings_for(api))

    with pytest.raises(PollError) as raised:
        reports.page(STREAMS["activity"], START, END, None)
    assert raised.value.kind == "http_400"
    assert message in str(raised.value) and "report scopes" in str(raised.value)
    assert not [seconds for seconds in waits if seconds > 0]


def test_a_refused_token_is_renewed_once(api: ZoomApi) -> None:
    reports, _ = client(settings_for(api))
    reports.page(STREAMS["activity"], START, END, None)
    api.expire_tokens()

    assert len(reports.page(STREAMS["activity"], START, END, None).records) == 2
    assert len(api.token_requests()) == 2


def test_unreachable_zoom_is_a_connection_error(api: ZoomApi) -> None:
    settings = settings_for(api, poll_retry_seconds=0).model_copy(
        update={"zoom_api_url": "http://127.0.0.1:9"}
    )
    reports, _ = client(settings)

    with pytest.raises(PollError) as raised:
        reports.page(STREAMS["activity"], START, END, None)
    assert raised.value.kind == "connection"
    assert "ConnectError reaching http://127.0.0.1:9" in str(raised.value)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        ("Tue, 01 Dec 2026 00:10:00 GMT", 600.0),
        ("2026-12-01T01:00:00Z", 3600.0),
        ("soon", None),
    ],
)
def test_retry_after_in_seconds_or_as_a_time(header: str, seconds: float | None) -> None:
    response = httpx2.Response(429, headers={"Retry-After": header})
    assert retry_after(response, now=datetime(2026, 12, 1, tzinfo=UTC)) == seconds


def test_a_token_endpoint_busy_or_down_is_retried_like_the_api(api: ZoomApi) -> None:
    api.fail_token_requests(Canned(429), Canned(503))
    reports, waits = client(settings_for(api))

    assert len(reports.page(STREAMS["activity"], START, END, None).records) == 2
    assert len([seconds for seconds in waits if seconds > 0]) == 2
    assert len(api.token_requests()) == 3
