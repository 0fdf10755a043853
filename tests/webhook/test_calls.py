"""Meta's `calls` webhook field: a customer's call becomes one call attempt, answered once."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from store.models import Job, WhatsAppConversation
from tests.support import post_webhook
from webhook.calls import call_attempts_from_payload
from webhook.payload import parse_webhook
from webhook.samples import encode

CALLS_BODY = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "calls",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "contacts": [{"profile": {"name": "John Doe"}, "wa_id": "16505551234"}],
                        "calls": [
                            {
                                "id": "wacid.HBgLMTY1MDU1NTEyMzQVAgARGBI",
                                "to": "15550783881",
                                "from": "16505551234",
                                "event": "connect",
                                "timestamp": "1764000000",
                                "direction": "USER_INITIATED",
                            },
                            {
                                "id": "wacid.HBgLMTY1MDU1NTEyMzQVAgARGBI",
                                "to": "15550783881",
                                "from": "16505551234",
                                "event": "terminate",
                                "timestamp": "1764000030",
                                "direction": "USER_INITIATED",
                                "status": "Completed",
                            },
                        ],
                    },
                }
            ],
        }
    ],
}


def test_call_attempts_from_payload_connect_only() -> None:
    attempts = call_attempts_from_payload(parse_webhook(CALLS_BODY))
    assert [(a.call_id, a.wa_id, a.business_phone_number_id) for a in attempts] == [
        ("wacid.HBgLMTY1MDU1NTEyMzQVAgARGBI", "16505551234", "106540352242922")
    ]


def test_call_attempts_from_payload_business_initiated_is_not_an_attempt() -> None:
    body = encode(CALLS_BODY).replace(b"USER_INITIATED", b"BUSINESS_INITIATED")
    assert call_attempts_from_payload(parse_webhook(json.loads(body))) == []


@pytest.mark.django_db
def test_calls_webhook_queues_the_call_reply_once(client: Client, settings: Settings) -> None:
    settings.HUB_AUTOREPLY_CALL = "We cannot take calls here; please write."
    # A call older than 24 hours gets no reply: this one is happening now.
    now = str(int(time.time())).encode()
    body = encode(CALLS_BODY).replace(b'"1764000000"', b'"' + now + b'"')
    for _ in range(2):  # Meta redelivers
        response = post_webhook(body)
        assert response.status_code == 200
    assert Job.objects.filter(kind="autoreply.send").count() == 1
    assert WhatsAppConversation.objects.get(phone_number="16505551234").last_inbound_at is not None
