"""The webhook endpoint over HTTP: handshake, signatures, raw storage, size limit, bad bodies, outages."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from store.models import WebhookEvent, WhatsAppMessage
from tests.support import (
    TEST_VERIFY_TOKEN,
    dumps_like_meta,
    fixture_json,
    free_port,
    hub_asgi_transport,
    post_webhook,
    running_hub,
    signed_headers,
)

URL = "/api/whatsapp/webhook/"


def test_handshake_right_token_echoes_challenge_as_text(client: Client) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": TEST_VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = client.get(URL, params)
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": TEST_VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_handshake_wrong_token_or_mode_is_403(client: Client, params: dict[str, str]) -> None:
    response = client.get(URL, params)
    assert response.status_code == 403
    assert response.json()["error"] == "verification_failed"


@pytest.mark.django_db
def test_post_without_signature_is_403_and_stores_nothing() -> None:
    body = dumps_like_meta(fixture_json("text.json"))
    response = post_webhook(body, {"Content-Type": "application/json"})
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_post_signed_with_other_secret_is_403() -> None:
    body = dumps_like_meta(fixture_json("text.json"))
    response = post_webhook(body, signed_headers(body, secret="someone-else"))
    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_post_signed_text_is_stored_raw_and_ingested() -> None:
    body = dumps_like_meta(fixture_json("text.json"))
    response = post_webhook(body, signed_headers(body))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body
    assert event.processed_at is not None
    assert WhatsAppMessage.objects.count() == 1


@pytest.mark.django_db
def test_post_redelivered_twice_stores_one_message() -> None:
    body = dumps_like_meta(fixture_json("text.json"))
    for _ in range(3):
        assert post_webhook(body, signed_headers(body)).status_code == 200
    assert WebhookEvent.objects.count() == 3
    assert WhatsAppMessage.objects.count() == 1
    assert WhatsAppMessage.objects.get().conversation.message_count == 1


@pytest.mark.django_db
def test_post_signed_non_json_is_400_and_still_stored() -> None:
    body = b"this is not json \xff"
    response = post_webhook(body, signed_headers(body))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    event = WebhookEvent.objects.get()
    assert bytes(event.body) == body
    assert event.processed_at is None
    assert event.error


@pytest.mark.django_db
def test_post_signed_json_that_is_not_a_webhook_is_400() -> None:
    body = json.dumps([1, 2, 3]).encode()
    response = post_webhook(body, signed_headers(body))
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_post_async_client_answers_ok() -> None:
    body = dumps_like_meta(fixture_json("text.json"))
    # Through the production stack: the size guard, then the ASGI endpoint, writing on its own threads.
    async with httpx.AsyncClient(transport=hub_asgi_transport(), base_url="http://testserver") as client:
        response = await client.post(URL, content=body, headers=signed_headers(body))
    assert response.status_code == 200
    assert await WhatsAppMessage.objects.acount() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_post_over_size_limit_is_413_before_reading() -> None:
    body = b"{" + b" " * (4 * 1024 * 1024 + 10) + b"}"
    with running_hub() as base:
        response = httpx.post(base + URL, content=body, headers=signed_headers(body), timeout=30)
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            for _ in range(5):
                yield b" " * (1024 * 1024)

        streamed = httpx.post(
            base + URL, content=chunks(), headers={"X-Hub-Signature-256": "sha256=00"}, timeout=30
        )
        assert streamed.status_code == 413
    assert WebhookEvent.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_post_with_database_down_is_503() -> None:
    body = dumps_like_meta(fixture_json("text.json"))
    dead_database = f"postgres://postgres@127.0.0.1:{free_port()}/nothing"
    with running_hub(DATABASE_URL=dead_database) as base:
        started = time.monotonic()
        response = httpx.post(base + URL, content=body, headers=signed_headers(body), timeout=30)
        webhook_seconds = time.monotonic() - started
        again = httpx.post(base + URL, content=body, headers=signed_headers(body), timeout=30)
        rest = httpx.get(
            base + "/api/whatsapp/messages/", headers={"Authorization": "Bearer wah_" + "x" * 43}, timeout=30
        )
    assert response.status_code == 503
    assert response.json()["error"] == "database_unavailable"
    # Not the pool's 10 s wait for a connection it cannot make: Meta's retry comes sooner.
    assert webhook_seconds < 2.0
    assert again.status_code == 503
    assert (rest.status_code, rest.json()["error"]) == (503, "database_unavailable")
