"""Scenario 8, frame size: under uvicorn as the README runs it (`--ws-max-size 1048576`), a frame over
1 MiB closes that socket with 1009 (message too big) and its neighbours on the same process stay open
and served."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.realtime.helpers import make_token
from tests.reliability.clients import INBOX
from tests.reliability.cluster import hubs

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LIMIT = 1024 * 1024
NEIGHBOURS = 3


async def exercise(ws_base: str, token: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"}
    victim = await connect(ws_base + INBOX, additional_headers=headers, max_size=None)
    neighbours = [await connect(ws_base + INBOX, additional_headers=headers) for _ in range(NEIGHBOURS)]
    await victim.send("x" * (LIMIT + 1))
    with contextlib.suppress(ConnectionClosed):
        await asyncio.wait_for(victim.recv(), 10)
    answers = []
    for socket in neighbours:
        await socket.send(json.dumps({"type": "ping"}))
        answers.append(json.loads(await asyncio.wait_for(socket.recv(), 10))["type"])
    # A frame just under the limit is an ordinary bad frame: an error answer, the socket stays open.
    await neighbours[0].send("x" * (LIMIT - 1024))
    under_limit = json.loads(await asyncio.wait_for(neighbours[0].recv(), 10))
    figures = {
        "victim_close_code": victim.close_code,
        "neighbour_answers": answers,
        "under_limit_answer": under_limit.get("type"),
        "neighbours_open": sum(1 for s in neighbours if s.close_code is None),
    }
    for socket in neighbours:
        await socket.close()
    return figures


def test_frame_over_the_limit_closes_that_socket_with_1009_under_uvicorn() -> None:
    token = make_token("frames")
    with hubs(1, ("--ws-max-size", str(LIMIT)), server="uvicorn") as (hub,):
        figures = asyncio.run(exercise(hub.ws_base, token))
    print(f"\nframe limit (uvicorn, 1 MiB): {figures}")
    assert figures["victim_close_code"] == 1009, figures
    assert figures["neighbour_answers"] == ["pong"] * NEIGHBOURS, figures
    assert figures["under_limit_answer"] == "error", figures
    assert figures["neighbours_open"] == NEIGHBOURS, figures
