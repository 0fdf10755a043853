"""Team changes across two real server processes: made over REST on one, live and replayed on the other."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.realtime.helpers import ALICE, amake_agent_token
from tests.realtime.test_presence_processes import next_of
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


async def patch(base: str, token: str, change: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        response = await client.patch(f"{base}/api/whatsapp/conversations/{ALICE}/", json=change)
    assert response.status_code == 200, response.text
    conversation: dict[str, Any] = response.json()
    return conversation


async def conversation_changes(socket: ClientConnection, count: int) -> list[dict[str, Any]]:
    frames = [await next_of(socket, "conversation.updated") for _ in range(count)]
    return [{**frame["conversation"], "seq": frame["seq"]} for frame in frames]


async def test_assignment_and_status_made_on_a_reach_b_live_and_replay_there_with_after() -> None:
    lead, bob = await amake_agent_token("lead"), await amake_agent_token("bob")
    with running_hub() as a, running_hub() as b:
        live = await open_socket(b, INBOX, bob)
        await post_messages(a, 1, ALICE)
        first = await next_of(live, "message.created")

        await patch(a, lead, {"assignee": "bob", "status": "pending", "labels": ["vip"]})
        await patch(a, lead, {"status": "resolved"})
        seen_live = await conversation_changes(live, 2)
        await live.close()

        assert [(c["assignee"], c["status"], c["labels"]) for c in seen_live] == [
            ("bob", "pending", ["vip"]),
            ("bob", "resolved", ["vip"]),
        ]
        # A console that was away since the message comes back to B with `after` and gets both, in order.
        again = await open_socket(b, f"{INBOX}?after={first['seq']}", bob)
        replayed = await conversation_changes(again, 2)
        await again.close()
        assert replayed == seen_live
        assert json.dumps(replayed)  # plain JSON, as the socket sent it
