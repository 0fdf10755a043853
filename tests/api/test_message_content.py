"""A message's `content` (contact cards, orders, ads, ...) in REST and in its event, and after a revoke."""

from __future__ import annotations

import pytest
from django.test import Client

from store.actions.record import record_batch
from store.models import HubEvent, WhatsAppMessage
from tests.support import fixture_json
from webhook.ingest import batch_from_payload
from webhook.payload import parse_webhook


def ingest(name: str) -> WhatsAppMessage:
    batch = batch_from_payload(parse_webhook(fixture_json(name)))
    record_batch(batch)
    return WhatsAppMessage.objects.get(message_id=batch.messages[0].wamid)


@pytest.mark.django_db
def test_message_content_is_the_same_in_rest_list_detail_and_event(api: Client) -> None:
    message = ingest("order.json")

    listed = api.get("/api/whatsapp/messages/").json()["results"][0]
    detail = api.get(f"/api/whatsapp/messages/{message.pk}/").json()
    event = HubEvent.objects.get(type="message.created")

    assert listed["content"]["order"]["items"][0] == {
        "product_retailer_id": "MUG-BLUE-350",
        "quantity": 2,
        "item_price": 12.5,
        "currency": "USD",
    }
    assert detail["content"] == listed["content"] == event.payload["message"]["content"]


@pytest.mark.django_db
def test_message_content_of_a_plain_text_is_empty(api: Client) -> None:
    ingest("text.json")

    assert api.get("/api/whatsapp/messages/").json()["results"][0]["content"] == {}


@pytest.mark.django_db
def test_revoke_drops_the_content_of_its_target(api: Client) -> None:
    target = fixture_json("contacts.json")
    revoke = fixture_json("revoke.json")
    revoke_message = revoke["entry"][0]["changes"][0]["value"]["messages"][0]
    revoke_message["revoke"]["original_message_id"] = target["entry"][0]["changes"][0]["value"]["messages"][
        0
    ]["id"]
    record_batch(batch_from_payload(parse_webhook(target)))
    record_batch(batch_from_payload(parse_webhook(revoke)))

    deleted = WhatsAppMessage.objects.get(message_type="contacts")
    assert deleted.revoked_at is not None
    assert deleted.content == {}
    updated = HubEvent.objects.get(type="message.updated")
    assert updated.payload["message"]["content"] == {}
