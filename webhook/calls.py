"""Maps Meta's `calls` webhook field onto call attempts (pure): a customer calling a business number.

The Cloud API does not let the hub answer calls; what it can do is reply with call instructions once per
call (an auto-reply rule). Only a customer-initiated `connect` is an attempt; `terminate` and
business-initiated calls are not.
"""

from __future__ import annotations

from datetime import UTC, datetime

from store.actions.autoreply_rules import CallAttempt
from webhook.payload import WebhookPayload
from webhook.wire import obj, objects, text, timestamp

CALLS_FIELD = "calls"


def call_attempts_from_payload(
    payload: WebhookPayload, *, received_at: datetime | None = None
) -> list[CallAttempt]:
    attempts: list[CallAttempt] = []
    for change in payload.other_changes:
        if change.field != CALLS_FIELD:
            continue
        value = obj(change.value)
        business = text(obj(value.get("metadata")).get("phone_number_id"))
        for call in objects(value.get("calls")):
            direction = text(call.get("direction")).upper()
            if text(call.get("event")) != "connect" or direction not in ("", "USER_INITIATED"):
                continue
            caller = text(call.get("from"))
            attempts.append(
                CallAttempt(
                    business_phone_number_id=business,
                    call_id=text(call.get("id")),
                    timestamp=timestamp(call.get("timestamp")) or received_at or datetime.now(UTC),
                    wa_id=caller if caller.isdigit() else None,
                    user_id=None if caller.isdigit() else (caller or text(call.get("from_user_id")) or None),
                )
            )
    return [a for a in attempts if a.business_phone_number_id and a.call_id]
