"""Sending again a message whose answer from Meta was lost (`unknown`), once, on an agent's word.

The hub never repeats an ambiguous send by itself (docs/reliability.md): the customer may already have
the message. An agent who judges they have not asks for it again. The new send is an ordinary one (its
own placeholder, `biz_opaque_callback_data`, job and events), keyed to the original so that two agents,
two clicks or a retried request make one new send between them, for good.
"""

from __future__ import annotations

from typing import Any

from store.actions.send import SendRequest
from store.auth import Principal
from store.errors import Conflict, NotFound
from store.models import Direction, MessageStatus, WhatsAppMessage

NOT_UNKNOWN_DETAIL = (
    "Only a message whose state is unknown (Meta's answer was lost) can be sent again; this one is {status}."
)
# Fields the hub adds to each send's payload: the new send gets its own.
_PER_SEND = ("biz_opaque_callback_data", "context")


def resend_key(message_pk: int) -> str:
    """The idempotency key of the one resend of a message (no credential's key has this form)."""
    return f"resend:{message_pk}"


def resend_request(principal: Principal, message_pk: int) -> SendRequest:
    """The send that repeats outbound message `message_pk`, if it is `unknown` and in the scope.

    NotFound outside the scope (as an unknown id); Conflict (`not_unknown`) in any other state.
    """
    original = (
        WhatsAppMessage.objects.select_related("conversation")
        .filter(pk=message_pk, direction=Direction.OUTBOUND)
        .first()
    )
    if original is None or not principal.scope.allows_conversation(original.conversation):
        raise NotFound(f"No outbound message has id {message_pk}.")
    if original.status != MessageStatus.UNKNOWN:
        raise Conflict(NOT_UNKNOWN_DETAIL.format(status=original.status), "not_unknown")
    raw: dict[str, Any] = original.raw if isinstance(original.raw, dict) else {}
    context = raw.get("context")
    reply_to = context.get("message_id") if isinstance(context, dict) else None
    return SendRequest(
        scope=principal.scope,
        payload={key: value for key, value in raw.items() if key not in _PER_SEND},
        customer=original.conversation.customer_key,
        reply_to=reply_to or None,
        free_form=raw.get("type") != "template",
        idempotency_key=resend_key(original.pk),
        conversation_id=original.conversation_id,
        sender_name=principal.user.get_username(),
    )
