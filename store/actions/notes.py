"""Edits the notes agents keep on a conversation."""

from __future__ import annotations

from django.db import transaction

from store.auth import TokenScope
from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.models import WhatsAppConversation
from store.queries import get_conversation


def update_conversation_notes(
    scope: TokenScope, customer: str, business: str | None, notes: str
) -> WhatsAppConversation:
    """Set the notes of a customer's conversation; logs `conversation.updated` only when they changed."""
    with transaction.atomic():
        found = get_conversation(scope, customer, business)
        conversation = WhatsAppConversation.objects.select_for_update().get(pk=found.pk)
        if conversation.notes == notes:
            return conversation
        conversation.notes = notes
        conversation.save(update_fields=["notes", "updated_at"])
        append_events(
            [
                PendingEvent(
                    type="conversation.updated",
                    conversation=conversation,
                    payload=event_payload(conversation),
                )
            ]
        )
        return conversation
