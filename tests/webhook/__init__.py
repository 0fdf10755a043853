"""Unit tests of the webhook package; the ids the fixtures use and a batch builder they share."""

from __future__ import annotations

import copy
from typing import Any

from tests.support import fixture_json

CUSTOMER = "16505551234"
BSUID = "US.13491208655302741918"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
WABA_ID = "102290129340398"


def _text_message(index: int) -> dict[str, Any]:
    return {
        "from": CUSTOMER,
        "id": f"wamid.batch-{index:04d}",
        "timestamp": str(1764000000 + index),
        "type": "text",
        "text": {"body": f"message {index}"},
    }


def thousand_message_body() -> dict[str, Any]:
    """Meta's largest batch: 1,000 updates spread over 10 entries of 4 changes of 25 messages."""
    template = fixture_json("text.json")
    entries = []
    for entry_index in range(10):
        entry = copy.deepcopy(template["entry"][0])
        base_change = entry["changes"][0]
        entry["changes"] = []
        for change_index in range(4):
            change = copy.deepcopy(base_change)
            first = (entry_index * 4 + change_index) * 25
            change["value"]["messages"] = [_text_message(first + i) for i in range(25)]
            entry["changes"].append(change)
        entries.append(entry)
    return {"object": "whatsapp_business_account", "entry": entries}
