"""Scoped tokens: lists show only their conversations; anything else answers 404 exactly as an unknown id
does, so that a token cannot probe which ids exist outside its scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from store.auth import issue_token
from store.models import HubEvent, WhatsAppConversation, WhatsAppMessage
from tests.api.data import ALICE_ID, BOB, BOB_ID, CAROL, CAROL_ID, CLINIC, inbound, outbound, record

MESSAGES = "/api/whatsapp/messages/"
CONVERSATIONS = "/api/whatsapp/conversations/"


@pytest.fixture
def mixed(db: None) -> None:
    record(
        inbound("a1", minutes=0),
        outbound("a2", minutes=1),
        inbound("b1", customer=BOB, minutes=2),
        inbound("c1", customer=CAROL, business=CLINIC, minutes=3),
        inbound("d1", business=CLINIC, minutes=4),
    )


@pytest.fixture
def shop_only(agent: User, bearer: Callable[[str], Client]) -> Client:
    return bearer(issue_token(agent, business="1001"))


@pytest.fixture
def alice_only(agent: User, bearer: Callable[[str], Client]) -> Client:
    return bearer(issue_token(agent, customers=[ALICE_ID]))


def wamids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [m["message_id"] for m in response.json()["results"]]


def assert_as_unknown(response: Any, unknown: Any, name: object = None, unknown_name: object = None) -> None:
    """`response` (for a row outside the scope) is the 404 that `unknown` (for no row) is, word for word
    but for the name the client itself gave."""
    assert response.status_code == unknown.status_code == 404, response.content
    assert response.json()["error"] == "not_found"
    hidden, missing = response.content.decode(), unknown.content.decode()
    if name is not None:
        hidden, missing = hidden.replace(str(name), "<name>"), missing.replace(str(unknown_name), "<name>")
    assert hidden == missing


@pytest.mark.django_db
def test_business_token_lists_only_its_business(shop_only: Client, mixed: None) -> None:
    assert wamids(shop_only.get(MESSAGES)) == ["b1", "a2", "a1"]
    assert wamids(shop_only.get(MESSAGES, {"business": "2002"})) == []
    assert wamids(shop_only.get(MESSAGES, {"phone": ALICE_ID})) == ["a2", "a1"]
    conversations = shop_only.get(CONVERSATIONS).json()["results"]
    assert {c["business_phone_number_id"] for c in conversations} == {"1001"}
    assert len(conversations) == 2


@pytest.mark.django_db
def test_customer_token_lists_only_its_customer(alice_only: Client, mixed: None) -> None:
    assert wamids(alice_only.get(MESSAGES)) == ["d1", "a2", "a1"]
    conversations = alice_only.get(CONVERSATIONS).json()["results"]
    assert [c["phone_number"] for c in conversations] == [ALICE_ID, ALICE_ID]


@pytest.mark.django_db
def test_bsuid_token_sees_that_customer(agent: User, bearer: Callable[[str], Client], mixed: None) -> None:
    client = bearer(issue_token(agent, customers=[CAROL_ID]))

    assert wamids(client.get(MESSAGES)) == ["c1"]
    assert client.get(f"{CONVERSATIONS}{CAROL_ID}/").status_code == 200


@pytest.mark.django_db
def test_business_token_message_outside_scope_is_404_as_unknown(shop_only: Client, mixed: None) -> None:
    outside = WhatsAppMessage.objects.get(message_id="c1")
    inside = WhatsAppMessage.objects.get(message_id="a1")
    unknown = WhatsAppMessage.objects.order_by("-pk").first().pk + 1000  # type: ignore[union-attr]

    assert_as_unknown(
        shop_only.get(f"{MESSAGES}{outside.pk}/"), shop_only.get(f"{MESSAGES}{unknown}/"), outside.pk, unknown
    )
    assert shop_only.get(f"{MESSAGES}{inside.pk}/").status_code == 200


@pytest.mark.django_db
def test_business_token_conversation_outside_scope_is_404_as_unknown(shop_only: Client, mixed: None) -> None:
    unknown = shop_only.get(f"{CONVERSATIONS}15550000000/")
    assert_as_unknown(shop_only.get(f"{CONVERSATIONS}{CAROL_ID}/"), unknown, CAROL_ID, "15550000000")
    assert_as_unknown(
        shop_only.get(f"{CONVERSATIONS}{ALICE_ID}/", {"business": "2002"}),
        shop_only.get(f"{CONVERSATIONS}15550000000/", {"business": "2002"}),
        ALICE_ID,
        "15550000000",
    )
    # Alice also wrote to the clinic more recently; the token gets the conversation it may see.
    response = shop_only.get(f"{CONVERSATIONS}{ALICE_ID}/")
    assert response.json()["business_phone_number_id"] == "1001"
    assert shop_only.get(f"{CONVERSATIONS}15550000000/").status_code == 404


@pytest.mark.django_db
def test_customer_token_other_customer_is_404_as_unknown(alice_only: Client, mixed: None) -> None:
    bob = WhatsAppMessage.objects.get(message_id="b1")

    assert_as_unknown(
        alice_only.get(f"{CONVERSATIONS}{BOB_ID}/"),
        alice_only.get(f"{CONVERSATIONS}15550000000/"),
        BOB_ID,
        "15550000000",
    )
    assert_as_unknown(
        alice_only.get(f"{MESSAGES}{bob.pk}/"), alice_only.get(f"{MESSAGES}999999/"), bob.pk, 999999
    )
    assert wamids(alice_only.get(MESSAGES, {"phone": BOB_ID})) == []


@pytest.mark.django_db
def test_scoped_token_writes_outside_scope_are_404_as_unknown_and_change_nothing(
    shop_only: Client, mixed: None
) -> None:
    events = HubEvent.objects.count()
    c1 = WhatsAppMessage.objects.get(message_id="c1")
    a1 = WhatsAppMessage.objects.get(message_id="a1")

    def mark(body: dict[str, Any]) -> Any:
        return shop_only.post("/api/whatsapp/mark-read/", body, content_type="application/json")

    assert_as_unknown(
        shop_only.patch(f"{CONVERSATIONS}{CAROL_ID}/", {"notes": "x"}, content_type="application/json"),
        shop_only.patch(f"{CONVERSATIONS}15550000000/", {"notes": "x"}, content_type="application/json"),
        CAROL_ID,
        "15550000000",
    )
    assert_as_unknown(
        mark({"phone_number": CAROL_ID}), mark({"phone_number": "15550000000"}), CAROL_ID, "15550000000"
    )
    # Out of scope, unknown hub id, unknown wamid: one answer, which names none of the ids.
    hidden = mark({"message_ids": [a1.pk, c1.pk]})
    assert_as_unknown(hidden, mark({"message_ids": [a1.pk, 987654]}))
    assert_as_unknown(hidden, mark({"message_ids": [a1.pk, "wamid.guessed"]}))
    assert "987654" not in mark({"message_ids": [a1.pk, 987654]}).text
    assert "wamid.guessed" not in mark({"message_ids": ["wamid.guessed"]}).text

    assert HubEvent.objects.count() == events
    assert not WhatsAppMessage.objects.filter(read_at__isnull=False).exists()
    assert WhatsAppConversation.objects.get(user_id=CAROL_ID).notes == ""


@pytest.mark.django_db
def test_scoped_token_writes_inside_scope_succeed(shop_only: Client, mixed: None) -> None:
    response = shop_only.post(
        "/api/whatsapp/mark-read/", {"phone_number": ALICE_ID}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json()["marked"] == 1
    assert response.json()["conversation"]["business_phone_number_id"] == "1001"
