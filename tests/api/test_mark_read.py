"""POST /api/whatsapp/mark-read/ and the `mark_read` action behind it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from store.actions.read import mark_read
from store.auth import EVERYTHING
from store.errors import InvalidRequest, NotFound
from store.models import HubEvent, WhatsAppConversation, WhatsAppMessage
from tests.api.data import (
    ALICE_ID,
    BOB,
    BOB_ID,
    CAROL,
    CAROL_ID,
    CLINIC,
    SHOP,
    inbound,
    outbound,
    record,
)

URL = "/api/whatsapp/mark-read/"


@pytest.fixture
def unread(db: None) -> None:
    record(
        inbound("a1", minutes=0),
        outbound("a2", minutes=1),
        inbound("a3", minutes=2),
        inbound("b1", customer=BOB, minutes=3),
        inbound("c1", customer=CAROL, business=CLINIC, minutes=4),
        inbound("d1", business=CLINIC, minutes=5),
    )


def post(client: Client, body: dict[str, Any]) -> Any:
    return client.post(URL, body, content_type="application/json")


def new_events(before: int) -> list[HubEvent]:
    return list(HubEvent.objects.filter(seq__gt=before).order_by("seq"))


def last_seq() -> int:
    return HubEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def conversation(customer: str, business: str) -> WhatsAppConversation:
    return (
        WhatsAppConversation.objects.get(business_phone_number_id=business, phone_number=customer)
        if customer.isdigit()
        else WhatsAppConversation.objects.get(business_phone_number_id=business, user_id=customer)
    )


@pytest.mark.django_db
def test_mark_read_by_phone_sets_read_at_resets_count_and_logs_events(api: Client, unread: None) -> None:
    before = last_seq()

    response = post(api, {"phone_number": ALICE_ID, "business": SHOP.phone_number_id})

    assert response.status_code == 200
    shop_alice = conversation(ALICE_ID, "1001")
    assert response.json()["marked"] == 2
    assert response.json()["conversation"]["id"] == shop_alice.pk
    assert response.json()["conversation"]["unread_count"] == 0
    assert shop_alice.unread_count == 0
    assert all(m.read_at for m in WhatsAppMessage.objects.filter(message_id__in=["a1", "a3"]))
    assert WhatsAppMessage.objects.get(message_id="a2").read_at is None
    assert conversation(ALICE_ID, "2002").unread_count == 1
    events = new_events(before)
    assert [e.type for e in events] == ["message.updated", "message.updated", "conversation.updated"]
    assert [e.payload["message"]["message_id"] for e in events[:2]] == ["a1", "a3"]
    assert all(e.payload["message"]["read_at"] for e in events[:2])
    assert all(e.payload["conversation"]["unread_count"] == 0 for e in events)
    assert all(e.conversation_id == shop_alice.pk for e in events)


@pytest.mark.django_db
def test_mark_read_second_time_marks_and_logs_nothing(
    api: Client, unread: None, django_capture_on_commit_callbacks: Any
) -> None:
    post(api, {"phone_number": ALICE_ID, "business": SHOP.phone_number_id})
    before = last_seq()

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(api, {"phone_number": ALICE_ID, "business": SHOP.phone_number_id})

    assert response.status_code == 200
    assert response.json()["marked"] == 0
    assert new_events(before) == []
    assert callbacks == []


@pytest.mark.django_db
def test_mark_read_by_phone_without_business_uses_most_recent(api: Client, unread: None) -> None:
    response = post(api, {"phone_number": ALICE_ID})

    assert response.json()["marked"] == 1
    assert response.json()["conversation"]["business_phone_number_id"] == CLINIC.phone_number_id
    assert conversation(ALICE_ID, "1001").unread_count == 2


@pytest.mark.django_db
def test_mark_read_by_bsuid_marks_that_customer(api: Client, unread: None) -> None:
    response = post(api, {"phone_number": CAROL_ID})

    assert response.json()["marked"] == 1
    assert conversation(CAROL_ID, "2002").unread_count == 0


@pytest.mark.django_db
def test_mark_read_by_hub_ids_and_wamids_marks_only_those(api: Client, unread: None) -> None:
    a1 = WhatsAppMessage.objects.get(message_id="a1")
    a2 = WhatsAppMessage.objects.get(message_id="a2")
    before = last_seq()

    response = post(api, {"message_ids": [a1.pk, a2.pk, "b1"]})

    assert response.status_code == 200
    # a2 is outbound: nothing to read. Two conversations: no single one to return.
    assert response.json() == {"marked": 2, "conversation": None}
    assert conversation(ALICE_ID, "1001").unread_count == 1
    assert conversation(BOB_ID, "1001").unread_count == 0
    events = new_events(before)
    assert sorted(e.type for e in events) == ["conversation.updated"] * 2 + ["message.updated"] * 2
    assert {e.payload["message"]["message_id"] for e in events if "message" in e.payload} == {"a1", "b1"}


@pytest.mark.django_db
def test_mark_read_ids_of_one_conversation_returns_it(api: Client, unread: None) -> None:
    response = post(api, {"message_ids": ["a3"]})

    assert response.json()["marked"] == 1
    assert response.json()["conversation"]["unread_count"] == 1


@pytest.mark.django_db
def test_mark_read_wrong_unread_count_is_recounted_exactly(api: Client, unread: None) -> None:
    WhatsAppConversation.objects.filter(phone_number=BOB_ID).update(unread_count=7)
    WhatsAppMessage.objects.filter(message_id="b1").update(read_at="2026-05-01T10:00:00Z")
    before = last_seq()

    response = post(api, {"phone_number": BOB_ID})

    assert response.json()["marked"] == 0
    assert response.json()["conversation"]["unread_count"] == 0
    assert [e.type for e in new_events(before)] == ["conversation.updated"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"phone_number": ALICE_ID, "message_ids": ["a1"]}, 400, "invalid_request"),
        ({"message_ids": []}, 400, "invalid_request"),
        ({"message_ids": ["a1"], "business": "1001"}, 400, "invalid_request"),
        ({"message_ids": [1.5]}, 400, "invalid_request"),
        ({"phone_number": ALICE_ID, "extra": 1}, 400, "invalid_request"),
        ({"message_ids": ["a1", "wamid.unknown"]}, 404, "not_found"),
        ({"message_ids": [999999]}, 404, "not_found"),
        ({"phone_number": "15550000000"}, 404, "not_found"),
    ],
)
def test_mark_read_bad_request_changes_nothing(
    api: Client, unread: None, body: dict[str, Any], status: int, error: str
) -> None:
    before = last_seq()

    response = post(api, body)

    assert response.status_code == status, response.content
    assert response.json()["error"] == error
    assert new_events(before) == []
    assert WhatsAppMessage.objects.filter(read_at__isnull=False).count() == 0


@pytest.mark.django_db
def test_mark_read_action_rejects_bool_ids(unread: None) -> None:
    with pytest.raises(InvalidRequest):
        mark_read(EVERYTHING, message_ids=[True])


@pytest.mark.django_db
def test_mark_read_action_unknown_customer_raises_not_found(unread: None) -> None:
    with pytest.raises(NotFound):
        mark_read(EVERYTHING, customer="15550000000")
