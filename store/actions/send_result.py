"""Records Meta's answer to a send: the wamid and `sent`, or `failed` with Meta's error, with their events."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from store import jobs
from store.actions.message_rows import apply_status, count_message, preview
from store.actions.send import SEND_JOB, is_placeholder
from store.columns import column_length
from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.models import (
    Job,
    MessageStatus,
    WhatsAppConversation,
    WhatsAppMessage,
    WhatsAppMessageStatus,
)
from store.status_rules import advance_status

SEND_MAX_ATTEMPTS = 8


def record_sent(message_pk: int, *, wamid: str, wa_id: str | None = None) -> WhatsAppMessage | None:
    """Meta accepted the message: its wamid replaces the placeholder and it is `sent` (or further).

    Status rows that arrived before this answer (Meta's webhooks race its HTTP answer) are linked and
    applied. When Meta resolved the number to another wa_id, the conversation follows Meta's wa_id.
    Recording twice changes nothing the second time.
    """
    with transaction.atomic():
        conversations = _lock_conversations(message_pk, wa_id)
        message = WhatsAppMessage.objects.select_for_update().filter(pk=message_pk).first()
        if message is None:
            return None
        if not is_placeholder(message.message_id):
            return message
        conversation = conversations[message.conversation_id]
        message.message_id = wamid[: column_length(WhatsAppMessage, "message_id")]
        message.status = advance_status(message.status, MessageStatus.SENT) or message.status
        early = list(WhatsAppMessageStatus.objects.filter(wamid=message.message_id, message=None))
        for row in sorted(early, key=lambda r: (r.timestamp, r.pk)):
            apply_status(message, row)
        pending: list[PendingEvent] = []
        if wa_id and wa_id != conversation.phone_number:
            conversation = _follow_wa_id(message, conversation, conversations, wa_id, pending)
        message.save()
        if early:
            WhatsAppMessageStatus.objects.filter(pk__in=[r.pk for r in early]).update(message=message)
        pending.insert(0, PendingEvent("message.updated", conversation, event_payload(conversation, message)))
        append_events(pending)
        return message


def record_send_failed(message_pk: int, *, code: int | None, title: str) -> WhatsAppMessage | None:
    """Meta refused the message for good (or retries ran out): `failed` with Meta's code and title."""
    with transaction.atomic():
        conversation_id = WhatsAppMessage.objects.filter(pk=message_pk).values_list(
            "conversation_id", flat=True
        )
        conversation = WhatsAppConversation.objects.select_for_update().filter(pk__in=conversation_id).first()
        message = WhatsAppMessage.objects.select_for_update().filter(pk=message_pk).first()
        if message is None or conversation is None:
            return None
        if message.status != MessageStatus.PENDING:
            return message
        message.status = MessageStatus.FAILED
        message.error_code = code
        message.error_title = title[: column_length(WhatsAppMessage, "error_title")]
        message.save(update_fields=["status", "error_code", "error_title"])
        append_events([PendingEvent("message.updated", conversation, event_payload(conversation, message))])
        return message


def enqueue_send_retry(message_pk: int, delay: timedelta) -> Job | None:
    """Queue the durable retry of a pending send; one per message however often it is asked for."""
    with transaction.atomic():
        return jobs.enqueue(
            SEND_JOB,
            {"message_id": message_pk},
            dedupe_key=f"send:{message_pk}",
            delay=delay,
            max_attempts=SEND_MAX_ATTEMPTS,
        )


def load_pending(message_pk: int) -> tuple[WhatsAppMessage, str] | None:
    """A message still waiting for Meta and the business number it goes from, or None."""
    message = WhatsAppMessage.objects.select_related("conversation").filter(pk=message_pk).first()
    if message is None or message.status != MessageStatus.PENDING or not is_placeholder(message.message_id):
        return None
    return message, message.conversation.business_phone_number_id


def _lock_conversations(message_pk: int, wa_id: str | None) -> dict[int, WhatsAppConversation]:
    """The message's conversation and the one holding `wa_id`, locked in primary-key order."""
    current = WhatsAppConversation.objects.filter(messages__pk=message_pk).values(
        "pk", "business_phone_number_id"
    )
    ids = [row["pk"] for row in current]
    if wa_id and current:
        holder = WhatsAppConversation.objects.filter(
            business_phone_number_id=current[0]["business_phone_number_id"], phone_number=wa_id
        ).values_list("pk", flat=True)
        ids += list(holder)
    locked = WhatsAppConversation.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {c.pk: c for c in locked}


def _follow_wa_id(
    message: WhatsAppMessage,
    conversation: WhatsAppConversation,
    conversations: dict[int, WhatsAppConversation],
    wa_id: str,
    pending: list[PendingEvent],
) -> WhatsAppConversation:
    """Meta resolved the typed number to `wa_id`: the customer is known by it from now on."""
    message.to_number = wa_id
    holder = next((c for pk, c in conversations.items() if pk != conversation.pk), None)
    if holder is None:
        # Only a conversation the customer never wrote in is renamed; inbound wa_ids are Meta's own.
        if conversation.last_inbound_at is None:
            conversation.phone_number = wa_id
            conversation.save(update_fields=["phone_number", "updated_at"])
        return conversation
    # The customer already has a conversation under Meta's wa_id: the message moves there.
    message.conversation = holder
    count_message(holder, message)
    holder.save()
    _uncount(conversation, message)
    pending.append(PendingEvent("conversation.updated", conversation, event_payload(conversation)))
    return holder


def _uncount(conversation: WhatsAppConversation, moved: WhatsAppMessage) -> None:
    conversation.message_count = max(0, conversation.message_count - 1)
    latest = (
        WhatsAppMessage.objects.filter(conversation=conversation)
        .exclude(pk=moved.pk)
        .order_by("-timestamp", "-pk")
        .first()
    )
    conversation.last_message_at = latest.timestamp if latest else None
    conversation.last_message_preview = preview(latest) if latest else ""
    conversation.save()
