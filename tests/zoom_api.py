"""A local stand-in for Zoom's OAuth and report APIs, for tests only (the product never imports it).

It serves what the reference's end-to-end mock serves (tests/data/polling/zoom_api.json): the
account's token for the right credentials, and for each report three pages for a window of
several days (first page, then by page token) and one page for a one-day window. Unlike that mock,
a window's pages are the same however often they are asked for, as a real API's would be.

Tests can script faults: canned responses for the next report or token requests (`fail_next`,
`fail_token_requests`), a page that
hangs until released (`hold`), and tokens revoked early (`expire_tokens`). Every request is logged.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support import TEST_DATA

DATA = json.loads((TEST_DATA / "polling" / "zoom_api.json").read_text())
OAUTH = DATA["oauth"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    authorization: str


@dataclass
class Canned:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)


class ZoomApi:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.valid_tokens: set[str] = set()
        self.issued = 0
        self.canned: list[Canned] = []
        self.canned_tokens: list[Canned] = []
        self.held: dict[str, threading.Event] = {}
        self.arrived: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.url = ""

    # --- what tests use ---------------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        """The settings (field names) that point a poller at this stand-in with its credentials."""
        return {
            "zoom_api_url": self.url,
            "zoom_oauth_url": self.url,
            "zoom_account_id": OAUTH["account_id"],
            "zoom_client_id": OAUTH["client_id"],
            "zoom_client_secret": OAUTH["client_secret"],
        }

    def fail_next(self, *responses: Canned) -> None:
        """Answer the next report requests with these, in order, before serving pages again."""
        with self.lock:
            self.canned.extend(responses)

    def fail_token_requests(self, *responses: Canned) -> None:
        """Answer the next token requests with these, in order."""
        with self.lock:
            self.canned_tokens.extend(responses)

    def hold(self, page_token: str) -> tuple[threading.Event, threading.Event]:
        """Requests for this page token wait until the returned `release` is set; `arrived` is set
        when one comes in."""
        release, arrived = threading.Event(), threading.Event()
        self.held[page_token] = release
        self.arrived[page_token] = arrived
        return release, arrived

    def expire_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def report_requests(self, stream: str) -> list[Request]:
        path = DATA["streams"][stream]["path"]
        return [request for request in self.requests if request.path == path]

    def token_requests(self) -> list[Request]:
        return [request for request in self.requests if request.path == "/oauth/token"]

    @staticmethod
    def records(stream: str, start: str, end: str, *, windows: int = 2) -> list[dict[str, Any]]:
        """The records served for a multi-day window start..end, then (windows=2) for end..end."""
        spec = DATA["streams"][stream]
        pages = [spec["first_page"], *spec["pages_by_token"].values()]
        if windows == 2:
            pages.append(spec["second_first_page"])
        found = []
        for number, page in enumerate(pages):
            window = (end, end) if number == 3 else (start, end)
            found += fill(page, *window)[spec["records_key"]]
        return found

    # --- serving ----------------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], dict[str, Any]]:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query))
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        authorization = handler.headers.get("authorization") or ""
        with self.lock:
            self.requests.append(Request(handler.command, parts.path, query, authorization))
        if parts.path == "/oauth/token" and handler.command == "POST":
            form = query | dict(parse_qsl(body))
            return self.token(authorization, handler.headers.get("content-type") or "", form)
        for spec in DATA["streams"].values():
            if parts.path == spec["path"] and handler.command == "GET":
                return self.report(spec, authorization, query)
        return 404, {}, {"code": 404, "message": "no such endpoint"}

    def token(
        self, authorization: str, content_type: str, form: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self.lock:
            canned = self.canned_tokens.pop(0) if self.canned_tokens else None
        if canned is not None:
            return canned.status, canned.headers, canned.body
        expected = (
            "Basic " + base64.b64encode(f"{OAUTH['client_id']}:{OAUTH['client_secret']}".encode()).decode()
        )
        if authorization != expected or not content_type.startswith("application/x-www-form-urlencoded"):
            return 400, {}, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
        if form.get("grant_type") != "account_credentials" or form.get("account_id") != OAUTH["account_id"]:
            return 400, {}, {"reason": "Invalid account_id", "error": "invalid_request"}
        with self.lock:
            self.issued += 1
            value = f"{OAUTH['response']['access_token']}-{self.issued}"
            self.valid_tokens.add(value)
        return 200, {}, OAUTH["response"] | {"access_token": value}

    def report(
        self, spec: dict[str, Any], authorization: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if authorization.removeprefix("Bearer ") not in self.valid_tokens:
            return 401, {}, {"code": 124, "message": "Invalid access token."}
        with self.lock:
            canned = self.canned.pop(0) if self.canned else None
        if canned is not None:
            return canned.status, canned.headers, canned.body
        page_token = query.get("next_page_token")
        if page_token in self.held:
            self.arrived[page_token].set()
            self.held[page_token].wait(timeout=60)
        start, end = query.get("from", ""), query.get("to", "")
        if page_token:
            page = spec["pages_by_token"].get(page_token)
            if page is None:
                return 400, {}, {"code": 300, "message": "The next page token is invalid or expired."}
        else:
            page = spec["first_page"] if start != end else spec["second_first_page"]
        return 200, {}, fill(page, start, end)


def fill(page: dict[str, Any], start: str, end: str) -> dict[str, Any]:
    """The page with the request's dates where the mock rules have {from} and {to}."""
    text = json.dumps(page).replace("{from}", start).replace("{to}", end)
    return dict(json.loads(text))


class _Handler(BaseHTTPRequestHandler):
    api: ZoomApi

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        status, headers, body = self.api.handle(self)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def zoom_api() -> Iterator[ZoomApi]:
    """A stand-in listening on a free loopback port (its url in `.url`) for the block."""
    api = ZoomApi()
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        for release in api.held.values():
            release.set()
        server.shutdown()
        server.server_close()
