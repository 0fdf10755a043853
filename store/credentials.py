"""Credentials that outlive their check: revoking tokens, and re-checking the ones live sockets hold.

A socket authenticates once, at its handshake, and may then stay open for hours. The fan-out process
re-checks every live socket's credential on an interval with `list_valid_credentials`: one query for all
the tokens and, for sessions, one for the session rows and one for their users, however many sockets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db.models import Q, QuerySet
from django.utils.crypto import constant_time_compare

from store.auth import TokenScope
from store.models import ApiToken

DB_SESSION_ENGINE = "django.contrib.sessions.backends.db"


@dataclass(frozen=True, slots=True)
class Credential:
    """What a socket authenticated with: a token (by id) or a session (by key), its user and its scope."""

    user_id: int
    scope: TokenScope
    token_id: int | None = None
    session_key: str | None = None


def revoke_tokens(tokens: QuerySet[ApiToken]) -> int:
    """Expire the tokens now (the row stays, for its audit fields); returns how many were still valid.

    A revoked token is refused by every later request, and the sockets that hold it close with 4401
    at their next credential check (docs/websocket.md).
    """
    now = datetime.now(UTC)
    return tokens.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).update(expires_at=now)


def list_valid_credentials(credentials: Iterable[Credential]) -> set[Credential]:
    """The credentials that would still authenticate with the same scope; each kind read in one query."""
    wanted = set(credentials)
    tokens = [c for c in wanted if c.token_id is not None]
    sessions = [c for c in wanted if c.token_id is None and c.session_key]
    return _valid_tokens(tokens) | _valid_sessions(sessions)


def _valid_tokens(credentials: list[Credential]) -> set[Credential]:
    if not credentials:
        return set()
    now = datetime.now(UTC)
    rows = ApiToken.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        pk__in={c.token_id for c in credentials},
        user__is_active=True,
    ).values_list("pk", "user_id", "business_phone_number_id", "phones")
    current = {
        pk: (user_id, TokenScope(business=business or None, customers=frozenset(phones)))
        for pk, user_id, business, phones in rows
    }
    return {c for c in credentials if c.token_id in current and current[c.token_id] == (c.user_id, c.scope)}


def _valid_sessions(credentials: list[Credential]) -> set[Credential]:
    if not credentials:
        return set()
    data = _load_sessions({c.session_key for c in credentials if c.session_key})
    users = {
        user.pk: user
        for user in User.objects.filter(
            pk__in={c.user_id for c in credentials}, is_active=True, is_staff=True
        )
    }
    return {
        c
        for c in credentials
        if c.session_key in data and _session_is_users(data[c.session_key], users.get(c.user_id))
    }


def _load_sessions(keys: set[str]) -> dict[str, dict[str, Any]]:
    """The decoded data of the sessions that still exist and have not expired."""
    engine = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE == DB_SESSION_ENGINE:
        rows = Session.objects.filter(session_key__in=keys, expire_date__gt=datetime.now(UTC))
        decoder = engine.SessionStore()
        return {row.session_key: decoder.decode(row.session_data) for row in rows}
    # Other engines have no bulk read: one load each (sessions are consoles, a few per process).
    loaded = {key: engine.SessionStore(key).load() for key in keys}
    return {key: data for key, data in loaded.items() if data}


def _session_is_users(data: dict[str, Any], user: User | None) -> bool:
    """True while the session logs in `user` as Django's `get_user` checks it (a password change, or a
    logout, ends it)."""
    if user is None or str(data.get(SESSION_KEY)) != str(user.pk):
        return False
    if data.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return False
    stored = data.get(HASH_SESSION_KEY) or ""
    if not stored:
        return False
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, expected) for expected in hashes)
