"""`GET /api/whatsapp/templates/`: the template table with its filters, scoped like the team's tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from store.auth import issue_token
from store.models import MessageTemplate, WhatsAppBusinessNumber
from tests.api.clients import make_client

URL = "/api/whatsapp/templates/"
ORDER_BODY = {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."}
IMAGE_HEADER = {"type": "HEADER", "format": "IMAGE"}


@pytest.fixture
def templates(db: None) -> None:
    WhatsAppBusinessNumber.objects.create(phone_number_id="1001", waba_id="w1")
    WhatsAppBusinessNumber.objects.create(phone_number_id="2002", waba_id="w2")
    rows: list[dict[str, Any]] = [
        {"name": "order_update", "language": "en_US", "status": "APPROVED", "components": [ORDER_BODY]},
        {"name": "order_update", "language": "es", "status": "PENDING", "components": [ORDER_BODY]},
        {"name": "spring_sale", "language": "en_US", "status": "APPROVED", "components": [IMAGE_HEADER]},
        {"name": "win_back", "language": "en_US", "status": "REJECTED", "reason": "INCORRECT_CATEGORY"},
    ]
    for row in rows:
        MessageTemplate.objects.create(waba_id="w1", category="UTILITY", **row)
    MessageTemplate.objects.create(waba_id="w2", name="clinic_reminder", language="en_US", status="APPROVED")


def names(client: Client, **params: str) -> list[tuple[str, str]]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return [(t["name"], t["language"]) for t in response.json()["results"]]


def test_templates_list_answers_meta_fields_and_parameter_counts(api: Client, templates: None) -> None:
    results = api.get(URL).json()["results"]
    assert [t["name"] for t in results] == [
        "clinic_reminder",
        "order_update",
        "order_update",
        "spring_sale",
        "win_back",
    ]
    order = results[1]
    assert (order["language"], order["status"], order["category"], order["waba_id"]) == (
        "en_US",
        "APPROVED",
        "UTILITY",
        "w1",
    )
    assert order["components"] == [ORDER_BODY]
    assert order["parameters"] == {"header": 0, "body": 2}
    assert results[3]["parameters"] == {"header": 1, "body": 0}
    assert results[4]["reason"] == "INCORRECT_CATEGORY"


def test_templates_list_filters_by_status_language_and_name(api: Client, templates: None) -> None:
    approved = [("clinic_reminder", "en_US"), ("order_update", "en_US"), ("spring_sale", "en_US")]
    assert names(api, status="APPROVED") == approved
    assert names(api, status="pending,rejected") == [("order_update", "es"), ("win_back", "en_US")]
    assert names(api, language="es") == [("order_update", "es")]
    assert names(api, language="en-US", q="ORDER") == [("order_update", "en_US")]
    assert names(api, q="nothing") == []
    assert names(api, business="2002") == [("clinic_reminder", "en_US")]


def test_templates_list_for_a_business_token_is_its_account(
    bearer: Callable[[str], Client], agent: User, templates: None
) -> None:
    clinic = bearer(issue_token(agent, business="2002"))
    assert names(clinic) == [("clinic_reminder", "en_US")]


def test_templates_list_refuses_customer_scoped_tokens(
    bearer: Callable[[str], Client], agent: User, templates: None
) -> None:
    response = bearer(issue_token(agent, customers=["15551110001"])).get(URL)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_templates_list_needs_credentials(templates: None) -> None:
    assert make_client().get(URL).status_code == 401
