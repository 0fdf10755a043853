"""Claims the right to show a customer that an agent is typing: one indicator per 25 s per conversation.

Meta's indicator lasts 25 s (or until the reply), so more would only cost calls. The claim is one
conditional UPDATE, so several server processes agree without talking to each other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from store.actions.conversations import customer_filter
from store.events import window_open
from store.models import Direction, WhatsAppConversation

TYPING_INDICATOR_INTERVAL = timedelta(seconds=25)


def claim_typing_indicator(business: str, customer: str, now: datetime) -> str | None:
    """The wamid of the customer's last message to show the indicator on, or None when the window is
    closed, the customer never wrote, or an indicator went out less than 25 s ago."""
    conversation = WhatsAppConversation.objects.filter(customer_filter(business, customer)).first()
    if conversation is None or not window_open(conversation, now):
        return None
    claimed = (
        WhatsAppConversation.objects.filter(pk=conversation.pk)
        .filter(
            Q(typing_indicator_at__isnull=True) | Q(typing_indicator_at__lte=now - TYPING_INDICATOR_INTERVAL)
        )
        .update(typing_indicator_at=now)
    )
    if not claimed:
        return None
    last: str | None = (
        conversation.messages.filter(direction=Direction.INBOUND)
        .order_by("-timestamp", "-id")
        .values_list("message_id", flat=True)
        .first()
    )
    return last
