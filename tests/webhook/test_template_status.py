"""The `message_template_status_update` field through the one webhook POST path, signed as Meta signs."""

from __future__ import annotations

import json

import pytest

from store.models import HubEvent, MessageTemplate, WebhookEvent
from tests.support import dumps_like_meta, fixture_bytes, fixture_json, post_webhook, signed_headers

WABA = "102290129340398"


def template(**fields: str) -> MessageTemplate:
    values = {"waba_id": WABA, "name": "win_back", "language": "en_US", "status": "PENDING"}
    return MessageTemplate.objects.create(**(values | fields))


@pytest.mark.django_db
def test_template_rejected_webhook_updates_the_row_and_keeps_the_reason() -> None:
    row = template(template_id="1122609844103957", category="MARKETING")
    response = post_webhook(fixture_bytes("template_status_rejected.json"))
    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.status, row.reason, row.language) == ("REJECTED", "INCORRECT_CATEGORY", "en_US")
    assert WebhookEvent.objects.get().processed_at is not None  # the raw body is kept, recorded
    assert not HubEvent.objects.exists()  # no conversation changed: nothing in the event log


@pytest.mark.django_db
def test_template_status_webhook_for_unknown_template_creates_it() -> None:
    assert post_webhook(fixture_bytes("template_status_update.json")).status_code == 200
    row = MessageTemplate.objects.get()
    assert (row.waba_id, row.name, row.language) == (WABA, "order_shipped", "en_US")
    assert (row.status, row.template_id, row.reason) == ("APPROVED", "1689556908129832", "")
    assert row.components == []


@pytest.mark.django_db
def test_template_status_webhook_redelivered_changes_nothing() -> None:
    post_webhook(fixture_bytes("template_status_rejected.json"))
    before = MessageTemplate.objects.get().updated_at
    assert post_webhook(fixture_bytes("template_status_rejected.json")).status_code == 200
    assert MessageTemplate.objects.get().updated_at == before


@pytest.mark.django_db
def test_template_reinstated_webhook_makes_a_paused_template_approved_again() -> None:
    row = template(name="order_shipped", status="PAUSED", reason="LOW_QUALITY")
    body = fixture_json("template_status_update.json")
    body["entry"][0]["changes"][0]["value"]["event"] = "REINSTATED"
    raw = dumps_like_meta(body)
    assert post_webhook(raw).status_code == 200
    row.refresh_from_db()
    assert (row.status, row.reason) == ("APPROVED", "")


@pytest.mark.django_db
def test_template_status_webhook_with_wrong_signature_changes_nothing() -> None:
    row = template()
    raw = fixture_bytes("template_status_rejected.json")
    assert post_webhook(raw, signed_headers(raw, secret="another-secret")).status_code == 403
    row.refresh_from_db()
    assert row.status == "PENDING"
    assert json.loads(raw)["entry"][0]["id"] == WABA
