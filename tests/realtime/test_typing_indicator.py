"""The typing indicator to Meta: only in an open window, on the last inbound message, one per 25 s."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from outbound import typing as typing_module
from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph, Reply
from store.actions.typing import claim_typing_indicator
from store.auth import issue_token
from store.models import WhatsAppConversation
from tests.realtime.helpers import ALICE, BUSINESS, communicator, record_messages

CALLED = threading.Event()


@pytest.fixture
def typing_calls(settings: Settings) -> Iterator[list[dict[str, Any]]]:
    """Bodies of the read calls with a typing indicator that the fake Graph API accepted."""
    calls: list[dict[str, Any]] = []
    CALLED.clear()
    typing_module._recent.clear()  # this process's memory of earlier tests' indicators
    with FakeGraph() as server:
        settings.WHATSAPP_GRAPH_URL = server.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        handle = server.app.handle

        def recording(method: str, path: str, query: bytes, headers: Mapping[str, str], body: bytes) -> Reply:
            reply = handle(method, path, query, headers, body)
            decoded = json.loads(body) if body else {}
            if reply[0] == 200 and isinstance(decoded, dict) and "typing_indicator" in decoded:
                calls.append(decoded)
                CALLED.set()
            return reply

        server.app.handle = recording  # type: ignore[method-assign]
        yield calls
    typing_module._recent.clear()


@pytest.mark.django_db
def test_claim_in_open_window_names_last_inbound_then_waits_25_s() -> None:
    record_messages(2)
    now = datetime.now(UTC)
    last = WhatsAppConversation.objects.get().messages.order_by("-timestamp", "-id").first()
    assert last is not None

    assert claim_typing_indicator(BUSINESS, ALICE, now) == last.message_id
    assert claim_typing_indicator(BUSINESS, ALICE, now + timedelta(seconds=24)) is None
    assert claim_typing_indicator(BUSINESS, ALICE, now + timedelta(seconds=26)) == last.message_id


@pytest.mark.django_db
def test_claim_with_closed_window_or_unknown_customer_is_none() -> None:
    record_messages(1)
    WhatsAppConversation.objects.update(last_inbound_at=datetime.now(UTC) - timedelta(hours=25))

    assert claim_typing_indicator(BUSINESS, ALICE, datetime.now(UTC)) is None
    assert claim_typing_indicator(BUSINESS, "19995550000", datetime.now(UTC)) is None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("realtime_cleanup")
async def test_agent_typing_twice_shows_meta_one_indicator(typing_calls: list[dict[str, Any]]) -> None:
    await sync_to_async(record_messages)(1)
    user = await sync_to_async(User.objects.create_user)("agent", is_staff=True)
    socket = communicator("/ws/whatsapp/inbox/?presence=1", await sync_to_async(issue_token)(user))
    assert (await socket.connect())[0]

    for state in ("typing", "viewing", "typing"):
        frame = {"type": "presence", "conversation": ALICE, "state": state}
        await socket.send_to(text_data=json.dumps(frame))
    await asyncio.to_thread(CALLED.wait, 5)
    await asyncio.sleep(0.5)  # room for a second call, which must not come

    assert len(typing_calls) == 1
    assert typing_calls[0]["typing_indicator"] == {"type": "text"}
    assert typing_calls[0]["status"] == "read"
    await socket.disconnect()
