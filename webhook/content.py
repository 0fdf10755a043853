"""The parts of a parsed message that no column holds, as `store.content.MessageContentJSON` (pure)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, cast

from store.content import (
    ContactCardJSON,
    FlowReplyJSON,
    MessageContentJSON,
    OrderJSON,
    ReferralJSON,
)
from webhook.message_types import InteractiveKind, Order, Referral, SharedContact
from webhook.messages import Message

# A Flow's answers are a small form; a larger `response_json` stays in the message's raw only.
MAX_FLOW_RESPONSE = 64 * 1024


def message_content(message: Message) -> MessageContentJSON:
    content: MessageContentJSON = {}
    if message.contacts:
        content["contacts"] = [_card(c) for c in message.contacts]
    if message.order is not None:
        content["order"] = _order(message.order)
    if message.referral is not None:
        content["referral"] = _referral(message.referral)
    context = message.context
    if context is not None:
        if context.forwarded:
            content["forwarded"] = True
        if context.frequently_forwarded:
            content["frequently_forwarded"] = True
        if context.id and context.from_number:
            content["quoted_from"] = context.from_number
        if context.referred_product_retailer_id:
            content["referred_product"] = {
                "catalog_id": context.referred_catalog_id,
                "product_retailer_id": context.referred_product_retailer_id,
            }
    reply = message.interactive
    if reply is not None and reply.description:
        content["description"] = reply.description
    if reply is not None and reply.kind is InteractiveKind.NFM_REPLY:
        content["flow"] = _flow(reply.name, reply.body, reply.response_json)
    if message.unsupported_type:
        content["unsupported_type"] = message.unsupported_type
    if message.media is not None and message.media.voice:
        content["voice"] = True
    if message.media is not None and message.media.animated:
        content["animated"] = True
    return content


def _card(contact: SharedContact) -> ContactCardJSON:
    return {
        "name": contact.formatted_name,
        "organization": contact.organization,
        "phones": [{"phone": p.phone, "wa_id": p.wa_id, "type": p.type} for p in contact.phones],
        "emails": [{"email": e.email, "type": e.type} for e in contact.emails],
    }


def _order(order: Order) -> OrderJSON:
    return {
        "catalog_id": order.catalog_id,
        "text": order.text,
        "items": [
            {
                "product_retailer_id": i.product_retailer_id,
                "quantity": i.quantity,
                "item_price": i.item_price,
                "currency": i.currency,
            }
            for i in order.items
        ],
    }


def _referral(referral: Referral) -> ReferralJSON:
    # The dataclass's fields are the wire's keys, one for one.
    return cast("ReferralJSON", dataclasses.asdict(referral))


def _flow(name: str, body: str, response_json: str) -> FlowReplyJSON:
    """The Flow's answers decoded; a body that is not a JSON object (or too large) gives none."""
    response: dict[str, Any] = {}
    if len(response_json) <= MAX_FLOW_RESPONSE:
        try:
            decoded = json.loads(response_json)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            response = decoded
    return {"name": name, "body": body, "response": response}
