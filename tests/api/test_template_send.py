"""Sending a template checks it against the template table before anything is stored or sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph
from outbound.fake_graph_templates import sample_templates
from outbound.templates import template_records
from store.actions.record import record_batch
from store.actions.templates import record_templates
from store.models import WhatsAppMessage
from store.records import IngestBatch
from tests.api.data import ALICE_ID, SHOP, inbound

URL = "/api/whatsapp/messages/"


@pytest.fixture
def fake(settings: Settings) -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        settings.WHATSAPP_GRAPH_URL = server.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.WHATSAPP_PHONE_NUMBER_ID = SHOP.phone_number_id
        yield server


@pytest.fixture
def window_closed(db: None) -> None:
    """Alice wrote two days ago: only a template reaches her now."""
    record = inbound("wamid.alice-old", minutes=0)
    old = datetime.now(UTC) - timedelta(days=2)
    record_batch(IngestBatch(businesses=[SHOP], messages=[replace(record, timestamp=old)]))


@pytest.fixture
def synced(window_closed: None) -> None:
    """The shop's account (SHOP.waba_id) has the fake's templates."""
    record_templates(SHOP.waba_id, template_records(SHOP.waba_id, sample_templates()))


def text(*values: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": value} for value in values]


def send(api: Client, name: str, language: str = "en_US", **components: list[dict[str, Any]]) -> Any:
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = [{"type": kind, "parameters": p} for kind, p in components.items()]
    return api.post(URL, {"to": ALICE_ID, "template": template}, content_type="application/json")


@pytest.mark.django_db
def test_template_send_approved_with_its_parameters_reaches_meta(
    api: Client, fake: FakeGraph, synced: None
) -> None:
    response = send(api, "order_update", body=text("Maria", "#48213"))
    assert response.status_code == 201, response.content
    message = response.json()["message"]
    assert message["status"] == "sent"
    assert (
        message["text_body"] == "Hi Maria, your order #48213 is on its way. Reply here if anything is wrong."
    )
    (sent,) = fake.app.sent
    assert sent["body"]["template"]["name"] == "order_update"
    assert sent["body"]["template"]["components"][0]["parameters"] == text("Maria", "#48213")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "language", "components", "error"),
    [
        ("order_update", "en_US", {"body": text("Maria")}, "template_parameters"),
        ("order_update", "en_US", {}, "template_parameters"),
        ("hello_world", "en_US", {"body": text("extra")}, "template_parameters"),
        ("spring_sale", "en_US", {"body": text("Monday", "20%")}, "template_parameters"),
        ("pedido_enviado", "es", {"body": text("Ana", "#1")}, "template_not_approved"),
        ("win_back", "en_US", {}, "template_not_approved"),
        ("order_update", "fr", {"body": text("Maria", "#1")}, "unknown_template"),
        ("no_such_template", "en_US", {}, "unknown_template"),
    ],
)
def test_template_send_meta_would_refuse_is_422_and_nothing_is_sent(
    api: Client,
    fake: FakeGraph,
    synced: None,
    name: str,
    language: str,
    components: dict[str, list[dict[str, Any]]],
    error: str,
) -> None:
    response = send(api, name, language, **components)
    assert response.status_code == 422, response.content
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert fake.app.sent == []
    assert not WhatsAppMessage.objects.filter(direction="outbound").exists()


@pytest.mark.django_db
def test_template_send_with_image_header_and_body_parameters_is_sent(
    api: Client, fake: FakeGraph, synced: None
) -> None:
    header = [{"type": "image", "image": {"link": "https://example.com/spring.jpg"}}]
    response = send(api, "spring_sale", header=header, body=text("Monday", "20%"))
    assert response.status_code == 201, response.content
    assert response.json()["message"]["text_body"] == "Our spring sale starts Monday: 20% off every blender."
    assert len(fake.app.sent) == 1


@pytest.mark.django_db
def test_template_send_before_any_sync_is_left_to_meta(
    api: Client, fake: FakeGraph, window_closed: None
) -> None:
    response = send(api, "anything_at_all", body=text("x"))
    assert response.status_code == 201, response.content
    assert fake.app.sent[0]["body"]["template"]["name"] == "anything_at_all"
