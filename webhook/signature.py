"""Pure verification of Meta's `X-Hub-Signature-256` header and the GET subscription handshake."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def compute_signature(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for `body`: `sha256=` and the hex HMAC-SHA256 of the raw bytes."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` signs exactly these bytes; compared in constant time.

    The hash is over the raw body as received: Meta signs its escaped-unicode serialization, so a
    re-encoded body would not match.
    """
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = compute_signature(app_secret, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def verify_subscription(params: dict[str, str], verify_token: str) -> str | None:
    """The `hub.challenge` to echo when Meta's GET handshake carries our verify token, else None."""
    if params.get("hub.mode") != "subscribe":
        return None
    token = params.get("hub.verify_token", "")
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge", "")
