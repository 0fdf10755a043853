"""Sending over the inbox socket: the same path as REST, the request id keeps a retried frame single."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from pytest_django.fixtures import Settings

from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph
from tests.realtime.helpers import (
    ALICE,
    BUSINESS,
    amake_token,
    arecord_messages,
    communicator,
    receive_frames,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]

INBOX = "/ws/whatsapp/inbox/"


@pytest.fixture
def fake_graph(settings: Settings) -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        settings.WHATSAPP_GRAPH_URL = fake.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.WHATSAPP_PHONE_NUMBER_ID = BUSINESS
        yield fake


async def frames_until_reply(socket: WebsocketCommunicator) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read until the answer to the frame (it carries `request_id`); returns it and the events before it."""
    events: list[dict[str, Any]] = []
    for _ in range(10):
        (frame,) = await receive_frames(socket, 1)
        if "request_id" in frame:
            return frame, events
        events.append(frame)
    raise AssertionError("no answer to the send frame")


async def test_socket_send_text_goes_to_meta_and_answers_send_ok(fake_graph: FakeGraph) -> None:
    await arecord_messages(1, customer=ALICE)  # the customer wrote: the 24-hour window is open
    socket = communicator(INBOX, await amake_token())
    await socket.connect()
    frame = {
        "type": "send",
        "request_id": "r-1",
        "idempotency_key": "k-1",
        "to": ALICE,
        "text": "On its way!",
    }
    await socket.send_json_to(frame)
    reply, events = await frames_until_reply(socket)
    assert reply["type"] == "send.ok"
    assert reply["message"]["text_body"] == "On its way!"
    assert reply["message"]["status"] == "sent"
    assert reply["message"]["message_id"].startswith("wamid.")
    assert events[0]["type"] == "message.created"
    assert events[0]["message"]["status"] == "pending"
    assert [s["body"]["text"]["body"] for s in fake_graph.app.sent] == ["On its way!"]

    await socket.send_json_to({**frame, "request_id": "r-2"})  # the client retries the same send
    again, _ = await frames_until_reply(socket)
    assert (again["request_id"], again["message"]["id"]) == ("r-2", reply["message"]["id"])
    assert len(fake_graph.app.sent) == 1
    await socket.disconnect()


async def test_socket_send_request_id_reused_on_a_new_socket_sends_the_new_text(
    fake_graph: FakeGraph,
) -> None:
    await arecord_messages(1, customer=ALICE)
    token = await amake_token()
    answers = []
    for text in ("First visit", "Second visit"):
        socket = communicator(INBOX, token)
        await socket.connect()
        # Each connection numbers its requests from r1 again: request_id only correlates the answer.
        await socket.send_json_to({"type": "send", "request_id": "r1", "to": ALICE, "text": text})
        reply, _ = await frames_until_reply(socket)
        answers.append(reply)
        await socket.disconnect()
    assert [a["message"]["text_body"] for a in answers] == ["First visit", "Second visit"]
    assert [s["body"]["text"]["body"] for s in fake_graph.app.sent] == ["First visit", "Second visit"]


async def test_socket_send_idempotency_key_with_another_text_is_refused(fake_graph: FakeGraph) -> None:
    await arecord_messages(1, customer=ALICE)
    socket = communicator(INBOX, await amake_token())
    await socket.connect()
    await socket.send_json_to(
        {"type": "send", "request_id": 1, "idempotency_key": "k", "to": ALICE, "text": "a"}
    )
    await frames_until_reply(socket)
    await socket.send_json_to(
        {"type": "send", "request_id": 2, "idempotency_key": "k", "to": ALICE, "text": "b"}
    )
    reply, _ = await frames_until_reply(socket)
    assert (reply["type"], reply["error"], reply["request_id"]) == ("error", "idempotency_key_reused", 2)
    assert [s["body"]["text"]["body"] for s in fake_graph.app.sent] == ["a"]
    await socket.disconnect()


async def test_socket_send_outside_window_is_refused_before_meta(fake_graph: FakeGraph) -> None:
    socket = communicator(INBOX, await amake_token())
    await socket.connect()
    await socket.send_json_to({"type": "send", "request_id": 9, "to": "15559990000", "text": "hello?"})
    reply, _ = await frames_until_reply(socket)
    assert reply == {
        "type": "error",
        "request_id": 9,
        "error": "outside_customer_service_window",
        "detail": reply["detail"],
    }
    assert fake_graph.app.sent == []
    await socket.send_json_to({"type": "ping"})
    assert (await receive_frames(socket, 1)) == [{"type": "pong"}]
    await socket.disconnect()
