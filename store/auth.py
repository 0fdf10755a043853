"""Bearer tokens and their scopes: only a token's SHA-256 is stored, and lookups compare in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.models import Q

from store.models import ApiToken, WhatsAppConversation

TOKEN_PREFIX = "wah_"
# last_used_at is informative; writing it on every request would cost a write per read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenScope:
    """Which conversations a credential may see: one business number, a list of customers, or all."""

    business: str | None = None
    customers: frozenset[str] = field(default_factory=frozenset)

    @property
    def unrestricted(self) -> bool:
        return self.business is None and not self.customers

    def allows(self, business: str, customers: Iterable[str]) -> bool:
        if self.business is not None and business != self.business:
            return False
        return not self.customers or any(c in self.customers for c in customers)

    def allows_conversation(self, conversation: WhatsAppConversation) -> bool:
        customers = [c for c in (conversation.phone_number, conversation.user_id) if c]
        return self.allows(conversation.business_phone_number_id, customers)

    def conversation_filter(self, prefix: str = "") -> Q:
        """A filter on conversations (or, with `prefix="conversation__"`, on related rows)."""
        query = Q()
        if self.business is not None:
            query &= Q(**{f"{prefix}business_phone_number_id": self.business})
        if self.customers:
            query &= Q(**{f"{prefix}phone_number__in": self.customers}) | Q(
                **{f"{prefix}user_id__in": self.customers}
            )
        return query


EVERYTHING = TokenScope()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking and what they may see."""

    user: User
    scope: TokenScope
    token_id: int | None = None


def issue_token(
    user: User,
    *,
    business: str | None = None,
    customers: Iterable[str] = (),
    expires_at: datetime | None = None,
) -> str:
    """Create a token for `user` and return its raw value; it cannot be recovered later."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user,
        key_hash=hash_token(raw),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        business_phone_number_id=business or "",
        phones=sorted(set(customers)),
        expires_at=expires_at,
    )
    return raw


def authenticate_token(raw: str) -> Principal | None:
    """The principal of a raw bearer token, or None for an unknown, expired or inactive one."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    digest = hash_token(raw)
    token = ApiToken.objects.select_related("user").filter(key_hash=digest).first()
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return None
    now = datetime.now(UTC)
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        record_use(token.pk, now)
    scope = TokenScope(business=token.business_phone_number_id or None, customers=frozenset(token.phones))
    return Principal(user=token.user, scope=scope, token_id=token.pk)


aauthenticate_token = sync_to_async(authenticate_token)


def record_use(token_pk: int, now: datetime) -> None:
    """Write a token's last_used_at without waiting for the write-ahead log to reach the disk.

    The figure is informative, and a crash that loses it loses nothing else; thousands of apps
    reconnecting at once with tokens unused for a minute would otherwise each wait for a WAL flush
    before their handshake completes. Inside a caller's transaction the write just joins it (turning
    synchronous commit off there would apply to the caller's own writes).
    """
    update = ApiToken.objects.filter(pk=token_pk)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        update.update(last_used_at=now)
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        update.update(last_used_at=now)


def session_principal(user: User | AnonymousUser | None) -> Principal | None:
    """A logged-in, active staff user (the console's users) sees every conversation; a session of any
    other user is no credential of the API or the sockets."""
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return None
    assert isinstance(user, User)
    return Principal(user=user, scope=EVERYTHING)
