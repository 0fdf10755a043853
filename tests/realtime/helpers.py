"""Builders shared by the real-time tests: batches of messages, tokens, socket helpers."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from hub.asgi import application
from store.actions.record import record_batch
from store.auth import issue_token
from store.models import HubEvent
from store.records import BusinessRecord, CustomerRecord, IngestBatch, MessageRecord

BUSINESS = "100001"
OTHER_BUSINESS = "200002"
ALICE = "15551230001"
BOB = "15551230002"

_wamids = itertools.count(1)


def inbound(customer: str = ALICE, business: str = BUSINESS, text: str = "hello") -> MessageRecord:
    number = BusinessRecord(phone_number_id=business, display_phone_number="15550009999")
    return MessageRecord(
        wamid=f"wamid.test.{next(_wamids)}.{datetime.now(UTC).timestamp()}",
        direction="inbound",
        business=number,
        customer=CustomerRecord(wa_id=customer, name=f"Customer {customer[-4:]}"),
        from_number=customer,
        to_number=number.display_phone_number,
        message_type="text",
        timestamp=datetime.now(UTC),
        text_body=text,
    )


def record_messages(count: int = 1, customer: str = ALICE, business: str = BUSINESS) -> list[int]:
    """Record `count` inbound messages in one transaction; returns the seqs of their events."""
    messages = [inbound(customer, business, text=f"m{i}") for i in range(count)]
    batch = IngestBatch(businesses=[messages[0].business], messages=messages)
    return [event.seq for event in record_batch(batch)]


arecord_messages = sync_to_async(record_messages)


def make_token(username: str = "agent", **scope: Any) -> str:
    user, _ = User.objects.get_or_create(username=username)
    return issue_token(user, **scope)


amake_token = sync_to_async(make_token)


def make_agent_token(username: str, **scope: Any) -> str:
    """A token of a staff user: presence is among agents (docs/team-inbox.md)."""
    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
    return issue_token(user, **scope)


amake_agent_token = sync_to_async(make_agent_token)


@sync_to_async
def all_seqs() -> list[int]:
    return list(HubEvent.objects.order_by("seq").values_list("seq", flat=True))


def communicator(
    path: str, token: str | None = None, headers: list[tuple[bytes, bytes]] | None = None, **kwargs: Any
) -> WebsocketCommunicator:
    all_headers = list(headers or [])
    if token is not None:
        all_headers.append((b"authorization", f"Bearer {token}".encode()))
    return WebsocketCommunicator(application, path, headers=all_headers, **kwargs)


async def receive_frames(
    socket: WebsocketCommunicator, count: int, within: float = 5.0
) -> list[dict[str, Any]]:
    """The next `count` frames, each within `within` seconds."""
    frames = []
    for _ in range(count):
        frames.append(json.loads(await socket.receive_from(timeout=within)))
    return frames


async def receive_seqs(socket: WebsocketCommunicator, count: int, within: float = 5.0) -> list[int]:
    return [frame["seq"] for frame in await receive_frames(socket, count, within)]


async def assert_closed_with(socket: WebsocketCommunicator, code: int) -> None:
    connected, _ = await socket.connect(timeout=5)
    assert connected, "refusals accept the handshake first"
    message = await socket.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": code}
    await socket.disconnect(code=code, timeout=5)
