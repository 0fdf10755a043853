"""Test clients that reach the API as it is deployed: over HTTPS behind a proxy."""

from __future__ import annotations

from typing import Any

from django.test import Client

# With DEBUG off (any DATABASE_URL) plain HTTP is redirected to HTTPS; the proxy header marks the
# request as secure, as the TLS-terminating proxy in front of the hub does.
BEHIND_TLS_PROXY = {"X-Forwarded-Proto": "https", "Host": "testserver"}


def make_client(*, authorization: str | None = None, **kwargs: Any) -> Client:
    headers = dict(BEHIND_TLS_PROXY)
    if authorization is not None:
        headers["Authorization"] = authorization
    return Client(headers=headers, **kwargs)
