"""Marks inbound messages read: read_at, exact unread counts and their events, all in one transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Count, Q

from store import jobs
from store.auth import TokenScope
from store.errors import InvalidRequest, NotFound, OutOfScope
from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.models import Direction, WhatsAppConversation, WhatsAppMessage
from store.queries import LIST_DEFERRED, get_conversation

MAX_MESSAGE_IDS = 1000
READ_RECEIPT_JOB = "receipt.read"
# One answer for an unknown id and for one outside the scope: neither tells which ids exist.
UNKNOWN_MESSAGES = "A message id is unknown or outside the token's scope."


@dataclass(frozen=True, slots=True)
class MarkReadResult:
    marked: int
    # The conversation the messages belong to; None when `message_ids` spanned several.
    conversation: WhatsAppConversation | None


def mark_read(
    scope: TokenScope,
    *,
    customer: str | None = None,
    business: str | None = None,
    message_ids: list[int | str] | None = None,
) -> MarkReadResult:
    """Set read_at on the unread inbound messages of a customer's conversation, or on the given messages.

    `message_ids` holds hub ids (ints) or wamids (strings). Nothing is logged or published when every
    message was already read and the counts were right.
    """
    if (customer is None) == (message_ids is None):
        raise InvalidRequest("Give either phone_number or message_ids.")
    if message_ids is not None and business is not None:
        raise InvalidRequest("business only applies together with phone_number.")
    with transaction.atomic():
        if customer is not None:
            target = get_conversation(scope, customer, business)
            conversations = _lock([target.pk])
            unread = _inbound_unread(Q(conversation_id=target.pk))
        else:
            assert message_ids is not None
            pks = _resolve_messages(message_ids)
            conversations = _lock(sorted(set(pks.values())))
            if not all(scope.allows_conversation(c) for c in conversations.values()):
                raise OutOfScope(UNKNOWN_MESSAGES)
            unread = _inbound_unread(Q(pk__in=pks))
        now = datetime.now(UTC)
        messages = list(unread)
        if messages:
            WhatsAppMessage.objects.filter(pk__in=[m.pk for m in messages]).update(read_at=now)
        _log_changes(conversations, messages, now)
        _enqueue_receipts(conversations, messages)
    only = next(iter(conversations.values())) if len(conversations) == 1 else None
    return MarkReadResult(marked=len(messages), conversation=only)


def _resolve_messages(message_ids: list[int | str]) -> dict[int, int]:
    """Hub id -> conversation id of every listed message; NotFound when one is unknown, naming none of
    them (a guessed id is not echoed back)."""
    if not message_ids:
        raise InvalidRequest("message_ids is empty.")
    if len(message_ids) > MAX_MESSAGE_IDS:
        raise InvalidRequest(f"At most {MAX_MESSAGE_IDS} message_ids at a time.")
    hub_ids = {i for i in message_ids if isinstance(i, int) and not isinstance(i, bool)}
    wamids = {i for i in message_ids if isinstance(i, str)}
    if len(hub_ids) + len(wamids) != len(set(message_ids)):
        raise InvalidRequest("message_ids holds hub ids (integers) or wamids (strings).")
    rows = WhatsAppMessage.objects.filter(Q(pk__in=hub_ids) | Q(message_id__in=wamids)).values_list(
        "pk", "message_id", "conversation_id"
    )
    found: dict[int, int] = {}
    seen: set[int | str] = set()
    for pk, wamid, conversation_id in rows:
        found[pk] = conversation_id
        seen.update((pk, wamid))
    if any(i not in seen for i in message_ids):
        raise NotFound(UNKNOWN_MESSAGES)
    return found


def _lock(conversation_ids: list[int]) -> dict[int, WhatsAppConversation]:
    """Lock the conversations in primary-key order, as every writer does, so none can deadlock."""
    locked = WhatsAppConversation.objects.select_for_update().filter(pk__in=conversation_ids).order_by("pk")
    return {c.pk: c for c in locked}


def _inbound_unread(where: Q) -> list[WhatsAppMessage]:
    return list(
        WhatsAppMessage.objects.select_for_update()
        .defer(*LIST_DEFERRED)
        .filter(where, direction=Direction.INBOUND, read_at__isnull=True)
        .order_by("pk")
    )


def _log_changes(
    conversations: dict[int, WhatsAppConversation], messages: list[WhatsAppMessage], now: datetime
) -> None:
    """Recount unread messages exactly and log one event per message marked and per conversation changed."""
    by_conversation: dict[int, list[WhatsAppMessage]] = defaultdict(list)
    for message in messages:
        message.read_at = now
        by_conversation[message.conversation_id].append(message)
    counts = dict(
        WhatsAppMessage.objects.filter(
            conversation_id__in=list(conversations), direction=Direction.INBOUND, read_at__isnull=True
        )
        .values("conversation_id")
        .annotate(unread=Count("id"))
        .values_list("conversation_id", "unread")
    )
    pending: list[PendingEvent] = []
    for pk, conversation in conversations.items():
        unread = counts.get(pk, 0)
        marked = by_conversation.get(pk, [])
        if not marked and conversation.unread_count == unread:
            continue
        conversation.unread_count = unread
        conversation.save(update_fields=["unread_count", "updated_at"])
        pending += [
            PendingEvent(
                type="message.updated", conversation=conversation, payload=event_payload(conversation, m)
            )
            for m in marked
        ]
        pending.append(
            PendingEvent(
                type="conversation.updated", conversation=conversation, payload=event_payload(conversation)
            )
        )
    append_events(pending)


def _enqueue_receipts(
    conversations: dict[int, WhatsAppConversation], messages: list[WhatsAppMessage]
) -> None:
    """Queue Meta's read receipt for the newest message marked in each conversation, in this transaction.

    Meta marks that message and every earlier one read, so one receipt per conversation is enough; the
    dedupe key makes a second mark-read of the same message queue nothing.
    """
    newest: dict[int, WhatsAppMessage] = {}
    for message in messages:
        best = newest.get(message.conversation_id)
        if best is None or (message.timestamp, message.pk) > (best.timestamp, best.pk):
            newest[message.conversation_id] = message
    jobs.enqueue_many(
        READ_RECEIPT_JOB,
        [
            (
                {"business": conversations[pk].business_phone_number_id, "wamid": m.message_id},
                f"receipt:{m.message_id}"[:255],
            )
            for pk, m in newest.items()
            if pk in conversations
        ],
    )
