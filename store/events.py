"""Pure builders of the message, conversation and event JSON that REST and WebSockets share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from store.models import WhatsAppConversation, WhatsAppMessage, WhatsAppMessageStatus

EventType = Literal["message.created", "message.updated", "conversation.updated"]
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)


class MessageJSON(TypedDict):
    id: int
    conversation_id: int
    message_id: str
    direction: str
    from_number: str
    to_number: str
    from_name: str
    message_type: str
    text_body: str
    caption: str
    media_id: str
    media_url: str | None
    media_mime_type: str
    media_filename: str
    media_status: str | None
    latitude: float | None
    longitude: float | None
    location_name: str
    location_address: str
    interactive_id: str
    reply_to: str
    timestamp: str
    status: str
    error_code: int | None
    error_title: str
    read_at: str | None
    edited_at: str | None
    revoked_at: str | None
    notes: str


class ConversationJSON(TypedDict):
    id: int
    business_phone_number_id: str
    phone_number: str | None
    user_id: str | None
    username: str
    contact_name: str
    message_count: int
    unread_count: int
    last_message_at: str | None
    last_inbound_at: str | None
    last_message_preview: str
    window_open: bool
    notes: str


class EventFrame(TypedDict):
    type: EventType
    seq: int
    conversation: ConversationJSON
    message: NotRequired[MessageJSON]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as every timestamp in the hub's JSON."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def window_open(conversation: WhatsAppConversation, now: datetime | None = None) -> bool:
    """True while the 24-hour customer service window since the customer's last message is open."""
    if conversation.last_inbound_at is None:
        return False
    return (now or datetime.now(UTC)) - conversation.last_inbound_at < CUSTOMER_SERVICE_WINDOW


def message_json(message: WhatsAppMessage) -> MessageJSON:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "message_id": message.message_id,
        "direction": message.direction,
        "from_number": message.from_number,
        "to_number": message.to_number,
        "from_name": message.from_name,
        "message_type": message.message_type,
        "text_body": message.text_body,
        "caption": message.caption,
        "media_id": message.media_id,
        "media_url": message.media_url,
        "media_mime_type": message.media_mime_type,
        "media_filename": message.media_filename,
        "media_status": message.media_status,
        "latitude": message.latitude,
        "longitude": message.longitude,
        "location_name": message.location_name,
        "location_address": message.location_address,
        "interactive_id": message.interactive_id,
        "reply_to": message.reply_to,
        "timestamp": iso(message.timestamp) or "",
        "status": message.status,
        "error_code": message.error_code,
        "error_title": message.error_title,
        "read_at": iso(message.read_at),
        "edited_at": iso(message.edited_at),
        "revoked_at": iso(message.revoked_at),
        "notes": message.notes,
    }


def status_json(status: WhatsAppMessageStatus) -> dict[str, Any]:
    return {
        "status": status.status,
        "timestamp": iso(status.timestamp),
        "recipient_id": status.recipient_id,
        "conversation_id": status.conversation_id,
        "conversation_origin": status.conversation_origin,
        "pricing_billable": status.pricing_billable,
        "pricing_model": status.pricing_model,
        "pricing_category": status.pricing_category,
        "biz_opaque_callback_data": status.biz_opaque_callback_data,
        "errors": status.errors,
    }


def message_detail_json(message: WhatsAppMessage, statuses: list[WhatsAppMessageStatus]) -> dict[str, Any]:
    """A message with its raw object and status history (REST detail)."""
    return {**message_json(message), "raw": message.raw, "statuses": [status_json(s) for s in statuses]}


def conversation_json(conversation: WhatsAppConversation, now: datetime | None = None) -> ConversationJSON:
    return {
        "id": conversation.pk,
        "business_phone_number_id": conversation.business_phone_number_id,
        "phone_number": conversation.phone_number,
        "user_id": conversation.user_id,
        "username": conversation.username,
        "contact_name": conversation.contact_name,
        "message_count": conversation.message_count,
        "unread_count": conversation.unread_count,
        "last_message_at": iso(conversation.last_message_at),
        "last_inbound_at": iso(conversation.last_inbound_at),
        "last_message_preview": conversation.last_message_preview,
        "window_open": window_open(conversation, now),
        "notes": conversation.notes,
    }


def event_payload(
    conversation: WhatsAppConversation, message: WhatsAppMessage | None = None
) -> dict[str, Any]:
    """What a HubEvent stores: the objects as they are at the moment of the change."""
    payload: dict[str, Any] = {"conversation": conversation_json(conversation)}
    if message is not None:
        payload["message"] = message_json(message)
    return payload


def event_frame(seq: int, kind: str, payload: dict[str, Any]) -> EventFrame:
    """The WebSocket frame of a logged event (docs/websocket.md), from its log columns."""
    frame: dict[str, Any] = {"type": kind, "seq": seq, **payload}
    return frame  # type: ignore[return-value]
