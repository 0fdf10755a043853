"""Who is on the other end of a socket.

Credentials, first found wins: `Authorization: Bearer` (native clients, which send no Origin), the
`bearer, <token>` subprotocol pair (browsers without a session), `?token=`, and last the Django session
cookie, which counts only when the Origin header names an allowed host: a browser sends the cookie of
this site along with a handshake that any other page starts (cross-site WebSocket hijacking). "This site"
is the handshake's own scheme, host and port (or one of CSRF_TRUSTED_ORIGINS), as Django's CSRF check
compares them: another port of the same host is another site. The session is read from the cookie here,
only for such a handshake, so the WebSocket stack needs no session middleware (which would keep a session
object per socket).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from realtime.replay import db_call
from store.auth import Principal, authenticate_token, session_principal
from store.credentials import Credential

BEARER_SUBPROTOCOL = "bearer"
DEFAULT_PORTS = {"http": 80, "https": 443}

Scope = Mapping[str, Any]


def query_params(scope: Scope) -> dict[str, str]:
    """The query string's parameters, the last value of each."""
    raw = scope.get("query_string", b"")
    text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def offered_subprotocol(scope: Scope) -> str | None:
    """`bearer` when the client offered it: it must be echoed, or a browser drops the connection."""
    return BEARER_SUBPROTOCOL if BEARER_SUBPROTOCOL in scope.get("subprotocols", []) else None


def find_token(scope: Scope) -> str | None:
    authorization = header(scope, b"authorization")
    if authorization is not None:
        kind, _, value = authorization.strip().partition(" ")
        if kind.lower() == "bearer":
            return value.strip()
    subprotocols = list(scope.get("subprotocols", []))
    if BEARER_SUBPROTOCOL in subprotocols:
        others = [p for p in subprotocols if p != BEARER_SUBPROTOCOL]
        if others:
            return str(others[0])
    return query_params(scope).get("token")


def origin_parts(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, the port filled in from the scheme; None when it is not one."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def handshake_scheme(scope: Scope) -> str:
    """`https` or `http`: what the browser used (SECURE_PROXY_SSL_HEADER's word behind a proxy)."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        name, secure = proxy
        seen = header(scope, name.removeprefix("HTTP_").replace("_", "-").lower().encode())
        if seen is not None:
            return "https" if seen.split(",", 1)[0].strip() == secure else "http"
    return "https" if scope.get("scheme") == "wss" else "http"


def origin_allowed(scope: Scope) -> bool:
    """True when the Origin header names this site: the handshake's scheme, host (one of ALLOWED_HOSTS)
    and port, or one of CSRF_TRUSTED_ORIGINS."""
    seen = origin_parts(header(scope, b"origin") or "")
    if seen is None:
        return False
    allowed = list(settings.CSRF_TRUSTED_ORIGINS)
    host = header(scope, b"host") or ""
    domain, _port = split_domain_port(host)
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        allowed.append(f"{handshake_scheme(scope)}://{host}")
    return any(origin_parts(origin) == seen for origin in allowed)


def session_key(scope: Scope) -> str | None:
    """The handshake's session key (the session middleware's, when one ran)."""
    if "session" in scope:
        key = scope["session"].session_key
        return str(key) if key else None
    return parse_cookie(header(scope, b"cookie") or "").get(settings.SESSION_COOKIE_NAME) or None


async def session_user(scope: Scope) -> User | AnonymousUser | None:
    """The user of the handshake's session cookie (the session middleware's, when one ran)."""
    if "session" in scope:
        return await get_user(scope)  # type: ignore[no-any-return]
    key = session_key(scope)
    if not key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    return await get_user({"session": store})  # type: ignore[no-any-return]


async def authenticate_socket(scope: Scope) -> tuple[Principal, Credential] | None:
    """The principal behind the handshake and the credential to re-check while the socket lives, or None.
    A token that fails never falls back to the cookie."""
    token = find_token(scope)
    if token is not None:
        # In the pool of database threads, not the one thread-sensitive thread: a burst of handshakes
        # (a deploy, a network blip) then looks its tokens up side by side instead of one at a time.
        principal = await db_call(authenticate_token, token)
        if principal is None:
            return None
        return principal, Credential(principal.user.pk, principal.scope, token_id=principal.token_id)
    if not origin_allowed(scope):
        return None
    principal = session_principal(await session_user(scope))
    if principal is None:
        return None
    return principal, Credential(principal.user.pk, principal.scope, session_key=session_key(scope))
