"""Auto-assignment across server processes: agents online on two processes, webhooks recorded by a
third that no agent is connected to; presence reaches it over Redis, assignments travel in the events."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.realtime.helpers import amake_agent_token
from tests.realtime.test_processes import INBOX, open_socket
from tests.support import running_hub, signed_headers
from webhook import samples

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AUTO = "round_robin"


async def next_frame(socket: ClientConnection, kind: str, within: float = 10.0) -> dict[str, Any]:
    """The next frame of type `kind`, skipping the others."""
    deadline = time.monotonic() + within
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), deadline - time.monotonic()))
        if frame["type"] == kind:
            return frame


async def until_online(socket: ClientConnection, online: list[str]) -> None:
    while (await next_frame(socket, "agents"))["online"] != online:
        pass


async def customer_writes(base: str, customer: str) -> None:
    value = samples.text_message(f"wamid.{uuid.uuid4().hex}", customer, "Hello?", int(time.time()))
    body = samples.encode(samples.envelope([value]))
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        response = await client.post("/api/whatsapp/webhook/", content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text


async def assigned_to(socket: ClientConnection, base: str, customer: str) -> str | None:
    await customer_writes(base, customer)
    frame = await next_frame(socket, "message.created")
    assert frame["conversation"]["phone_number"] == customer
    assignee: str | None = frame["conversation"]["assignee"]
    return assignee


@pytest.mark.asyncio
@pytest.mark.usefixtures("realtime_cleanup")
@pytest.mark.postgres
@pytest.mark.redis
async def test_auto_assign_takes_turns_among_agents_online_on_other_processes() -> None:
    alice_token, bob_token = await amake_agent_token("alice"), await amake_agent_token("bob")
    with (
        running_hub(HUB_AUTO_ASSIGN=AUTO) as a,
        running_hub(HUB_AUTO_ASSIGN=AUTO) as b,
        running_hub(HUB_AUTO_ASSIGN=AUTO) as webhooks,
    ):
        alice = await open_socket(a, f"{INBOX}?presence=1", alice_token)
        bob = await open_socket(b, f"{INBOX}?presence=1", bob_token)
        await until_online(bob, ["alice", "bob"])
        await asyncio.sleep(0.5)  # the same broadcasts reach the third process

        assert await assigned_to(bob, webhooks, "15550000001") == "alice"
        assert await assigned_to(bob, webhooks, "15550000002") == "bob"
        assert await assigned_to(bob, webhooks, "15550000003") == "alice"

        # Alice goes offline: everything new goes to bob, whatever he already has.
        await alice.close()
        await until_online(bob, ["bob"])
        await asyncio.sleep(0.5)
        assert await assigned_to(bob, webhooks, "15550000004") == "bob"
        await bob.close()
