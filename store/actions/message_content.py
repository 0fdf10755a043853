"""Fills the stored content of messages recorded before the hub kept it (reprocess)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from store.eventlog import PendingEvent, append_events, lock_in_order
from store.events import event_payload
from store.models import HubEvent, WhatsAppMessage
from store.records import MessageRecord


def fill_message_content(records: Sequence[MessageRecord]) -> list[HubEvent]:
    """Set `content` on stored messages that have none yet; logs `message.updated` for each one filled.

    A message whose content is already set, or that the customer deleted, is left as it is.
    """
    wanted = {r.wamid: r.content for r in records if r.content}
    if not wanted:
        return []
    with transaction.atomic():
        # The conversations before the messages, as every writer locks them.
        owners = WhatsAppMessage.objects.filter(message_id__in=wanted).values_list("conversation", flat=True)
        lock_in_order(owners)
        rows = (
            WhatsAppMessage.objects.select_for_update()
            .select_related("conversation")
            .filter(message_id__in=wanted, revoked_at__isnull=True)
            .order_by("pk")
        )
        pending = []
        for message in rows:
            if message.content:
                continue
            message.content = dict(wanted[message.message_id])
            message.save(update_fields=["content"])
            conversation = message.conversation
            pending.append(
                PendingEvent(
                    type="message.updated",
                    conversation=conversation,
                    payload=event_payload(conversation, message),
                )
            )
        return append_events(pending) if pending else []
