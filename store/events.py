"""The one definition of the message, conversation and event JSON that REST and WebSockets share.

The TypedDicts below are the wire shapes: `store.publish` sends them in socket frames, and the REST
schemas of `api/schemas.py` take their fields from them. They come from `typing_extensions` because
pydantic reads nested TypedDicts only from there on Python 3.11.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from store.content import MessageContentJSON
from store.models import ConversationNote, WhatsAppConversation, WhatsAppMessage, WhatsAppMessageStatus

EventType = Literal["message.created", "message.updated", "conversation.updated", "note.created"]
# Events for the team only: a token scoped to customers never receives them (docs/team-inbox.md).
TEAM_ONLY_EVENTS = frozenset({"note.created"})
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
    content: MessageContentJSON
    timestamp: str
    # received (inbound); outbound: pending until Meta answers, then sent, delivered, read, played or
    # failed; unknown when Meta's answer was lost (docs/reliability.md, "A send's states").
    status: Literal[
        "received", "pending", "unknown", "sent", "delivered", "read", "played", "failed", "deleted"
    ]
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
    assignee: str | None
    status: Literal["open", "pending", "resolved", "snoozed"]
    snoozed_until: str | None
    labels: list[str]


class NoteJSON(TypedDict):
    id: int
    conversation_id: int
    author: str | None
    text: str
    mentions: list[str]
    created_at: str


class StatusJSON(TypedDict):
    status: str
    timestamp: str | None
    recipient_id: str
    conversation_id: str
    conversation_origin: str
    pricing_billable: bool | None
    pricing_model: str
    pricing_category: str
    biz_opaque_callback_data: str
    errors: list[Any]


class MessageDetailJSON(MessageJSON):
    """A message with its raw object and status history (REST detail)."""

    raw: dict[str, Any]
    statuses: list[StatusJSON]


class EventFrame(TypedDict):
    type: EventType
    seq: int
    conversation: ConversationJSON
    message: NotRequired[MessageJSON]
    note: NotRequired[NoteJSON]


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
        "content": message.content,
        "timestamp": iso(message.timestamp) or "",
        "status": message.status,  # type: ignore[typeddict-item]  # the column has the choices
        "error_code": message.error_code,
        "error_title": message.error_title,
        "read_at": iso(message.read_at),
        "edited_at": iso(message.edited_at),
        "revoked_at": iso(message.revoked_at),
        "notes": message.notes,
    }


def status_json(status: WhatsAppMessageStatus) -> StatusJSON:
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


def message_detail_json(message: WhatsAppMessage, statuses: list[WhatsAppMessageStatus]) -> MessageDetailJSON:
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
        "assignee": conversation.assignee.username if conversation.assignee is not None else None,
        "status": conversation.status,  # type: ignore[typeddict-item]  # the column has the choices
        "snoozed_until": iso(conversation.snoozed_until),
        "labels": list(conversation.labels),
    }


def note_json(note: ConversationNote) -> NoteJSON:
    return {
        "id": note.pk,
        "conversation_id": note.conversation_id,
        "author": note.author.username if note.author is not None else None,
        "text": note.text,
        "mentions": list(note.mentions),
        "created_at": iso(note.created_at) or "",
    }


def event_payload(
    conversation: WhatsAppConversation,
    message: WhatsAppMessage | None = None,
    note: ConversationNote | None = None,
) -> dict[str, Any]:
    """What a HubEvent stores: the objects as they are at the moment of the change."""
    payload: dict[str, Any] = {"conversation": conversation_json(conversation)}
    if message is not None:
        payload["message"] = message_json(message)
    if note is not None:
        payload["note"] = note_json(note)
    return payload


def event_frame(seq: int, kind: str, payload: dict[str, Any]) -> EventFrame:
    """The WebSocket frame of a logged event (docs/websocket.md), from its log columns."""
    frame: dict[str, Any] = {"type": kind, "seq": seq, **payload}
    return frame  # type: ignore[return-value]
