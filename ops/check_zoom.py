"""`zoom-ingest check`, the poller's part: Zoom accepts the OAuth credentials, and the token carries
the scopes the enabled reports need. Only when the poller is configured."""

from __future__ import annotations

from ops.check_result import Result, fail, ok
from poller.api import build_http
from poller.errors import PollError
from poller.oauth import TokenSource
from poller.streams import CLASSIC_SCOPE, STREAMS
from shared.config import Settings

ZOOM_TIMEOUT_SECONDS = 5.0
CREDENTIALS_FIX = (
    "check ZOOM_INGEST_ZOOM_ACCOUNT_ID, ZOOM_INGEST_ZOOM_CLIENT_ID and ZOOM_INGEST_ZOOM_CLIENT_SECRET "
    "against "
    "the Server-to-Server OAuth app in Zoom's App Marketplace, and that the app is activated"
)


def check_zoom(settings: Settings) -> list[Result]:
    if not settings.poller_configured:
        return []
    timed = settings.model_copy(update={"poll_request_timeout_seconds": ZOOM_TIMEOUT_SECONDS})
    with build_http(timed) as http:
        try:
            token = TokenSource(timed, http).fetch()
        except PollError as error:
            if error.kind == "oauth":
                return [fail("zoom oauth", str(error), CREDENTIALS_FIX)]
            return [
                fail("zoom oauth", str(error), f"make {settings.zoom_oauth_url} reachable from this host")
            ]
    results = [ok("zoom oauth", f"token issued for account {settings.zoom_account_id}")]
    missing = [
        STREAMS[stream].scope
        for stream in settings.poll_streams
        if CLASSIC_SCOPE not in token.scopes and STREAMS[stream].scope not in token.scopes
    ]
    if missing:
        results.append(
            fail(
                "zoom scopes",
                f"the token lacks {', '.join(missing)} (has: {' '.join(sorted(token.scopes)) or 'none'})",
                f"add these scopes (or {CLASSIC_SCOPE}) to the app, or drop the streams from "
                "ZOOM_INGEST_POLL_STREAMS",
            )
        )
    else:
        results.append(ok("zoom scopes", f"the token covers {', '.join(settings.poll_streams)}"))
    return results
