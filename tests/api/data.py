"""Builders of store records for the API tests: conversations and messages through `record_batch`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.actions.record import record_batch
from store.models import HubEvent
from store.records import BusinessRecord, CustomerRecord, IngestBatch, MessageRecord, StatusRecord

SHOP = BusinessRecord(phone_number_id="1001", display_phone_number="15550001001", waba_id="w1")
CLINIC = BusinessRecord(phone_number_id="2002", display_phone_number="15550002002", waba_id="w2")
ALICE_ID = "15551110001"
BOB_ID = "15552220002"
CAROL_ID = "US.7700001"
ALICE = CustomerRecord(wa_id=ALICE_ID, name="Alice Moreau")
BOB = CustomerRecord(wa_id=BOB_ID, name="Bob Stone")
# A customer known only by a business-scoped user id and a username (no phone number).
CAROL = CustomerRecord(user_id=CAROL_ID, username="carol_k", name="Carol")
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def inbound(
    wamid: str,
    *,
    customer: CustomerRecord = ALICE,
    business: BusinessRecord = SHOP,
    minutes: float = 0,
    text: str = "hello",
    message_type: str = "text",
    caption: str = "",
) -> MessageRecord:
    return MessageRecord(
        wamid=wamid,
        direction="inbound",
        business=business,
        customer=customer,
        from_number=customer.wa_id or customer.user_id or "",
        to_number=business.display_phone_number,
        from_name=customer.name,
        message_type=message_type,
        timestamp=at(minutes),
        text_body=text,
        caption=caption,
        raw={"id": wamid, "type": message_type},
    )


def outbound(
    wamid: str,
    *,
    customer: CustomerRecord = ALICE,
    business: BusinessRecord = SHOP,
    minutes: float = 0,
    text: str = "thanks",
) -> MessageRecord:
    return MessageRecord(
        wamid=wamid,
        direction="outbound",
        business=business,
        customer=customer,
        from_number=business.display_phone_number,
        to_number=customer.wa_id or customer.user_id or "",
        message_type="text",
        timestamp=at(minutes),
        text_body=text,
        raw={"id": wamid, "type": "text"},
    )


def status(
    wamid: str,
    name: str,
    *,
    customer: CustomerRecord = ALICE,
    business: BusinessRecord = SHOP,
    minutes: float = 0,
) -> StatusRecord:
    return StatusRecord(
        wamid=wamid,
        status=name,
        timestamp=at(minutes),
        business=business,
        recipient_id=customer.wa_id or customer.user_id or "",
        pricing_billable=True,
        pricing_category="service",
        raw={"id": wamid, "status": name},
    )


def record(*messages: MessageRecord, statuses: tuple[StatusRecord, ...] = ()) -> list[HubEvent]:
    businesses = list({m.business.phone_number_id: m.business for m in messages}.values())
    return record_batch(IngestBatch(businesses=businesses, messages=list(messages), statuses=list(statuses)))
