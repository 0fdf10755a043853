"""Credentials on every endpoint (bearer token or session), and JSON errors for anything that fails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from store.auth import issue_token
from store.models import ApiToken
from tests.api.clients import make_client
from tests.api.data import ALICE_ID, inbound, record

PROTECTED = [
    ("get", "/api/whatsapp/messages/"),
    ("get", "/api/whatsapp/messages/1/"),
    ("get", "/api/whatsapp/conversations/"),
    ("get", f"/api/whatsapp/conversations/{ALICE_ID}/"),
    ("patch", f"/api/whatsapp/conversations/{ALICE_ID}/"),
    ("post", "/api/whatsapp/mark-read/"),
]


def call(client: Client, method: str, path: str) -> object:
    return getattr(client, method)(
        path, {"notes": "x"} if method != "get" else {}, content_type="application/json"
    )


@pytest.fixture
def one_message(db: None) -> None:
    record(inbound("a1"))


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_endpoint_without_credentials_is_401(method: str, path: str) -> None:
    response = call(make_client(), method, path)

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json()["error"] == "unauthenticated"  # type: ignore[attr-defined]
    assert response.json()["detail"]  # type: ignore[attr-defined]
    assert response["WWW-Authenticate"].startswith("Bearer")  # type: ignore[index]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "header",
    ["Bearer wah_not-a-real-token", "Bearer ", "Token abc", "Basic YWdlbnQ6cGFzcw==", "Bearer x" * 50],
)
def test_endpoint_with_wrong_token_is_401(agent: User, method: str, path: str, header: str) -> None:
    response = call(make_client(authorization=header), method, path)

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json()["error"] == "unauthenticated"  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_endpoint_with_expired_token_is_401(agent: User, bearer: Callable[[str], Client]) -> None:
    raw = issue_token(agent, expires_at=datetime.now(UTC) - timedelta(seconds=1))

    response = bearer(raw).get("/api/whatsapp/messages/")

    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


@pytest.mark.django_db
def test_endpoint_with_inactive_users_token_is_401(agent: User, api: Client) -> None:
    agent.is_active = False
    agent.save()

    assert api.get("/api/whatsapp/messages/").status_code == 401


@pytest.mark.django_db
def test_endpoint_with_valid_token_is_200_and_records_use(api: Client, token: str) -> None:
    response = api.get("/api/whatsapp/messages/")

    assert response.status_code == 200
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.django_db
def test_endpoint_with_session_is_200(staff: User, one_message: None) -> None:
    client = make_client()
    client.force_login(staff)

    assert client.get("/api/whatsapp/messages/").json()["results"][0]["message_id"] == "a1"
    assert client.get(f"/api/whatsapp/conversations/{ALICE_ID}/").status_code == 200


@pytest.mark.django_db
def test_endpoint_with_session_of_user_who_is_not_staff_is_403(agent: User, one_message: None) -> None:
    client = make_client()
    client.force_login(agent)

    response = client.get("/api/whatsapp/messages/")

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "a1" not in response.text


@pytest.mark.django_db
def test_endpoint_with_inactive_session_user_is_401(staff: User) -> None:
    client = make_client()
    client.force_login(staff)
    User.objects.filter(pk=staff.pk).update(is_active=False)

    assert client.get("/api/whatsapp/messages/").status_code == 401


@pytest.mark.django_db
def test_session_unsafe_method_without_csrf_token_is_403(staff: User, one_message: None) -> None:
    client = make_client(enforce_csrf_checks=True)
    client.force_login(staff)

    response = client.post(
        "/api/whatsapp/mark-read/", {"phone_number": ALICE_ID}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


@pytest.mark.django_db
def test_session_unsafe_method_with_csrf_token_is_200(staff: User, one_message: None) -> None:
    client = make_client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get("/admin/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value

    response = client.post(
        "/api/whatsapp/mark-read/",
        {"phone_number": ALICE_ID},
        content_type="application/json",
        headers={"X-CSRFToken": csrf, "Origin": "https://testserver"},
    )

    assert response.status_code == 200
    assert response.json()["marked"] == 1


@pytest.mark.django_db
def test_bearer_unsafe_method_needs_no_csrf_token(token: str, one_message: None) -> None:
    client = make_client(authorization=f"Bearer {token}", enforce_csrf_checks=True)

    response = client.post(
        "/api/whatsapp/mark-read/", {"phone_number": ALICE_ID}, content_type="application/json"
    )

    assert response.status_code == 200


@pytest.mark.django_db
def test_unsafe_method_without_any_credentials_is_401_not_csrf() -> None:
    response = make_client(enforce_csrf_checks=True).post(
        "/api/whatsapp/mark-read/", {}, content_type="application/json"
    )

    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/health/", "/api/openapi.json", "/api/docs/"])
def test_public_endpoint_without_credentials_is_200(path: str) -> None:
    assert make_client().get(path).status_code == 200


@pytest.mark.django_db
def test_health_returns_ok() -> None:
    assert make_client().get("/api/health/").json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/", "/api/nothing/here/", "/api/whatsapp/", "/api/whatsapp/no/1/"])
def test_unknown_api_address_is_json_404(path: str) -> None:
    response = make_client().get(path)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_missing_slash_is_json_404_naming_the_address() -> None:
    response = make_client().get("/api/whatsapp/messages")

    assert response.status_code == 404
    assert "/api/whatsapp/messages/" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/whatsapp/messages/", "GET, POST"),
        ("put", "/api/whatsapp/conversations/123/", "GET, PATCH"),
        ("get", "/api/whatsapp/mark-read/", "POST"),
        ("post", "/api/ready/", "GET"),
    ],
)
def test_wrong_method_is_json_405(api: Client, method: str, path: str, allowed: str) -> None:
    response = getattr(api, method)(path)

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert set(response["Allow"].split(", ")) == set(allowed.split(", "))
