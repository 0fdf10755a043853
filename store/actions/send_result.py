"""Records Meta's acceptance of a send: the wamid and `sent`, with its events, from the answer or a status.

Refusals and lost answers are recorded by store/actions/send_attempt.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from store.actions.message_rows import apply_status, count_message, preview
from store.actions.send import is_placeholder
from store.columns import column_length
from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.models import (
    Direction,
    MessageStatus,
    WhatsAppConversation,
    WhatsAppMessage,
    WhatsAppMessageStatus,
)
from store.status_rules import advance_status


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


def adopt_wamids(statuses: Iterable[tuple[str, str]]) -> dict[str, WhatsAppMessage]:
    """Sends whose answer never came, found by the `biz_opaque_callback_data` Meta echoes in a status.

    `statuses` holds (wamid, callback data) of statuses naming no known message. Each message found by
    its placeholder takes the status's wamid now (locked and saved), so the status applies to it.
    """
    wanted = {callback: wamid for wamid, callback in statuses if is_placeholder(callback)}
    if not wanted:
        return {}
    found = (
        WhatsAppMessage.objects.select_for_update()
        .filter(message_id__in=wanted, direction=Direction.OUTBOUND)
        .order_by("pk")
    )
    adopted: dict[str, WhatsAppMessage] = {}
    for message in found:
        message.message_id = wanted[message.message_id][: column_length(WhatsAppMessage, "message_id")]
        message.save(update_fields=["message_id"])
        adopted[message.message_id] = message
    return adopted


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
