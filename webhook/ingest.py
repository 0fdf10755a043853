"""Maps a parsed webhook onto the store's records: pure, no database; the store applies them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store.records import (
    BusinessRecord,
    CustomerRecord,
    IdentityChange,
    IngestBatch,
    MessageChange,
    MessageRecord,
    StatusRecord,
)
from webhook.content import message_content
from webhook.message_types import SystemKind
from webhook.messages import Message, MessageType
from webhook.payload import Contact, MessagesChange, WebhookPayload
from webhook.statuses import Status
from webhook.template_status import template_statuses_from_payload
from webhook.wire import ErrorDetail
from webhook.wire_fields import wire_columns


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
    batch.templates.extend(template_statuses_from_payload(payload))
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
        error_code=error.code if error else None,
        error_title=error.title if error else "",
        change=_change(message),
        content=message_content(message),
        new_identity=_new_identity(message) if inbound else None,
        raw=message.raw,
        **message_columns(message),
    )


def message_columns(message: Message) -> dict[str, Any]:
    """The columns the message's content fills, as its fields declare (`webhook/message_types.py`).

    Where several fields fill one column (an interactive reply's title, body or response as its text),
    the first one that is set wins; a reaction's target comes before a reply's.
    """
    columns: dict[str, Any] = {"text_body": message.text} if message.text else {}
    for part in (message.content, message.context):
        for column, value in wire_columns(part):
            if column not in columns and value not in ("", None):
                columns[column] = value
    return columns


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


NUMBER_CHANGES = (SystemKind.USER_CHANGED_NUMBER, SystemKind.CUSTOMER_CHANGED_NUMBER)


def _new_identity(message: Message) -> IdentityChange | None:
    """The identity a `system` message moves the customer to: a new number, or a new BSUID."""
    system = message.system
    if system is None:
        return None
    if system.kind in NUMBER_CHANGES and system.wa_id and system.wa_id != message.from_number:
        return IdentityChange(field="phone_number", value=system.wa_id)
    if system.kind == SystemKind.USER_CHANGED_USER_ID and system.user_id:
        return IdentityChange(field="user_id", value=system.user_id)
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
