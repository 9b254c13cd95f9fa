"""Who may post events: Zoom's x-zm-signature, an optional shared header, and the CRC answer.

Zoom signs `v0:<x-zm-request-timestamp>:<raw body>` with HMAC-SHA256 keyed by the app's Secret Token.
Several tokens may be configured (several apps on one URL, or a rotation in progress); a request is
genuine if any of them verifies it, and the CRC challenge is answered with that same token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import Settings

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"


class AuthenticationError(Exception):
    """The request is not from a configured sender. The message is safe to return and log."""


def sign(token: bytes, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(token, message, hashlib.sha256).hexdigest()


def crc_answer(plain_token: str, token: bytes) -> dict[str, str]:
    encrypted = hmac.new(token, plain_token.encode("utf-8"), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


@dataclass(frozen=True)
class Authenticator:
    tokens: tuple[bytes, ...]
    header_name: str | None
    header_value: bytes | None
    max_age_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        return cls(
            tokens=tuple(token.get_secret_value().encode("utf-8") for token in settings.secret_tokens),
            header_name=settings.auth_header.lower() if settings.auth_header else None,
            header_value=(
                settings.auth_value.get_secret_value().encode("utf-8") if settings.auth_value else None
            ),
            max_age_seconds=settings.signature_max_age_seconds,
        )

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> bytes | None:
        """Check a request; return the Secret Token that signed it (None when signatures are off).

        Raises AuthenticationError with the reason otherwise.
        """
        if self.header_name is not None and self.header_value is not None:
            presented = headers.get(self.header_name, "").encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(presented, self.header_value):
                raise AuthenticationError(f"missing or wrong {self.header_name} header")
        if not self.tokens:
            return None
        signature = headers.get(SIGNATURE_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise AuthenticationError(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
        # Unix seconds have 10 digits until the year 2286; a longer one is garbage (and huge ones
        # would overflow the arithmetic below).
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise AuthenticationError(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
        if self.max_age_seconds and abs(now - int(timestamp)) > self.max_age_seconds:
            raise AuthenticationError(f"{TIMESTAMP_HEADER} is outside the accepted window")
        presented_signature = signature.encode("utf-8", "surrogateescape")
        verified = None
        # Every token is tried, so the time taken does not tell which one (if any) matched.
        for token in self.tokens:
            expected = sign(token, timestamp, body).encode("ascii")
            if hmac.compare_digest(expected, presented_signature) and verified is None:
                verified = token
        if verified is None:
            raise AuthenticationError(f"{SIGNATURE_HEADER} does not match any configured secret token")
        return verified
