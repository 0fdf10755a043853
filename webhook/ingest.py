"""Maps a parsed webhook onto the store's records: pure, no database; the store applies them."""

from __future__ import annotations

from datetime import UTC, datetime

from store.records import (
    BusinessRecord,
    CustomerRecord,
    IngestBatch,
    MessageChange,
    MessageRecord,
    StatusRecord,
)
from webhook.messages import Message, MessageType
from webhook.payload import Contact, MessagesChange, WebhookPayload
from webhook.statuses import Status
from webhook.wire import ErrorDetail


def batch_from_payload(payload: WebhookPayload, *, received_at: datetime | None = None) -> IngestBatch:
    """Everything the payload tells the store, in Meta's order.

    `received_at` stands in for a timestamp Meta omitted or garbled (defaults to now).
    """
    fallback_time = received_at or datetime.now(UTC)
    batch = IngestBatch()
    seen_businesses: set[str] = set()
    for change in payload.changes:
        business = _business(change)
        if business.phone_number_id and business.phone_number_id not in seen_businesses:
            seen_businesses.add(business.phone_number_id)
            batch.businesses.append(business)
        for contact in change.contacts:
            if contact.wa_id or contact.user_id:
                batch.customers.append((business, _customer(contact)))
        # A message needs its business number: without it there is no conversation to put it in.
        if business.phone_number_id:
            for message in change.messages:
                _append(batch, _message_record(message, change, business, fallback_time, inbound=True))
            for echo in change.echoes:
                _append(batch, _message_record(echo, change, business, fallback_time, inbound=False))
        for status in change.statuses:
            if status.wamid and status.status_name:
                batch.statuses.append(_status_record(status, change, business, fallback_time))
    return batch


def _append(batch: IngestBatch, record: MessageRecord | None) -> None:
    if record is not None:
        batch.messages.append(record)


def _business(change: MessagesChange) -> BusinessRecord:
    return BusinessRecord(
        phone_number_id=change.business.phone_number_id,
        display_phone_number=change.business.display_phone_number,
        waba_id=change.business.waba_id,
    )


def _customer(contact: Contact) -> CustomerRecord:
    return CustomerRecord(
        wa_id=contact.wa_id or None,
        user_id=contact.user_id or None,
        name=contact.name,
        username=contact.username,
    )


def _find_contact(contacts: tuple[Contact, ...], wa_id: str, user_id: str) -> Contact | None:
    for contact in contacts:
        if (wa_id and contact.wa_id == wa_id) or (user_id and contact.user_id == user_id):
            return contact
    # A sender Meta did not name (e.g. a BSUID change without `from`) is the change's only contact.
    if not wa_id and not user_id and len(contacts) == 1:
        return contacts[0]
    return None


def _customer_of(message: Message, change: MessagesChange, *, inbound: bool) -> CustomerRecord:
    wa_id = message.from_number if inbound else message.to_number
    user_id = message.from_user_id if inbound else message.to_user_id
    if inbound and not user_id and message.system is not None:
        # A BSUID change names the customer only inside `system`; the old BSUID is the one we know.
        user_id = message.system.previous_user_id
    contact = _find_contact(change.contacts, wa_id, user_id) or Contact()
    return CustomerRecord(
        wa_id=wa_id or contact.wa_id or None,
        user_id=user_id or contact.user_id or None,
        name=contact.name,
        username=contact.username,
    )


def _message_record(
    message: Message, change: MessagesChange, business: BusinessRecord, fallback: datetime, *, inbound: bool
) -> MessageRecord | None:
    customer = _customer_of(message, change, inbound=inbound)
    # The customer as the conversation knows them: the phone number, or the BSUID when there is none.
    customer_address = customer.wa_id or customer.user_id
    if not message.wamid or not customer_address:
        return None
    error = _first_error(message.errors or change.errors)
    media = message.media
    location = message.location
    return MessageRecord(
        wamid=message.wamid,
        direction="inbound" if inbound else "outbound",
        business=business,
        customer=customer,
        from_number=customer_address if inbound else message.from_number or business.display_phone_number,
        to_number=business.display_phone_number if inbound else customer_address,
        from_name=customer.name if inbound else "",
        message_type=message.type_name,
        timestamp=message.timestamp or fallback,
        text_body=_text_body(message),
        caption=media.caption if media else "",
        media_id=media.id if media else "",
        media_mime_type=media.mime_type if media else "",
        media_filename=media.filename if media else "",
        media_sha256=media.sha256 if media else "",
        latitude=location.latitude if location else None,
        longitude=location.longitude if location else None,
        location_name=location.name if location else "",
        location_address=location.address if location else "",
        interactive_id=_interactive_id(message),
        reply_to=_reply_to(message),
        error_code=error.code if error else None,
        error_title=error.title if error else "",
        change=_change(message),
        raw=message.raw,
    )


def _text_body(message: Message) -> str:
    """What a reader sees as the message's text (docs/design.md, section 3, `text_body`)."""
    if message.interactive is not None:
        reply = message.interactive
        return reply.title or reply.body or reply.response
    if message.button is not None:
        return message.button.text
    if message.reaction is not None:
        return message.reaction.emoji
    if message.order is not None:
        return message.order.text
    if message.system is not None:
        return message.system.body
    if message.edit is not None:
        return message.edit.text or message.edit.caption
    return message.text


def _interactive_id(message: Message) -> str:
    if message.interactive is not None:
        return message.interactive.id
    if message.button is not None:
        return message.button.payload
    return ""


def _reply_to(message: Message) -> str:
    if message.reaction is not None:
        return message.reaction.message_id
    return message.context.id if message.context else ""


def _change(message: Message) -> MessageChange | None:
    if message.type == MessageType.EDIT and message.edit and message.edit.original_message_id:
        edit = message.edit
        # The store keeps one text per message: an edited caption becomes the new text to show.
        return MessageChange(
            kind="edit", target_wamid=edit.original_message_id, text_body=edit.text or edit.caption
        )
    if message.type == MessageType.REVOKE and message.revoke and message.revoke.original_message_id:
        return MessageChange(kind="revoke", target_wamid=message.revoke.original_message_id)
    return None


def _first_error(errors: tuple[ErrorDetail, ...]) -> ErrorDetail | None:
    return errors[0] if errors else None


def _status_record(
    status: Status, change: MessagesChange, business: BusinessRecord, fallback: datetime
) -> StatusRecord:
    conversation = status.conversation
    pricing = status.pricing
    # A failed status usually carries its own errors; older payloads put them on the value.
    errors = status.errors or change.errors
    return StatusRecord(
        wamid=status.wamid,
        status=status.status_name,
        timestamp=status.timestamp or fallback,
        business=business,
        # The store reads a non-digit recipient as a BSUID; Meta omits the phone for BSUID-only sends.
        recipient_id=status.recipient_id or status.recipient_user_id,
        conversation_id=conversation.id if conversation else "",
        conversation_origin=conversation.origin_type if conversation else "",
        conversation_expires_at=conversation.expiration_timestamp if conversation else None,
        pricing_billable=pricing.billable if pricing else None,
        pricing_model=pricing.pricing_model if pricing else "",
        pricing_category=pricing.category if pricing else "",
        pricing_type=pricing.type if pricing else "",
        biz_opaque_callback_data=status.biz_opaque_callback_data,
        errors=[e.raw for e in errors],
        raw=status.raw,
    )
