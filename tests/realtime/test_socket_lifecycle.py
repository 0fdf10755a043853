"""Whatever ends a socket, it leaves the fan-out and the open-sockets gauge as they were before it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.db import OperationalError

from realtime.fanout import peek_fanout
from realtime.protocol import CLOSE_INTERNAL_ERROR, CLOSE_UNAUTHENTICATED
from store.metrics import REGISTRY
from tests.realtime.helpers import ALICE, amake_token, arecord_messages, communicator, receive_frames

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]

INBOX = "/ws/whatsapp/inbox/"


def open_sockets() -> float:
    return REGISTRY.get_sample_value("hub_open_sockets") or 0.0


def subscribers() -> int:
    fanout = peek_fanout()
    return fanout.subscriber_count if fanout is not None else 0


async def test_mark_read_while_database_down_answers_error_closes_1011_and_leaks_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await arecord_messages(1)
    token = await amake_token()
    before = open_sockets()
    socket = communicator(INBOX, token)
    assert (await socket.connect())[0]
    assert (subscribers(), open_sockets()) == (1, before + 1)

    def database_down(*args: Any, **kwargs: Any) -> None:
        # What the driver raises when PostgreSQL refuses the connection.
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr("realtime.consumers.mark_read", database_down)
    await socket.send_to(text_data=json.dumps({"type": "mark_read", "phone_number": ALICE, "request_id": 7}))

    reply = json.loads(await socket.receive_from(timeout=5))
    assert (reply["type"], reply["error"], reply["request_id"]) == ("error", "database_unavailable", 7)
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_INTERNAL_ERROR}
    await socket.disconnect(code=CLOSE_INTERNAL_ERROR)
    assert (subscribers(), open_sockets()) == (0, before)


async def test_send_frame_of_deleted_user_answers_error_closes_4401_and_leaks_nothing() -> None:
    token = await amake_token("leaving")
    before = open_sockets()
    socket = communicator(INBOX, token)
    assert (await socket.connect())[0]
    await sync_to_async(User.objects.filter(username="leaving").delete)()

    await socket.send_to(
        text_data=json.dumps({"type": "send", "to": ALICE, "text": "hi", "request_id": "s1"})
    )

    reply = json.loads(await socket.receive_from(timeout=5))
    assert (reply["type"], reply["error"], reply["request_id"]) == ("error", "unauthenticated", "s1")
    assert await socket.receive_output(timeout=5) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHENTICATED,
    }
    await socket.disconnect(code=CLOSE_UNAUTHENTICATED)
    assert (subscribers(), open_sockets()) == (0, before)


async def test_error_escaping_a_handler_still_unsubscribes_and_counts_the_socket_closed() -> None:
    token = await amake_token()
    before = open_sockets()
    socket = communicator(INBOX, token)
    assert (await socket.connect())[0]
    await arecord_messages(1)
    assert len(await receive_frames(socket, 1)) == 1

    # An ASGI message no handler knows: the consumer raises, as on any unforeseen error.
    await socket.send_input({"type": "websocket.unheard_of"})
    with pytest.raises(ValueError, match="No handler"):
        await socket.receive_output(timeout=5)

    assert (subscribers(), open_sockets()) == (0, before)
