"""Building message and status rows from records, counting them on a conversation, moving statuses.

Shared by ingest (record.py) and sends (send.py, send_result.py), so a message counts the same way
whichever way it came.
"""

from __future__ import annotations

from store.columns import clip_to_columns
from store.models import (
    ConversationStatus,
    Direction,
    MediaStatus,
    MessageStatus,
    WhatsAppConversation,
    WhatsAppMessage,
    WhatsAppMessageStatus,
)
from store.records import MessageRecord, StatusRecord
from store.status_rules import FAILED, advance_status

PREVIEW_LENGTH = 200
REOPENED_BY_CUSTOMER = frozenset({ConversationStatus.RESOLVED, ConversationStatus.SNOOZED})


def count_message(conversation: WhatsAppConversation, message: WhatsAppMessage) -> None:
    """Count a new message of either direction on its (locked) conversation."""
    conversation.message_count += 1
    inbound = message.direction == Direction.INBOUND
    if inbound and message.read_at is None:
        conversation.unread_count += 1
    if inbound and (conversation.last_inbound_at is None or message.timestamp > conversation.last_inbound_at):
        conversation.last_inbound_at = message.timestamp
    if inbound and conversation.status in REOPENED_BY_CUSTOMER:
        # The customer wrote again: whoever resolved or snoozed it has something to answer.
        conversation.status = ConversationStatus.OPEN
        conversation.snoozed_until = None
    if conversation.last_message_at is None or message.timestamp >= conversation.last_message_at:
        conversation.last_message_at = message.timestamp
        conversation.last_message_preview = preview(message)


# What the conversation list says of a message without text of its own, as WhatsApp's own list does.
PREVIEW_LABELS = {
    "image": "Photo",
    "video": "Video",
    "audio": "Voice message",
    "sticker": "Sticker",
    "document": "Document",
    "location": "Location",
    "contacts": "Contact card",
    "order": "Order",
    "reaction": "Reaction",
    "revoke": "This message was deleted",
    "template": "Template message",
    "interactive": "Message with buttons",
    "nfm_reply": "Form answers",
    "button": "Button reply",
    "unsupported": "Unsupported message",
}


def preview(message: WhatsAppMessage) -> str:
    if message.message_type == "revoke":
        return PREVIEW_LABELS["revoke"]
    label = PREVIEW_LABELS.get(message.message_type) or message.message_type.replace("_", " ").capitalize()
    text = message.text_body or message.caption or message.location_name or label
    return text[:PREVIEW_LENGTH]


def message_from_record(record: MessageRecord, conversation: WhatsAppConversation) -> WhatsAppMessage:
    inbound = record.direction == "inbound"
    message = WhatsAppMessage(
        message_id=record.wamid,
        conversation=conversation,
        direction=record.direction,
        from_number=record.from_number,
        to_number=record.to_number,
        from_name=record.from_name,
        message_type=record.message_type,
        text_body=record.text_body,
        caption=record.caption,
        media_id=record.media_id,
        media_mime_type=record.media_mime_type,
        media_filename=record.media_filename,
        media_sha256=record.media_sha256,
        media_status=MediaStatus.PENDING if record.media_id else None,
        latitude=record.latitude,
        longitude=record.longitude,
        location_name=record.location_name,
        location_address=record.location_address,
        interactive_id=record.interactive_id,
        reply_to=record.reply_to,
        timestamp=record.timestamp,
        status=MessageStatus.RECEIVED if inbound else MessageStatus.SENT,
        error_code=record.error_code,
        error_title=record.error_title,
        # Edits and revokes are carried out on their target; there is nothing separate to read.
        read_at=record.timestamp if inbound and record.change is not None else None,
        content=dict(record.content),
        raw=dict(record.raw),
    )
    clip_to_columns(message)
    return message


def status_row(record: StatusRecord, message: WhatsAppMessage | None) -> WhatsAppMessageStatus:
    row = WhatsAppMessageStatus(
        message=message,
        wamid=record.wamid,
        status=record.status,
        timestamp=record.timestamp,
        recipient_id=record.recipient_id,
        business_phone_number_id=record.business.phone_number_id,
        conversation_id=record.conversation_id,
        conversation_origin=record.conversation_origin,
        conversation_expires_at=record.conversation_expires_at,
        pricing_billable=record.pricing_billable,
        pricing_model=record.pricing_model,
        pricing_category=record.pricing_category,
        pricing_type=record.pricing_type,
        biz_opaque_callback_data=record.biz_opaque_callback_data,
        errors=list(record.errors),
        raw=dict(record.raw),
    )
    clip_to_columns(row)
    return row


def apply_status(message: WhatsAppMessage, status: WhatsAppMessageStatus) -> bool:
    """Move `message` forward to `status` if the rules allow; True when it changed."""
    new = advance_status(message.status, status.status)
    if new is None:
        return False
    message.status = new
    if new == FAILED:
        error = status.errors[0] if status.errors else {}
        code = error.get("code") if isinstance(error, dict) else None
        message.error_code = code if isinstance(code, int) else None
        message.error_title = str(error.get("title", "")) if isinstance(error, dict) else ""
    return True
