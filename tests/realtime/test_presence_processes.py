"""Presence across two real server processes sharing Redis: it crosses, expires and clears on close."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.realtime.helpers import ALICE, amake_agent_token
from tests.realtime.test_processes import INBOX, open_socket, post_messages
from tests.support import running_hub

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]


async def next_of(
    socket: ClientConnection, kind: str, within: float = 10.0, until: Callable[[dict[str, Any]], bool] = bool
) -> dict[str, Any]:
    """The next frame of type `kind` for which `until` holds, skipping others."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), deadline - loop.time()))
        if frame["type"] == kind and until(frame):
            return frame


async def test_presence_crosses_processes_expires_and_clears_on_close() -> None:
    alice_token, bob_token = await amake_agent_token("alice"), await amake_agent_token("bob")
    with running_hub(HUB_PRESENCE_TTL_SECONDS="3") as a, running_hub(HUB_PRESENCE_TTL_SECONDS="3") as b:
        await post_messages(a, 1, ALICE)
        alice = await open_socket(a, f"{INBOX}?presence=1", alice_token)
        bob = await open_socket(b, f"{INBOX}?presence=1", bob_token)
        # The first `agents` frame is alice's snapshot; bob's process announces him within a second.
        await next_of(alice, "agents", until=lambda frame: frame["online"] == ["alice", "bob"])

        await bob.send(json.dumps({"type": "presence", "conversation": ALICE, "state": "typing"}))
        crossed = await next_of(alice, "presence")
        assert (crossed["conversation"], crossed["viewing"], crossed["typing"]) == (ALICE, ["bob"], ["bob"])

        # Not refreshed: it expires on A within the TTL although bob's socket stays open.
        expired = await next_of(alice, "presence", within=8.0)
        assert (expired["viewing"], expired["typing"]) == ([], [])

        await bob.send(json.dumps({"type": "presence", "conversation": ALICE, "state": "viewing"}))
        assert (await next_of(alice, "presence"))["viewing"] == ["bob"]
        await bob.close()
        cleared = await next_of(alice, "presence", within=2.0)
        assert cleared["viewing"] == []
        assert (await next_of(alice, "agents"))["online"] == ["alice"]
        await alice.close()
