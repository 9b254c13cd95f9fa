from __future__ import annotations

import hashlib
import hmac

import pytest

from receiver.authentication import AuthenticationError, Authenticator, crc_answer, sign

BODY = b'{"event":"meeting.started","payload":{}}'
NOW = 1_700_000_000


def authenticator(*tokens: str, header: tuple[str, str] | None = None, max_age: int = 7200) -> Authenticator:
    return Authenticator(
        tokens=tuple(token.encode() for token in tokens),
        header_name=header[0] if header else None,
        header_value=header[1].encode() if header else None,
        max_age_seconds=max_age,
    )


def headers(token: str, timestamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return {
        "x-zm-request-timestamp": str(timestamp),
        "x-zm-signature": sign(token.encode(), str(timestamp), body),
    }


def test_signature_matches_zoom_recipe() -> None:
    # Zoom: "v0=" + hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))
    expected = "v0=" + hmac.new(b"s3cret", b"v0:1700000000:" + BODY, hashlib.sha256).hexdigest()
    assert sign(b"s3cret", "1700000000", BODY) == expected


def test_crc_answer_is_hmac_of_plain_token() -> None:
    answer = crc_answer("qgg8vlvZRS6UYooatFL8Aw", b"s3cret")
    digest = hmac.new(b"s3cret", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert answer == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": digest}


def test_any_configured_token_verifies_and_is_returned() -> None:
    auth = authenticator("old-token", "new-token")
    assert auth.authenticate(headers("new-token"), BODY, NOW) == b"new-token"
    assert auth.authenticate(headers("old-token"), BODY, NOW) == b"old-token"


@pytest.mark.parametrize(
    ("request_headers", "reason"),
    [
        ({}, "missing x-zm-signature"),
        (headers("other-token"), "does not match"),
        ({**headers("token"), "x-zm-request-timestamp": "soon"}, "not a Unix time"),
        (headers("token", timestamp=NOW - 7201), "outside the accepted window"),
    ],
)
def test_rejections_say_why(request_headers: dict[str, str], reason: str) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        authenticator("token").authenticate(request_headers, BODY, NOW)


def test_signature_covers_the_exact_body_bytes() -> None:
    reserialised = b'{"event": "meeting.started", "payload": {}}'
    with pytest.raises(AuthenticationError):
        authenticator("token").authenticate(headers("token"), reserialised, NOW)


def test_window_zero_accepts_old_timestamps() -> None:
    assert (
        authenticator("token", max_age=0).authenticate(headers("token", timestamp=1), BODY, NOW) == b"token"
    )


def test_extra_header_is_required_as_well_as_signature() -> None:
    auth = authenticator("token", header=("x-custom", "letmein"))
    with pytest.raises(AuthenticationError, match="x-custom"):
        auth.authenticate(headers("token"), BODY, NOW)
    with pytest.raises(AuthenticationError, match="x-custom"):
        auth.authenticate({**headers("token"), "x-custom": "wrong"}, BODY, NOW)
    assert auth.authenticate({**headers("token"), "x-custom": "letmein"}, BODY, NOW) == b"token"


def test_header_alone_is_enough_when_no_tokens() -> None:
    assert (
        authenticator(header=("authorization", "Bearer abc")).authenticate(
            {"authorization": "Bearer abc"}, BODY, NOW
        )
        is None
    )
