"""Finding, creating and locking conversations by customer, in an order that cannot deadlock."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q

from store.columns import column_length, without_nul
from store.models import WhatsAppConversation

# (business phone number id, wa_id or None, BSUID or None)
CustomerKey = tuple[str, str | None, str | None]


def make_key(business: str, wa_id: str | None, user_id: str | None) -> CustomerKey:
    """A customer key cut to the column sizes, so lookups and inserts always agree."""

    def fit(value: str, name: str) -> str:
        return str(without_nul(value))[: column_length(WhatsAppConversation, name)]

    return (
        fit(business, "business_phone_number_id"),
        fit(wa_id, "phone_number") if wa_id else None,
        fit(user_id, "user_id") if user_id else None,
    )


def customer_filter(business: str | None, customer: str) -> Q:
    """Conversations of `customer` (a wa_id or a BSUID), optionally of one business number."""
    query = Q(phone_number=customer) | Q(user_id=customer)
    if business:
        query &= Q(business_phone_number_id=business)
    return query


def _find(key: CustomerKey) -> WhatsAppConversation | None:
    business, wa_id, user_id = key
    query = Q()
    if wa_id:
        query |= Q(phone_number=wa_id)
    if user_id:
        query |= Q(user_id=user_id)
    if not query:
        return None
    # A match by wa_id is preferred: it is what the original integration keyed on.
    matches = sorted(
        WhatsAppConversation.objects.filter(query, business_phone_number_id=business),
        key=lambda c: (c.phone_number != wa_id, c.pk),
    )
    return matches[0] if matches else None


def _create(key: CustomerKey) -> WhatsAppConversation:
    business, wa_id, user_id = key
    conversation = WhatsAppConversation(
        business_phone_number_id=business, phone_number=wa_id, user_id=user_id
    )
    try:
        with transaction.atomic():
            conversation.save(force_insert=True)
            return conversation
    except IntegrityError:
        # Another transaction created it first; insert-and-catch, never check-then-insert.
        found = _find(key)
        if found is None:
            raise
        return found


def lock_conversations(
    create: Iterable[CustomerKey], existing_only: Iterable[CustomerKey] = ()
) -> dict[CustomerKey, WhatsAppConversation]:
    """Lock the conversations of these customers (creating those in `create`), fresh from the database.

    Keys are created in sorted order and rows locked in primary-key order, so two transactions that
    touch the same conversations always queue instead of deadlocking.
    """
    ids: dict[CustomerKey, int] = {}
    for key in sorted(set(create), key=_sort_key):
        conversation = _find(key) or _create(key)
        ids[key] = conversation.pk
    for key in sorted(set(existing_only) - set(ids), key=_sort_key):
        found = _find(key)
        if found is not None:
            ids[key] = found.pk
    locked = {
        c.pk: c
        for c in WhatsAppConversation.objects.select_for_update()
        .filter(pk__in=set(ids.values()))
        .order_by("pk")
    }
    return {key: locked[pk] for key, pk in ids.items()}


def _sort_key(key: CustomerKey) -> tuple[str, str, str]:
    return (key[0], key[1] or "", key[2] or "")
