"""Builders of webhook bodies in Meta's wire format, for the simulator, the benchmarks and the tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_WABA_ID = "102290129340398"
DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_DISPLAY_NUMBER = "15550783881"


def envelope(
    changes: Iterable[Mapping[str, Any]],
    *,
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
    waba_id: str = DEFAULT_WABA_ID,
) -> dict[str, Any]:
    """One entry whose `messages` changes carry the given `value` parts (contacts, messages, statuses)."""
    metadata = {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **c},
                    }
                    for c in changes
                ],
            }
        ],
    }


def text_message(wamid: str, wa_id: str, text: str, timestamp: int, name: str = "") -> dict[str, Any]:
    """The `value` part of an inbound text message with its contact."""
    return {
        "contacts": [{"profile": {"name": name or f"Customer {wa_id[-4:]}"}, "wa_id": wa_id}],
        "messages": [
            {"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": "text", "text": {"body": text}}
        ],
    }


def status_update(wamid: str, recipient: str, status: str, timestamp: int) -> dict[str, Any]:
    """The `value` part of one status of an outbound message."""
    return {"statuses": [status_object(wamid, status, timestamp, recipient_id=recipient)]}


def status_object(
    wamid: str, status: str, timestamp: int, *, recipient_id: str = "", recipient_user_id: str = ""
) -> dict[str, Any]:
    """One status object; a customer known only by BSUID has `recipient_user_id` and no `recipient_id`."""
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(timestamp)}
    if recipient_id or not recipient_user_id:
        item["recipient_id"] = recipient_id
    if recipient_user_id:
        item["recipient_user_id"] = recipient_user_id
    if status in ("sent", "delivered"):
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service", "type": "regular"}
    if status == "failed":
        item["errors"] = [
            {
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": {"details": "Message failed to send because more than 24 hours have passed."},
            }
        ]
    return item


def contact(*, name: str, wa_id: str = "", user_id: str = "", username: str = "") -> dict[str, Any]:
    """A `contacts` item: the customer's profile and their wa_id, BSUID (`user_id`) or both."""
    profile = {"name": name, "username": username} if username else {"name": name}
    item: dict[str, Any] = {"profile": profile}
    if wa_id:
        item["wa_id"] = wa_id
    if user_id:
        item["user_id"] = user_id
    return item


def inbound_message(
    wamid: str,
    timestamp: int,
    type_name: str,
    content: Mapping[str, Any] | None,
    *,
    wa_id: str = "",
    user_id: str = "",
    context: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `messages` item of any type: `content` goes under the type's key, `extra` at the top level."""
    item: dict[str, Any] = {}
    if wa_id:
        item["from"] = wa_id
    if user_id:
        item["from_user_id"] = user_id
    item.update(id=wamid, timestamp=str(timestamp), type=type_name)
    if content is not None:
        item[type_name] = dict(content)
    if context is not None:
        item["context"] = dict(context)
    item.update(extra)
    return item


def messages_value(
    contacts: Iterable[Mapping[str, Any]], messages: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The `value` part of inbound messages with the contacts who sent them."""
    return {"contacts": [dict(c) for c in contacts], "messages": [dict(m) for m in messages]}


def media_content(
    media_id: str, mime_type: str, sha256: str, *, caption: str = "", filename: str = "", **flags: bool
) -> dict[str, Any]:
    """An image, video, audio, document or sticker object; `flags` are `voice=` or `animated=`."""
    item: dict[str, Any] = {"mime_type": mime_type, "sha256": sha256, "id": media_id, **flags}
    if caption:
        item["caption"] = caption
    if filename:
        item["filename"] = filename
    return item


def interactive_reply(kind: str, reply_id: str, title: str, description: str = "") -> dict[str, Any]:
    """The `interactive` object of a `button_reply` or `list_reply`."""
    reply = {"id": reply_id, "title": title}
    if description:
        reply["description"] = description
    return {"type": kind, kind: reply}


def shared_contact(formatted_name: str, phone: str, wa_id: str = "") -> dict[str, Any]:
    """One card of a `contacts` message."""
    first, _, last = formatted_name.partition(" ")
    name = {"first_name": first, "last_name": last, "formatted_name": formatted_name}
    number = {"phone": phone, "wa_id": wa_id, "type": "CELL"} if wa_id else {"phone": phone, "type": "CELL"}
    return {"name": name, "phones": [number]}


def order_content(catalog_id: str, items: Iterable[tuple[str, int, float]], text: str = "") -> dict[str, Any]:
    """An `order` from a catalog: (product_retailer_id, quantity, item_price) in USD."""
    products = [
        {"product_retailer_id": pid, "quantity": qty, "item_price": price, "currency": "USD"}
        for pid, qty, price in items
    ]
    return {"catalog_id": catalog_id, "text": text, "product_items": products}


def edit_content(original_message_id: str, text: str) -> dict[str, Any]:
    """An `edit` of an earlier text message: the new message whole under `message`."""
    return {"original_message_id": original_message_id, "message": {"type": "text", "text": {"body": text}}}


def number_change(wamid: str, timestamp: int, name: str, wa_id: str, new_wa_id: str) -> dict[str, Any]:
    """The `value` part of a `system` message: the customer moved to another phone number."""
    body = f"{name} changed from {wa_id} to {new_wa_id}"
    system = {"body": body, "wa_id": new_wa_id, "type": "user_changed_number"}
    message = inbound_message(wamid, timestamp, "system", system, wa_id=wa_id)
    return messages_value([contact(name=name, wa_id=wa_id)], [message])


def user_id_change(wamid: str, timestamp: int, user_id: str, new_user_id: str) -> dict[str, Any]:
    """The `value` part of a `system` message: a new BSUID; Meta names the customer only inside `system`."""
    body = f"User changed from {user_id} to {new_user_id}"
    system = {
        "body": body,
        "user_id": new_user_id,
        "previous_user_id": user_id,
        "type": "user_changed_user_id",
    }
    return messages_value([], [inbound_message(wamid, timestamp, "system", system)])


def unsupported_errors() -> list[dict[str, Any]]:
    """The `errors` of an `unsupported` message (a type the Cloud API does not deliver)."""
    details = {"details": "Message type is currently not supported."}
    return [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": details,
        }
    ]


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialize as Meta does: compact, non-ASCII escaped (the signature covers these exact bytes)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()
