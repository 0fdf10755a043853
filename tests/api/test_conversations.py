"""GET /api/whatsapp/conversations/, GET and PATCH /api/whatsapp/conversations/<customer>/."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from store.events import conversation_json
from store.models import HubEvent, WhatsAppConversation
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

URL = "/api/whatsapp/conversations/"


@pytest.fixture
def inbox(db: None) -> None:
    record(
        inbound("a1", minutes=0),
        outbound("a2", minutes=1),
        inbound("b1", customer=BOB, minutes=2),
        outbound("b2", customer=BOB, minutes=3),
        inbound("c1", customer=CAROL, business=CLINIC, minutes=4),
        inbound("d1", business=CLINIC, minutes=5),
    )
    WhatsAppConversation.objects.filter(phone_number=BOB_ID).update(unread_count=0)
    # A customer known from a contact or status only: no message yet.
    WhatsAppConversation.objects.create(business_phone_number_id="1001", phone_number="15553330003")


def customers(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [c["phone_number"] or c["user_id"] for c in response.json()["results"]]


@pytest.mark.django_db
def test_list_conversations_most_recent_first_nulls_last(api: Client, inbox: None) -> None:
    response = api.get(URL)

    assert customers(response) == [ALICE_ID, CAROL_ID, BOB_ID, ALICE_ID, "15553330003"]
    assert response.json()["results"][0]["business_phone_number_id"] == "2002"
    first = WhatsAppConversation.objects.get(phone_number=ALICE_ID, business_phone_number_id="2002")
    assert response.json()["results"][0] == conversation_json(first)
    assert response.json()["next"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"unread": "true"}, [ALICE_ID, CAROL_ID, ALICE_ID]),
        ({"unread": "false"}, [BOB_ID, "15553330003"]),
        ({"q": "alice"}, [ALICE_ID, ALICE_ID]),
        ({"q": "2220002"}, [BOB_ID]),
        ({"q": "CAROL_K"}, [CAROL_ID]),
        ({"q": "US.770"}, [CAROL_ID]),
        ({"business": SHOP.phone_number_id}, [BOB_ID, ALICE_ID, "15553330003"]),
        ({"business": CLINIC.phone_number_id, "unread": "true"}, [ALICE_ID, CAROL_ID]),
    ],
)
def test_list_conversations_filter_returns_matching(
    api: Client, inbox: None, params: dict[str, str], expected: list[str]
) -> None:
    assert customers(api.get(URL, params)) == expected


@pytest.mark.django_db
def test_list_conversations_bad_unread_is_400(api: Client) -> None:
    response = api.get(URL, {"unread": "maybe"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
def test_list_conversations_walking_pages_returns_all_once(api: Client, inbox: None) -> None:
    for n in range(4):
        WhatsAppConversation.objects.create(business_phone_number_id="1001", user_id=f"US.quiet{n}")
    expected = customers(api.get(URL, {"limit": 100}))

    seen: list[str] = []
    url: str | None = f"{URL}?limit=2"
    while url:
        response = api.get(url)
        seen += customers(response)
        url = response.json()["next"]
        assert url is None or "limit=2" in url

    assert seen == expected
    assert len(seen) == 9


@pytest.mark.django_db
def test_list_conversations_messages_cursor_is_invalid_cursor(api: Client, inbox: None) -> None:
    first = api.get("/api/whatsapp/messages/", {"limit": 1}).json()["next"]
    cursor = first.split("cursor=")[1].split("&")[0]

    response = api.get(URL, {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_cursor"


@pytest.mark.django_db
def test_get_conversation_without_business_returns_most_recent(api: Client, inbox: None) -> None:
    response = api.get(f"{URL}{ALICE_ID}/")

    assert response.status_code == 200
    assert response.json()["business_phone_number_id"] == CLINIC.phone_number_id
    assert response.json()["window_open"] is False


@pytest.mark.django_db
def test_get_conversation_with_business_returns_that_one(api: Client, inbox: None) -> None:
    response = api.get(f"{URL}{ALICE_ID}/", {"business": SHOP.phone_number_id})

    assert response.status_code == 200
    conversation = WhatsAppConversation.objects.get(phone_number=ALICE_ID, business_phone_number_id="1001")
    assert response.json() == conversation_json(conversation)
    assert response.json()["message_count"] == 2
    assert response.json()["unread_count"] == 1


@pytest.mark.django_db
def test_get_conversation_by_bsuid_returns_it(api: Client, inbox: None) -> None:
    response = api.get(f"{URL}{CAROL_ID}/")

    assert response.status_code == 200
    assert response.json()["username"] == "carol_k"
    assert response.json()["phone_number"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(("customer", "business"), [("15550000000", ""), (BOB_ID, "2002")])
def test_get_conversation_unknown_is_404(api: Client, inbox: None, customer: str, business: str) -> None:
    response = api.get(f"{URL}{customer}/", {"business": business} if business else {})

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_patch_conversation_notes_changes_them_and_logs_one_event(api: Client, inbox: None) -> None:
    before = HubEvent.objects.count()

    response = api.patch(f"{URL}{BOB_ID}/", {"notes": "VIP, call after 5pm"}, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["notes"] == "VIP, call after 5pm"
    assert WhatsAppConversation.objects.get(phone_number=BOB_ID).notes == "VIP, call after 5pm"
    events = list(HubEvent.objects.order_by("seq")[before:])
    assert [e.type for e in events] == ["conversation.updated"]
    assert events[0].payload["conversation"]["notes"] == "VIP, call after 5pm"


@pytest.mark.django_db
def test_patch_conversation_same_notes_logs_nothing(
    api: Client, inbox: None, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"{URL}{BOB_ID}/"
    api.patch(url, {"notes": "same"}, content_type="application/json")
    before = HubEvent.objects.count()

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.patch(url, {"notes": "same"}, content_type="application/json")

    assert response.status_code == 200
    assert HubEvent.objects.count() == before
    assert callbacks == []


@pytest.mark.django_db
def test_patch_conversation_with_business_edits_that_one(api: Client, inbox: None) -> None:
    response = api.patch(
        f"{URL}{ALICE_ID}/?business=1001", {"notes": "shop side"}, content_type="application/json"
    )

    assert response.status_code == 200
    assert WhatsAppConversation.objects.get(phone_number=ALICE_ID, business_phone_number_id="1001").notes
    assert not WhatsAppConversation.objects.get(phone_number=ALICE_ID, business_phone_number_id="2002").notes


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [{"notes": "x", "unread_count": 0}, {"contact_name": "Mallory"}, {}, {"notes": None}]
)
def test_patch_conversation_other_fields_is_400(api: Client, inbox: None, body: dict[str, Any]) -> None:
    response = api.patch(f"{URL}{BOB_ID}/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert WhatsAppConversation.objects.get(phone_number=BOB_ID).contact_name == "Bob Stone"


@pytest.mark.django_db
def test_patch_conversation_not_json_is_400(api: Client, inbox: None) -> None:
    response = api.patch(f"{URL}{BOB_ID}/", "notes=1", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.django_db
def test_patch_conversation_unknown_is_404(api: Client, inbox: None) -> None:
    response = api.patch(f"{URL}15550000000/", {"notes": "x"}, content_type="application/json")

    assert response.status_code == 404
