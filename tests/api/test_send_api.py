"""POST /api/whatsapp/messages/: the REST face of sending, against the fake Graph API over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from outbound import fake_graph as fake_graph_module
from outbound.fake_graph import DEFAULT_TOKEN, Failure, FakeGraph
from store.actions.record import record_batch
from store.auth import issue_token
from store.models import Job, WhatsAppBusinessNumber, WhatsAppConversation, WhatsAppMessage
from store.records import IngestBatch, MessageRecord
from tests.api.clients import make_client
from tests.api.data import ALICE, ALICE_ID, BOB, BOB_ID, SHOP, inbound
from tests.support import TEST_APP_SECRET, HubTransport, post_webhook
from webhook.samples import encode, envelope, status_update

URL = "/api/whatsapp/messages/"


def alice_wrote(minutes_ago: float = 1) -> None:
    record = inbound("wamid.alice1", minutes=0)
    recent = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    record_batch(IngestBatch(businesses=[SHOP], messages=[_at(record, recent)]))


def _at(record: MessageRecord, moment: datetime) -> MessageRecord:
    return replace(record, timestamp=moment)


def post(client: Client, body: dict[str, Any], **headers: str) -> Any:
    return client.post(URL, body, content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_send_api_text_answers_201_with_the_sent_message(api: Client, fake: FakeGraph) -> None:
    alice_wrote()

    response = post(api, {"to": ALICE_ID, "text": "On its way"})

    assert response.status_code == 201
    message = response.json()["message"]
    assert (message["status"], message["direction"], message["text_body"]) == (
        "sent",
        "outbound",
        "On its way",
    )
    assert message["message_id"] == fake.app.sent[0]["wamid"]
    assert fake.app.sent[0]["phone_number_id"] == SHOP.phone_number_id
    listed = api.get(URL, {"phone": ALICE_ID}).json()["results"]
    assert listed[0]["id"] == message["id"]


@pytest.mark.django_db
def test_send_api_outside_window_is_409_with_a_template_hint(api: Client, fake: FakeGraph) -> None:
    alice_wrote(minutes_ago=48 * 60)

    response = post(api, {"to": ALICE_ID, "text": "Hello?"})

    assert response.status_code == 409
    assert response.json()["error"] == "outside_customer_service_window"
    assert "template" in response.json()["detail"]
    assert fake.app.sent == []


@pytest.mark.django_db
def test_send_api_meta_refusal_keeps_the_failed_message(api: Client, fake: FakeGraph) -> None:
    alice_wrote()
    fake.app.fail_next(Failure(code=131026))

    response = post(api, {"to": ALICE_ID, "text": "Hi"})

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "meta_refused"
    assert "131026" in body["detail"]
    assert "reach the customer another way" in body["detail"]
    assert body["message"]["status"] == "failed"
    assert WhatsAppMessage.objects.get(pk=body["message"]["id"]).error_code == 131026


@pytest.mark.django_db
def test_send_api_meta_throttling_is_queued_as_pending(api: Client, fake: FakeGraph) -> None:
    alice_wrote()
    fake.app.fail_next(Failure(code=130429))

    response = post(api, {"to": ALICE_ID, "text": "Hi"})

    assert response.status_code == 201
    assert response.json()["message"]["status"] == "pending"


@pytest.mark.django_db
def test_send_api_meta_server_error_is_unknown_and_not_retried(api: Client, fake: FakeGraph) -> None:
    alice_wrote()
    fake.app.fail_next(Failure(code=131000))

    response = post(api, {"to": ALICE_ID, "text": "Hi"})

    assert response.status_code == 201
    assert response.json()["message"]["status"] == "unknown"
    assert Job.objects.get(kind="message.send").state == "done"


@pytest.mark.django_db
def test_send_api_idempotency_key_returns_the_first_result(api: Client, fake: FakeGraph) -> None:
    alice_wrote()

    first = post(api, {"to": ALICE_ID, "text": "Hi"}, **{"Idempotency-Key": "abc"})
    again = post(api, {"to": ALICE_ID, "text": "Hi"}, **{"Idempotency-Key": "abc"})

    assert first.status_code == again.status_code == 201
    assert first.json()["message"]["id"] == again.json()["message"]["id"]
    assert len(fake.app.sent) == 1


@pytest.mark.django_db
def test_send_api_idempotency_keys_are_per_user(
    api: Client, bearer: Callable[[str], Client], fake: FakeGraph
) -> None:
    alice_wrote()
    other = bearer(issue_token(User.objects.create_user("other")))

    first = post(api, {"to": ALICE_ID, "text": "Hi"}, **{"Idempotency-Key": "same"})
    second = post(other, {"to": ALICE_ID, "text": "Hi"}, **{"Idempotency-Key": "same"})

    assert first.json()["message"]["id"] != second.json()["message"]["id"]
    assert len(fake.app.sent) == 2


@pytest.mark.django_db
def test_send_api_without_access_token_is_503(api: Client, settings: Settings) -> None:
    settings.WHATSAPP_ACCESS_TOKEN = None
    alice_wrote()

    response = post(api, {"to": ALICE_ID, "text": "Hi"})

    assert response.status_code == 503
    assert response.json()["error"] == "sending_disabled"
    assert not WhatsAppMessage.objects.filter(direction="outbound").exists()


@pytest.mark.django_db
def test_send_api_outside_the_token_scope_is_403(
    agent: User, bearer: Callable[[str], Client], fake: FakeGraph
) -> None:
    alice_wrote()
    only_bob = bearer(issue_token(agent, customers=[BOB_ID]))
    other_number = bearer(issue_token(agent, business="2002"))

    assert post(only_bob, {"to": ALICE_ID, "text": "Hi"}).status_code == 403
    assert (
        post(other_number, {"to": ALICE_ID, "business": SHOP.phone_number_id, "text": "Hi"}).status_code
        == 403
    )
    assert fake.app.sent == []


@pytest.mark.django_db
def test_send_api_without_credentials_is_401(fake: FakeGraph) -> None:
    assert post(make_client(), {"to": ALICE_ID, "text": "Hi"}).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"to": ALICE_ID, "text": "Hi", "colour": "red"}, "invalid_request"),
        ({"to": ALICE_ID}, "invalid_body"),
        ({"to": "not a number", "text": "Hi"}, "invalid_recipient"),
        ({"to": ALICE_ID, "media": {"type": "image"}}, "invalid_media"),
    ],
)
def test_send_api_invalid_body_is_400(api: Client, fake: FakeGraph, body: dict[str, Any], code: str) -> None:
    response = post(api, body)

    assert response.status_code == 400
    assert response.json()["error"] == code
    assert fake.app.sent == []


@pytest.mark.django_db
def test_send_api_signed_status_webhooks_advance_the_message(api: Client, fake: FakeGraph) -> None:
    alice_wrote()
    message = post(api, {"to": ALICE_ID, "text": "Hi"}).json()["message"]

    for value in ("delivered", "read"):
        body = encode(
            envelope(
                [status_update(message["message_id"], ALICE_ID, value, int(time.time()))],
                phone_number_id=SHOP.phone_number_id,
            )
        )
        response = post_webhook(body)
        assert response.status_code == 200

    assert api.get(f"{URL}{message['id']}/").json()["status"] == "read"


@pytest.mark.django_db(transaction=True)
def test_send_api_fake_graph_status_webhooks_reach_the_hub(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake posts its signed webhooks through the hub's HTTP stack, in its own thread.
    class ToTheHub:
        HTTPError = httpx.HTTPError

        @staticmethod
        def Client(timeout: float) -> httpx.Client:
            return httpx.Client(transport=HubTransport(in_caller_thread=False), timeout=timeout)

    monkeypatch.setattr(fake_graph_module, "httpx", ToTheHub)
    record_batch(IngestBatch(businesses=[SHOP], messages=[_at(inbound("wamid.a"), datetime.now(UTC))]))
    client = make_client(authorization=f"Bearer {issue_token(User.objects.create_user('a'))}")
    webhook_url = "http://testserver/api/whatsapp/webhook/"
    with FakeGraph(webhook_url=webhook_url, app_secret=TEST_APP_SECRET, status_delays=(0, 0, 0)) as fake:
        settings.WHATSAPP_GRAPH_URL = fake.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        message = post(client, {"to": ALICE_ID, "text": "Hi"}).json()["message"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            current = WhatsAppMessage.objects.get(pk=message["id"])
            if current.status == "read":
                break
            time.sleep(0.05)

    assert current.status == "read"
    assert current.statuses.count() == 3
    assert ALICE.wa_id == current.to_number


@pytest.mark.django_db
def test_send_api_idempotency_key_of_another_token_of_the_same_user_sends_its_own_message(
    agent: User, bearer: Callable[[str], Client], fake: FakeGraph
) -> None:
    alice_wrote()
    record_batch(IngestBatch(businesses=[SHOP], messages=[_at(bob_record(), datetime.now(UTC))]))
    token_a = bearer(issue_token(agent, customers=[ALICE_ID]))
    token_b = bearer(issue_token(agent, customers=[BOB_ID]))

    first = post(token_a, {"to": ALICE_ID, "text": "For Alice"}, **{"Idempotency-Key": "order-42"})
    second = post(token_b, {"to": BOB_ID, "text": "For Bob"}, **{"Idempotency-Key": "order-42"})

    assert first.status_code == second.status_code == 201
    assert second.json()["message"]["text_body"] == "For Bob"
    assert second.json()["message"]["id"] != first.json()["message"]["id"]
    assert [s["body"]["text"]["body"] for s in fake.app.sent] == ["For Alice", "For Bob"]


def bob_record() -> MessageRecord:
    return inbound("wamid.bob1", customer=BOB, minutes=0)


@pytest.mark.django_db
def test_send_api_same_idempotency_key_with_another_body_is_422(api: Client, fake: FakeGraph) -> None:
    alice_wrote()

    first = post(api, {"to": ALICE_ID, "text": "Hi"}, **{"Idempotency-Key": "k"})
    reused = post(api, {"to": ALICE_ID, "text": "Something else"}, **{"Idempotency-Key": "k"})
    replay = post(api, {"text": "Hi", "to": ALICE_ID}, **{"Idempotency-Key": "k"})

    assert first.status_code == 201
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    assert "message" not in reused.json()
    assert replay.status_code == 201
    assert replay.json()["message"]["id"] == first.json()["message"]["id"]
    assert len(fake.app.sent) == 1


@pytest.mark.django_db
def test_send_api_idempotency_key_expires_after_24_hours(api: Client, fake: FakeGraph) -> None:
    alice_wrote()
    first = post(api, {"to": ALICE_ID, "text": "Hi"}, **{"Idempotency-Key": "daily"})
    WhatsAppMessage.objects.filter(pk=first.json()["message"]["id"]).update(
        received_at=datetime.now(UTC) - timedelta(hours=25)
    )

    later = post(api, {"to": ALICE_ID, "text": "Hi"}, **{"Idempotency-Key": "daily"})

    assert later.status_code == 201
    assert later.json()["message"]["id"] != first.json()["message"]["id"]
    assert len(fake.app.sent) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("business", ["../../v1.0/me/accounts?", "123#", "999?x=", "1001/../2002", " 1001x"])
def test_send_api_business_that_is_not_a_phone_number_id_is_400_and_nothing_is_stored(
    api: Client, fake: FakeGraph, business: str
) -> None:
    alice_wrote()
    conversations = WhatsAppConversation.objects.count()

    response = post(api, {"to": ALICE_ID, "text": "Hi", "business": business})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_business"
    assert fake.app.sent == []
    assert WhatsAppConversation.objects.count() == conversations
    assert not WhatsAppMessage.objects.filter(direction="outbound").exists()


@pytest.mark.django_db
def test_send_api_business_the_hub_does_not_know_is_400(api: Client, fake: FakeGraph) -> None:
    alice_wrote()

    response = post(api, {"to": ALICE_ID, "text": "Hi", "business": "99999"})

    assert (response.status_code, response.json()["error"]) == (400, "unknown_business")
    assert fake.app.sent == []
    assert not WhatsAppConversation.objects.filter(business_phone_number_id="99999").exists()


@pytest.mark.django_db
def test_send_api_business_outside_the_token_scope_is_403(
    agent: User, bearer: Callable[[str], Client], fake: FakeGraph
) -> None:
    alice_wrote()
    WhatsAppBusinessNumber.objects.create(phone_number_id="2002")
    scoped = bearer(issue_token(agent, business=SHOP.phone_number_id))

    response = post(scoped, {"to": ALICE_ID, "text": "Hi", "business": "2002"})

    assert response.status_code == 403
    assert fake.app.sent == []
    assert not WhatsAppConversation.objects.filter(business_phone_number_id="2002").exists()
