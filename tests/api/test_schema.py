"""The OpenAPI document: public, and its response schemas match the JSON builders of `store.events`."""

from __future__ import annotations

import pytest

from api.schemas import ConversationOut, MessageDetailOut, MessageOut, StatusOut
from store.events import ConversationJSON, MessageJSON, status_json
from store.models import WhatsAppMessageStatus
from tests.api.clients import make_client
from tests.api.data import T0


def test_message_schema_has_the_fields_of_message_json() -> None:
    assert list(MessageOut.model_fields) == list(MessageJSON.__annotations__)
    assert list(MessageDetailOut.model_fields) == [*MessageJSON.__annotations__, "raw", "statuses"]


def test_conversation_schema_has_the_fields_of_conversation_json() -> None:
    assert list(ConversationOut.model_fields) == list(ConversationJSON.__annotations__)


def test_status_schema_has_the_fields_of_status_json() -> None:
    row = WhatsAppMessageStatus(wamid="w", status="sent", timestamp=T0)
    assert list(StatusOut.model_fields) == list(status_json(row))


@pytest.mark.django_db
def test_openapi_lists_the_endpoints_with_security() -> None:
    schema = make_client().get("/api/openapi.json").json()

    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert set(paths) >= {
        "/api/health/",
        "/api/ready/",
        "/api/whatsapp/messages/",
        "/api/whatsapp/messages/{message_id}/",
        "/api/whatsapp/conversations/",
        "/api/whatsapp/conversations/{customer}/",
        "/api/whatsapp/mark-read/",
        "/api/whatsapp/templates/",
    }
    assert set(paths["/api/whatsapp/conversations/{customer}/"]) == {"get", "patch"}
    assert set(paths["/api/whatsapp/messages/"]) == {"get", "post"}
    assert paths["/api/whatsapp/media/{message_id}/"]["get"]["security"]
    assert "security" not in paths["/api/health/"]["get"]
    assert paths["/api/whatsapp/messages/"]["get"]["security"]
    templates = paths["/api/whatsapp/templates/"]["get"]
    assert {p["name"] for p in templates["parameters"]} == {"status", "business", "language", "q"}
    assert templates["security"]
    assert {"BearerAuth", "SessionAuth"} <= set(schema["components"]["securitySchemes"])


@pytest.mark.django_db
def test_docs_page_points_at_the_schema() -> None:
    response = make_client().get("/api/docs/")

    assert response.status_code == 200
    assert b"/api/openapi.json" in response.content
