"""Builders of store records for tests that exercise the store without going through Meta's envelope."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from store.records import BusinessRecord, CustomerRecord, IngestBatch, MessageRecord, StatusRecord

BUSINESS = BusinessRecord(phone_number_id="106540352242922", display_phone_number="15550783881")
EPOCH = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_counter = itertools.count(1)


def wamid() -> str:
    return f"wamid.TEST{next(_counter):012d}"


def inbound(
    wa_id: str = "16505551234",
    text: str = "Hi, I need help with my order",
    *,
    name: str = "John Doe",
    at: datetime | None = None,
    message_id: str | None = None,
    user_id: str | None = None,
    business: BusinessRecord = BUSINESS,
    **fields: Any,
) -> MessageRecord:
    return MessageRecord(
        wamid=message_id or wamid(),
        direction="inbound",
        business=business,
        customer=CustomerRecord(wa_id=wa_id or None, user_id=user_id, name=name),
        from_number=wa_id or user_id or "",
        to_number=business.display_phone_number,
        from_name=name,
        message_type=fields.pop("message_type", "text"),
        text_body=text,
        timestamp=at or EPOCH,
        **fields,
    )


def outbound(
    wa_id: str = "16505551234",
    text: str = "Thanks!",
    *,
    message_id: str | None = None,
    at: datetime | None = None,
) -> MessageRecord:
    return MessageRecord(
        wamid=message_id or wamid(),
        direction="outbound",
        business=BUSINESS,
        customer=CustomerRecord(wa_id=wa_id),
        from_number=BUSINESS.display_phone_number,
        to_number=wa_id,
        message_type="text",
        text_body=text,
        timestamp=at or EPOCH,
    )


def status(
    message_id: str,
    value: str,
    *,
    recipient: str = "16505551234",
    offset: int = 0,
    errors: list[dict[str, Any]] | None = None,
) -> StatusRecord:
    return StatusRecord(
        wamid=message_id,
        status=value,
        timestamp=EPOCH + timedelta(seconds=offset),
        business=BUSINESS,
        recipient_id=recipient,
        errors=errors or [],
    )


def batch(*items: MessageRecord | StatusRecord) -> IngestBatch:
    messages = [i for i in items if isinstance(i, MessageRecord)]
    return IngestBatch(
        businesses=[BUSINESS],
        customers=[(m.business, m.customer) for m in messages if m.direction == "inbound"],
        messages=messages,
        statuses=[i for i in items if isinstance(i, StatusRecord)],
    )
