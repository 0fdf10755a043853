"""Finding, creating and locking conversations by customer, in an order that cannot deadlock."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import Q

from store.columns import fit
from store.models import WhatsAppConversation

# Customer keys per locking statement on SQLite: two OR terms each, well under its depth limit of 1,000.
LOCK_CHUNK = 200
# (business phone number id, wa_id or None, BSUID or None)
CustomerKey = tuple[str, str | None, str | None]


def make_key(business: str, wa_id: str | None, user_id: str | None) -> CustomerKey:
    """A customer key cut to the column sizes, so lookups and inserts always agree."""

    model = WhatsAppConversation
    return (
        fit(model, "business_phone_number_id", business),
        fit(model, "phone_number", wa_id) if wa_id else None,
        fit(model, "user_id", user_id) if user_id else None,
    )


def customer_filter(business: str | None, customer: str) -> Q:
    """Conversations of `customer` (a wa_id or a BSUID), optionally of one business number."""
    query = Q(phone_number=customer) | Q(user_id=customer)
    if business:
        query &= Q(business_phone_number_id=business)
    return query


def _key_filter(keys: Iterable[CustomerKey]) -> Q:
    query = Q()
    for business, wa_id, user_id in keys:
        if wa_id:
            query |= Q(business_phone_number_id=business, phone_number=wa_id)
        if user_id:
            query |= Q(business_phone_number_id=business, user_id=user_id)
    return query


def _match(key: CustomerKey, conversations: Iterable[WhatsAppConversation]) -> WhatsAppConversation | None:
    """The conversation of `key`; a match by wa_id is preferred (what the original integration keyed on)."""
    business, wa_id, user_id = key
    matches = [
        c
        for c in conversations
        if c.business_phone_number_id == business
        and ((wa_id and c.phone_number == wa_id) or (user_id and c.user_id == user_id))
    ]
    matches.sort(key=lambda c: (c.phone_number != wa_id, c.pk))
    return matches[0] if matches else None


def _lock(keys: Iterable[CustomerKey]) -> list[WhatsAppConversation]:
    """Lock the conversations of `keys`, in primary-key order.

    One OR term per identity: SQLite refuses an expression tree deeper than 1,000, so keys go in chunks
    (on SQLite the writer already holds the database lock; on PostgreSQL one statement keeps pk order).
    """
    ordered = sorted(keys, key=_sort_key)
    step = len(ordered) if connection.vendor == "postgresql" else LOCK_CHUNK
    found: dict[int, WhatsAppConversation] = {}
    for start in range(0, len(ordered), max(step, 1)):
        query = _key_filter(ordered[start : start + step])
        if query:
            # The assignee's name comes with the row (the events' JSON carries it); only the
            # conversation is locked.
            locked = WhatsAppConversation.objects.select_related("assignee").select_for_update(of=("self",))
            for conversation in locked.filter(query):
                found[conversation.pk] = conversation
    return [found[pk] for pk in sorted(found)]


def lock_conversations(
    create: Iterable[CustomerKey], existing_only: Iterable[CustomerKey] = ()
) -> dict[CustomerKey, WhatsAppConversation]:
    """Lock the conversations of these customers (creating those in `create`), fresh from the database.

    Existing rows are locked in one statement, in primary-key order. Missing ones are inserted in one
    statement that skips conflicts (another transaction may be creating the same customer: insert and
    let the unique constraint decide, never check-then-insert), then locked like the others. A
    transaction that waits on another's insert holds only rows the other already passed, so two
    transactions touching the same conversations queue instead of deadlocking.
    """
    to_create = set(create)
    keys = to_create | set(existing_only)
    known = _lock(keys)
    missing = [key for key in sorted(to_create, key=_sort_key) if _match(key, known) is None]
    if missing:
        new: list[WhatsAppConversation] = []
        for business, wa_id, user_id in missing:
            # Two keys of one batch may name one customer (a wa_id, then the same wa_id with a BSUID).
            if _match((business, wa_id, user_id), new) is None:
                new.append(
                    WhatsAppConversation(
                        business_phone_number_id=business, phone_number=wa_id, user_id=user_id
                    )
                )
        WhatsAppConversation.objects.bulk_create(new, ignore_conflicts=True)
        known += _lock(missing)
    result: dict[CustomerKey, WhatsAppConversation] = {}
    for key in keys:
        found = _match(key, known)
        if found is not None:
            result[key] = found
    return result


def _sort_key(key: CustomerKey) -> tuple[str, str, str]:
    return (key[0], key[1] or "", key[2] or "")
