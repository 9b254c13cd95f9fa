"""Zoom Server-to-Server OAuth: an access token for the account, cached until shortly before it
expires (an hour) and fetched again then, or at once when Zoom answers 401 to a request.

`POST <oauth url>/oauth/token` with HTTP Basic client_id:client_secret and the form
`grant_type=account_credentials&account_id=...` (SPEC section 1.2). There is no refresh token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2

from poller.errors import PollError
from shared.config import Settings

# Renewed this long before Zoom says it expires, so a token never dies between check and use.
EXPIRY_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float
    scopes: frozenset[str]


class TokenSource:
    def __init__(
        self, settings: Settings, http: httpx2.Client, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not settings.poller_configured:
            raise ValueError("the Zoom OAuth credentials are not configured")
        self.url = settings.zoom_oauth_url.rstrip("/") + "/oauth/token"
        self.account_id = settings.zoom_account_id or ""
        self.client_id = settings.zoom_client_id or ""
        assert settings.zoom_client_secret is not None
        self._secret = settings.zoom_client_secret
        self.http = http
        self.clock = clock
        self.cached: Token | None = None

    def token(self) -> Token:
        if self.cached is None or self.clock() >= self.cached.expires_at:
            self.cached = self.fetch()
        return self.cached

    def invalidate(self) -> None:
        """Zoom refused the cached token (revoked, or expired early): fetch a new one next time."""
        self.cached = None

    def fetch(self) -> Token:
        """A new token. Raises PollError: kind `oauth` when Zoom refuses the credentials,
        `connection`, `server_error` or `rate_limited` when it could not answer (worth retrying)."""
        try:
            response = self.http.post(
                self.url,
                data={"grant_type": "account_credentials", "account_id": self.account_id},
                auth=(self.client_id, self._secret.get_secret_value()),
            )
        except httpx2.TransportError as error:
            raise PollError(
                "connection", f"Zoom OAuth at {self.url} unreachable: {type(error).__name__}"
            ) from None
        if response.status_code >= 500:
            raise PollError("server_error", f"Zoom OAuth at {self.url} answered HTTP {response.status_code}")
        if response.status_code == 429:  # not the credentials' fault: backed off like any 429
            raise PollError("rate_limited", f"Zoom OAuth at {self.url} answered HTTP 429 Too Many Requests")
        body = _json_object(response)
        value = body.get("access_token")
        if response.status_code != 200 or not isinstance(value, str) or not value:
            reason = body.get("reason") or body.get("error") or response.reason_phrase
            raise PollError(
                "oauth",
                f"Zoom OAuth refused the credentials of client {self.client_id!r} for account "
                f"{self.account_id!r}: HTTP {response.status_code} {str(reason)[:200]} (check "
                "ZOOM_INGEST_ZOOM_ACCOUNT_ID, ZOOM_INGEST_ZOOM_CLIENT_ID, ZOOM_INGEST_ZOOM_CLIENT_SECRET "
                "and that the Server-to-Server OAuth app is activated)",
            )
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        scopes = frozenset(str(body.get("scope") or "").split())
        return Token(value, self.clock() + max(0.0, lifetime - EXPIRY_MARGIN_SECONDS), scopes)


def _json_object(response: httpx2.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
