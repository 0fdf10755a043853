"""Presence on sockets: who views and types where, agents online, expiry, clearing on close, scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.realtime.helpers import (
    ALICE,
    BOB,
    BUSINESS,
    OTHER_BUSINESS,
    amake_agent_token,
    amake_token,
    arecord_messages,
    communicator,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]

INBOX = "/ws/whatsapp/inbox/"


async def next_of(socket: WebsocketCommunicator, kind: str, within: float = 5.0) -> dict[str, Any]:
    """The next frame of type `kind`, skipping others."""
    while True:
        frame: dict[str, Any] = json.loads(await socket.receive_from(timeout=within))
        if frame["type"] == kind:
            return frame


async def connected(username: str, path: str = INBOX, **scope: Any) -> WebsocketCommunicator:
    socket = communicator(f"{path}?presence=1", await amake_agent_token(username, **scope))
    assert (await socket.connect())[0]
    return socket


async def test_viewing_and_typing_reach_other_agents_and_clear_on_close() -> None:
    await arecord_messages(1, customer=ALICE)
    alice = await connected("alice")
    assert (await next_of(alice, "agents"))["online"] == ["alice"]
    bob = await connected("bob")
    assert (await next_of(alice, "agents"))["online"] == ["alice", "bob"]

    await bob.send_to(text_data=json.dumps({"type": "presence", "conversation": ALICE, "state": "viewing"}))
    assert (await next_of(bob, "presence.ok"))["type"] == "presence.ok"
    seen = await next_of(alice, "presence")
    assert seen == {
        "type": "presence",
        "conversation": ALICE,
        "business": BUSINESS,
        "viewing": ["bob"],
        "typing": [],
    }

    await bob.send_to(text_data=json.dumps({"type": "presence", "conversation": ALICE, "state": "typing"}))
    assert (await next_of(alice, "presence"))["typing"] == ["bob"]

    await bob.disconnect()
    frames = {f["type"]: f for f in [json.loads(await alice.receive_from(timeout=5)) for _ in range(2)]}
    assert (frames["presence"]["viewing"], frames["presence"]["typing"]) == ([], [])
    assert frames["agents"]["online"] == ["alice"]
    await alice.disconnect()


async def test_new_socket_gets_a_snapshot_and_states_expire(settings: SettingsWrapper) -> None:
    settings.HUB_PRESENCE_TTL_SECONDS = 1.5
    await arecord_messages(1, customer=ALICE)
    bob = await connected("bob")
    await bob.send_to(text_data=json.dumps({"type": "presence", "conversation": ALICE, "state": "typing"}))
    await next_of(bob, "presence")

    carol = await connected("carol")
    snapshot = await next_of(carol, "presence")
    assert (snapshot["viewing"], snapshot["typing"]) == (["bob"], ["bob"])

    # No refresh from bob: his state ends by itself, though his socket stays open.
    expired = await next_of(carol, "presence", within=5.0)
    assert (expired["viewing"], expired["typing"]) == ([], [])
    await bob.disconnect()
    await carol.disconnect()


async def test_customer_scoped_token_neither_sends_nor_receives_presence() -> None:
    await arecord_messages(1, customer=ALICE)
    app = await connected("app", f"/ws/whatsapp/conversations/{ALICE}/", customers=[ALICE])
    agent = await connected("agent")

    await app.send_to(text_data=json.dumps({"type": "presence", "state": "viewing"}))
    refused = await next_of(app, "error")
    assert refused["error"] == "forbidden"
    await agent.send_to(text_data=json.dumps({"type": "presence", "conversation": ALICE, "state": "viewing"}))
    await next_of(agent, "presence")

    assert await app.receive_nothing(timeout=0.5)
    await app.disconnect()
    await agent.disconnect()


async def test_business_scoped_inbox_sees_only_its_business_presence() -> None:
    await arecord_messages(1, customer=ALICE)
    await arecord_messages(1, customer=BOB, business=OTHER_BUSINESS)
    shop = await connected("shop", business=BUSINESS)
    lead = await connected("lead")

    await lead.send_to(text_data=json.dumps({"type": "presence", "conversation": BOB, "state": "viewing"}))
    await next_of(lead, "presence")
    await lead.send_to(text_data=json.dumps({"type": "presence", "conversation": ALICE, "state": "viewing"}))

    frame = await next_of(shop, "presence")
    assert (frame["conversation"], frame["viewing"]) == (ALICE, ["lead"])
    await shop.disconnect()
    await lead.disconnect()


async def test_non_staff_token_gets_no_presence_frames() -> None:
    await arecord_messages(1, customer=ALICE)
    integration = communicator(f"{INBOX}?presence=1", await amake_token("integration"))
    silent_agent = communicator(INBOX, await amake_agent_token("quiet"))  # staff, but did not ask
    assert (await silent_agent.connect())[0]
    assert (await integration.connect())[0]
    agent = await connected("agent")
    await agent.send_to(text_data=json.dumps({"type": "presence", "conversation": ALICE, "state": "viewing"}))
    await next_of(agent, "presence")

    assert await integration.receive_nothing(timeout=1.5)
    assert await silent_agent.receive_nothing(timeout=0.1)
    await integration.disconnect()
    await silent_agent.disconnect()
    await agent.disconnect()


async def test_presence_bad_state_or_unknown_conversation_answers_error() -> None:
    agent = await connected("agent")

    await agent.send_to(text_data=json.dumps({"type": "presence", "conversation": ALICE, "state": "dancing"}))
    assert (await next_of(agent, "error"))["error"] == "invalid_frame"
    await agent.send_to(
        text_data=json.dumps({"type": "presence", "conversation": "1999", "state": "viewing"})
    )
    assert (await next_of(agent, "error"))["error"] == "not_found"
    await agent.disconnect()
