"""The socket protocol through channels' communicator: auth, refusals, frames, replay, scope, cleanup."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from realtime.fanout import peek_fanout
from realtime.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_PROTOCOL_MISUSE,
    CLOSE_UNAUTHENTICATED,
)
from store.models import WhatsAppMessage
from tests.realtime.helpers import (
    ALICE,
    BOB,
    BUSINESS,
    OTHER_BUSINESS,
    amake_token,
    arecord_messages,
    assert_closed_with,
    communicator,
    receive_frames,
    receive_seqs,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]

INBOX = "/ws/whatsapp/inbox/"


def conversation_path(customer: str = ALICE, query: str = "") -> str:
    return f"/ws/whatsapp/conversations/{customer}/" + (f"?{query}" if query else "")


HOST = (b"host", b"localhost:8000")


@sync_to_async
def session_cookie(is_staff: bool = True) -> bytes:
    user = User.objects.create_user("console-user", password="unused-password-123", is_staff=is_staff)
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_inbox_bearer_header_receives_live_events_in_order() -> None:
    token = await amake_token()
    socket = communicator(INBOX, token)
    assert await socket.connect() == (True, None)
    seqs = await arecord_messages(3)
    frames = await receive_frames(socket, 3)
    assert [f["seq"] for f in frames] == seqs
    assert frames[0]["type"] == "message.created"
    assert frames[0]["message"]["text_body"] == "m0"
    assert frames[0]["conversation"]["phone_number"] == ALICE
    await socket.disconnect()


async def test_inbox_subprotocol_token_accepted_with_bearer_subprotocol() -> None:
    token = await amake_token()
    socket = communicator(INBOX, subprotocols=["bearer", token])
    assert await socket.connect() == (True, "bearer")
    seqs = await arecord_messages(1)
    assert await receive_seqs(socket, 1) == seqs
    await socket.disconnect()


async def test_inbox_query_token_accepted() -> None:
    token = await amake_token()
    socket = communicator(f"{INBOX}?token={token}")
    assert (await socket.connect())[0]
    seqs = await arecord_messages(1)
    assert await receive_seqs(socket, 1) == seqs
    await socket.disconnect()


async def test_inbox_session_cookie_with_allowed_origin_accepted() -> None:
    cookie = await session_cookie()
    socket = communicator(INBOX, headers=[(b"cookie", cookie), (b"origin", b"http://localhost:8000"), HOST])
    assert (await socket.connect())[0]
    seqs = await arecord_messages(1)
    assert await receive_seqs(socket, 1) == seqs
    await socket.disconnect()


@pytest.mark.parametrize(
    "origin",
    [
        b"https://evil.example",
        None,
        # The same host on another port or scheme is another site (another service on the machine).
        b"http://localhost:9999",
        b"http://localhost",
        b"https://localhost:8000",
        b"null",
    ],
)
async def test_inbox_session_cookie_without_allowed_origin_closes_4401(origin: bytes | None) -> None:
    headers = [(b"cookie", await session_cookie()), HOST]
    if origin is not None:
        headers.append((b"origin", origin))
    await assert_closed_with(communicator(INBOX, headers=headers), CLOSE_UNAUTHENTICATED)


async def test_inbox_session_cookie_with_trusted_origin_accepted(settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example"]
    cookie = await session_cookie()
    headers = [(b"cookie", cookie), (b"origin", b"https://console.example"), HOST]
    socket = communicator(INBOX, headers=headers)
    assert (await socket.connect())[0]
    await socket.send_to(text_data='{"type": "ping"}')
    assert json.loads(await socket.receive_from()) == {"type": "pong"}
    await socket.disconnect()


async def test_inbox_session_of_user_who_is_not_staff_closes_4401() -> None:
    cookie = await session_cookie(is_staff=False)
    headers = [(b"cookie", cookie), (b"origin", b"http://localhost:8000"), HOST]
    await assert_closed_with(communicator(INBOX, headers=headers), CLOSE_UNAUTHENTICATED)


async def test_inbox_no_credentials_closes_4401() -> None:
    await assert_closed_with(communicator(INBOX), CLOSE_UNAUTHENTICATED)


async def test_inbox_wrong_token_closes_4401() -> None:
    await amake_token()
    await assert_closed_with(communicator(INBOX, "wah_not-a-real-token"), CLOSE_UNAUTHENTICATED)


async def test_inbox_expired_token_closes_4401() -> None:
    token = await amake_token(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    await assert_closed_with(communicator(INBOX, token), CLOSE_UNAUTHENTICATED)


async def test_inbox_refusal_with_subprotocol_still_echoes_bearer() -> None:
    socket = communicator(INBOX, subprotocols=["bearer", "wah_wrong"])
    assert await socket.connect() == (True, "bearer")
    assert await socket.receive_output(timeout=5) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHENTICATED,
    }
    await socket.disconnect()


async def test_conversation_scoped_token_on_other_customer_closes_4403() -> None:
    await arecord_messages(1, customer=BOB)
    token = await amake_token(customers=[ALICE])
    await assert_closed_with(communicator(conversation_path(BOB), token), CLOSE_FORBIDDEN)


async def test_conversation_unknown_customer_closes_4404() -> None:
    token = await amake_token()
    await assert_closed_with(communicator(conversation_path("15559999999"), token), CLOSE_NOT_FOUND)


@pytest.mark.parametrize("after", ["abc", "-1", "1.5", ""])
async def test_inbox_invalid_after_closes_4400(after: str) -> None:
    token = await amake_token()
    await assert_closed_with(communicator(f"{INBOX}?after={after}", token), CLOSE_PROTOCOL_MISUSE)


async def test_conversation_socket_receives_only_its_conversation() -> None:
    await arecord_messages(1, customer=ALICE)
    token = await amake_token()
    socket = communicator(conversation_path(ALICE, f"business={BUSINESS}"), token)
    assert (await socket.connect())[0]
    await arecord_messages(2, customer=BOB)
    seqs = await arecord_messages(2, customer=ALICE)
    frames = await receive_frames(socket, 2)
    assert [f["seq"] for f in frames] == seqs
    assert {f["conversation"]["phone_number"] for f in frames} == {ALICE}
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_inbox_scoped_token_receives_only_its_conversations() -> None:
    token = await amake_token(business=BUSINESS, customers=[ALICE])
    socket = communicator(INBOX, token)
    assert (await socket.connect())[0]
    await arecord_messages(1, customer=BOB)
    await arecord_messages(1, customer=ALICE, business=OTHER_BUSINESS)
    seqs = await arecord_messages(2, customer=ALICE)
    assert await receive_seqs(socket, 2) == seqs
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_inbox_ping_answered_with_pong() -> None:
    socket = communicator(INBOX, await amake_token())
    await socket.connect()
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from() == {"type": "pong"}
    await socket.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_frame"),
        ("[1, 2]", "invalid_frame"),
        ('{"no": "type"}', "invalid_frame"),
        ('{"type": "dance"}', "invalid_frame"),
        ('{"type": "send", "request_id": "r1", "to": "16505551234"}', "invalid_body"),
        ('{"type": "mark_read"}', "invalid_request"),
        ('{"type": "mark_read", "message_ids": "nope"}', "invalid_request"),
    ],
)
async def test_inbox_bad_frame_answered_with_error_and_socket_stays_open(frame: str, code: str) -> None:
    socket = communicator(INBOX, await amake_token())
    await socket.connect()
    await socket.send_to(text_data=frame)
    reply = await socket.receive_json_from()
    assert reply["type"] == "error"
    assert reply["error"] == code
    assert reply["detail"]
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from() == {"type": "pong"}
    await socket.disconnect()


async def test_inbox_binary_frame_answered_with_error() -> None:
    socket = communicator(INBOX, await amake_token())
    await socket.connect()
    await socket.send_to(bytes_data=b"\x00\x01")
    assert (await socket.receive_json_from())["error"] == "invalid_frame"
    await socket.disconnect()


async def test_inbox_mark_read_marks_and_replies_ok() -> None:
    await arecord_messages(3, customer=ALICE)
    socket = communicator(INBOX, await amake_token())
    await socket.connect()
    await socket.send_json_to({"type": "mark_read", "phone_number": ALICE, "request_id": 7})
    # Three message.updated events, one conversation.updated, and the reply, in some interleaving.
    frames = await receive_frames(socket, 5)
    replies = [f for f in frames if f["type"] == "mark_read.ok"]
    assert replies == [{"type": "mark_read.ok", "marked": 3, "request_id": 7}]
    events = [f for f in frames if "seq" in f]
    assert [f["type"] for f in events] == ["message.updated"] * 3 + ["conversation.updated"]
    assert events[-1]["conversation"]["unread_count"] == 0
    unread = await sync_to_async(WhatsAppMessage.objects.filter(read_at=None).count)()
    assert unread == 0
    await socket.disconnect()


async def test_conversation_mark_read_without_target_marks_own_conversation() -> None:
    await arecord_messages(2, customer=ALICE)
    await arecord_messages(1, customer=BOB)
    socket = communicator(conversation_path(ALICE), await amake_token())
    await socket.connect()
    await socket.send_json_to({"type": "mark_read"})
    frames = await receive_frames(socket, 4)
    assert {"type": "mark_read.ok", "marked": 2} in frames
    await socket.disconnect()


async def test_inbox_mark_read_outside_scope_answered_with_error() -> None:
    await arecord_messages(1, customer=BOB)
    socket = communicator(INBOX, await amake_token(customers=[ALICE]))
    await socket.connect()
    await socket.send_json_to({"type": "mark_read", "phone_number": BOB})
    reply = await socket.receive_json_from()
    assert reply["type"] == "error"
    # As for an unknown customer: the frame does not tell Bob's conversation exists.
    assert reply["error"] == "not_found"
    await socket.disconnect()


async def test_inbox_after_replays_missed_events_then_live() -> None:
    seqs = await arecord_messages(5)
    socket = communicator(f"{INBOX}?after={seqs[1]}", await amake_token())
    await socket.connect()
    assert await receive_seqs(socket, 3) == seqs[2:]
    live = await arecord_messages(2)
    assert await receive_seqs(socket, 2) == live
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_inbox_after_replays_only_scope_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("realtime.consumers.REPLAY_BATCH", 3)
    alice = await arecord_messages(7, customer=ALICE)
    await arecord_messages(4, customer=BOB)
    socket = communicator(f"{INBOX}?after=0", await amake_token(customers=[ALICE]))
    await socket.connect()
    assert await receive_seqs(socket, 7) == alice
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_inbox_after_older_than_log_sends_resync_required_then_live() -> None:
    await arecord_messages(4)
    await sync_to_async(call_command)("prune_events", "--days", "0")
    socket = communicator(f"{INBOX}?after=1", await amake_token())
    await socket.connect()
    assert await socket.receive_json_from() == {"type": "resync_required"}
    live = await arecord_messages(1)
    assert await receive_seqs(socket, 1) == live
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_inbox_after_beyond_log_sends_resync_required() -> None:
    await arecord_messages(1)
    socket = communicator(f"{INBOX}?after=999", await amake_token())
    await socket.connect()
    assert await socket.receive_json_from() == {"type": "resync_required"}
    await socket.disconnect()


async def test_inbox_disconnect_leaves_no_subscriber() -> None:
    token = await amake_token()
    sockets = [communicator(INBOX, token), communicator(conversation_path(ALICE), token)]
    await arecord_messages(1)
    for socket in sockets:
        assert (await socket.connect())[0]
    fanout = peek_fanout()
    assert fanout is not None
    assert fanout.subscriber_count == 2
    for socket in sockets:
        await socket.disconnect()
    assert fanout.subscriber_count == 0
    assert not fanout._by_conversation
    assert not fanout._inbox


async def test_inbox_frame_text_is_the_logged_frame() -> None:
    socket = communicator(INBOX, await amake_token())
    await socket.connect()
    await arecord_messages(1)
    text = await socket.receive_from(timeout=5)
    assert json.loads(text)["type"] == "message.created"
    await socket.disconnect()
