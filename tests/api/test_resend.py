"""POST /api/whatsapp/messages/<id>/resend/: an agent sends again a message whose answer was lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from outbound.fake_graph import DEFAULT_TOKEN, Failure, FakeGraph
from store.auth import issue_token
from store.models import WhatsAppMessage
from tests.api.data import ALICE_ID, BOB_ID, SHOP
from tests.api.test_send_api import alice_wrote, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings: Settings) -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        settings.WHATSAPP_GRAPH_URL = server.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.WHATSAPP_PHONE_NUMBER_ID = SHOP.phone_number_id
        yield server


def resend(client: Client, message_id: int) -> Any:
    return client.post(f"/api/whatsapp/messages/{message_id}/resend/", content_type="application/json")


def lost_send(api: Client, fake: FakeGraph, text: str = "Your order shipped") -> dict[str, Any]:
    """A send Meta received whose answer never came back: `unknown`."""
    alice_wrote()
    fake.app.fail_next(Failure(drop=True))
    message: dict[str, Any] = post(api, {"to": ALICE_ID, "text": text}).json()["message"]
    assert message["status"] == "unknown"
    return message


def test_resend_of_an_unknown_message_sends_it_once_more_as_a_new_message(
    api: Client, fake: FakeGraph
) -> None:
    original = lost_send(api, fake)

    response = resend(api, original["id"])

    assert response.status_code == 201
    again = response.json()["message"]
    assert again["id"] != original["id"]
    assert (again["status"], again["text_body"]) == ("sent", "Your order shipped")
    assert len(fake.app.sent) == 2
    first, second = (sent["body"] for sent in fake.app.sent)
    assert second["text"] == first["text"]
    # Its own callback data, so that each send's statuses settle its own row.
    assert second["biz_opaque_callback_data"] != first["biz_opaque_callback_data"]
    assert again["message_id"] == fake.app.sent[1]["wamid"]
    # The first stays unknown until a status webhook says what became of it.
    assert WhatsAppMessage.objects.get(pk=original["id"]).status == "unknown"


def test_resend_twice_or_by_two_agents_is_one_new_send(
    api: Client, fake: FakeGraph, bearer: Callable[[str], Client]
) -> None:
    original = lost_send(api, fake)
    colleague = bearer(issue_token(User.objects.create_user("colleague")))

    answers = [resend(api, original["id"]), resend(colleague, original["id"]), resend(api, original["id"])]

    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["message"]["id"] for a in answers}) == 1
    assert len(fake.app.sent) == 2


def test_resend_of_a_message_that_is_not_unknown_is_409_and_sends_nothing(
    api: Client, fake: FakeGraph
) -> None:
    alice_wrote()
    sent = post(api, {"to": ALICE_ID, "text": "Hi"}).json()["message"]
    inbound = WhatsAppMessage.objects.get(direction="inbound")

    answers = [resend(api, sent["id"]), resend(api, inbound.pk)]

    assert [a.status_code for a in answers] == [409, 404]
    assert answers[0].json()["error"] == "not_unknown"
    assert len(fake.app.sent) == 1


def test_resend_outside_the_token_scope_is_404_as_an_unknown_id(
    api: Client, fake: FakeGraph, bearer: Callable[[str], Client]
) -> None:
    original = lost_send(api, fake)
    elsewhere = bearer(issue_token(User.objects.create_user("bobs-app"), customers=[BOB_ID]))

    outside, unknown = resend(elsewhere, original["id"]), resend(api, 10**9)

    assert outside.status_code == unknown.status_code == 404
    assert outside.json()["error"] == unknown.json()["error"] == "not_found"
    assert len(fake.app.sent) == 1
