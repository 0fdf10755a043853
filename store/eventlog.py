"""Appends HubEvents with a `seq` that is visible in commit order, and publishes them after commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from store import publish
from store.events import EventType
from store.models import HubEvent, HubSequence, WhatsAppConversation

SEQUENCE_NAME = "hub_event"
# One round trip that both locks the row and hands out the numbers (PostgreSQL, SQLite 3.35+).
TAKE_SEQS_SQL = "UPDATE whatsapp_hubsequence SET value = value + %s WHERE name = %s RETURNING value"


@dataclass(frozen=True, slots=True)
class PendingEvent:
    type: EventType
    conversation: WhatsAppConversation
    payload: dict[str, Any]


def append_events(pending: list[PendingEvent]) -> list[HubEvent]:
    """Log `pending` in the current transaction and publish them once it commits.

    The sequence row stays locked until commit, so seq numbers become visible in the order they were
    handed out: a reader that has seen seq N never later finds a new event below N. Call this last in
    a transaction, after the conversation rows are locked, so the lock is held briefly and the lock
    order is always conversations first, then the sequence (no deadlock).
    """
    if not pending:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("append_events must run inside transaction.atomic()")
    lock_in_order({item.conversation.pk for item in pending})
    first = _take_seqs(len(pending))
    events = HubEvent.objects.bulk_create(
        HubEvent(seq=first + offset, type=item.type, conversation=item.conversation, payload=item.payload)
        for offset, item in enumerate(pending)
    )
    transaction.on_commit(lambda: publish.publish_events(events))
    return events


def lock_in_order(conversation_ids: Iterable[int]) -> None:
    """Lock conversations in primary-key order, as every writer does (a no-op for rows the caller holds).

    `append_events` takes them before the sequence row: its events reference them, and PostgreSQL checks
    that reference at commit with a share lock on the conversation; taken there, after the sequence, it
    waited for an ingest that held the conversation and waited for the sequence, a deadlock. A writer
    that locks messages calls it first, so conversations always come before messages.
    """
    ids = sorted(set(conversation_ids))
    list(WhatsAppConversation.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))


def _take_seqs(count: int) -> int:
    """Reserve `count` consecutive seqs in one statement; the row stays locked until commit."""
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(TAKE_SEQS_SQL, [count, SEQUENCE_NAME])
        row = cursor.fetchone()
    if row is None:
        # The row is made by a migration; a flushed test database needs it again.
        HubSequence.objects.get_or_create(name=SEQUENCE_NAME)
        return _take_seqs(count)
    return int(row[0]) - count + 1


def last_seq() -> int:
    """The newest seq handed out (0 for an empty log)."""
    row = HubSequence.objects.filter(name=SEQUENCE_NAME).values_list("value", flat=True).first()
    return row or 0
