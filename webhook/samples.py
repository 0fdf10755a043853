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
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": recipient,
    }
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
    return {"statuses": [item]}


def encode(payload: Mapping[str, Any]) -> bytes:
    """Serialize as Meta does: compact, non-ASCII escaped (the signature covers these exact bytes)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()
