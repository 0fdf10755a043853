"""Live sockets keep their credentials checked: revoked, expired, deactivated, logged out or rescoped
closes with 4401 within HUB_SOCKET_RECHECK_SECONDS, while other sockets carry on."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from realtime.protocol import CLOSE_UNAUTHENTICATED
from store.auth import hash_token
from store.models import ApiToken
from tests.realtime.helpers import amake_token, arecord_messages, communicator, receive_seqs

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]

INBOX = "/ws/whatsapp/inbox/"
RECHECK = 0.2


@pytest.fixture(autouse=True)
def fast_recheck(settings: Any) -> None:
    settings.HUB_SOCKET_RECHECK_SECONDS = RECHECK


def token_row(raw: str) -> Any:
    return ApiToken.objects.filter(key_hash=hash_token(raw))


async def connected(token: str) -> WebsocketCommunicator:
    socket = communicator(INBOX, token)
    assert (await socket.connect())[0]
    return socket


async def assert_still_open(socket: WebsocketCommunicator) -> None:
    await socket.send_to(text_data='{"type": "ping"}')
    assert json.loads(await socket.receive_from(timeout=5)) == {"type": "pong"}


async def assert_closed_4401(socket: WebsocketCommunicator) -> None:
    # Well within 30 s at any setting; here ten re-check intervals.
    assert await socket.receive_output(timeout=RECHECK * 10) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHENTICATED,
    }
    await socket.disconnect(code=CLOSE_UNAUTHENTICATED)


@sync_to_async
def revoke_by_prefix(raw: str) -> None:
    call_command("revoke_token", raw[:10])


@sync_to_async
def expire(raw: str) -> None:
    token_row(raw).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))


@sync_to_async
def delete(raw: str) -> None:
    token_row(raw).delete()


@sync_to_async
def deactivate_user(raw: str) -> None:
    User.objects.filter(api_tokens__key_hash=hash_token(raw)).update(is_active=False)


@sync_to_async
def narrow_scope(raw: str) -> None:
    token_row(raw).update(phones=["15550000000"])


@pytest.mark.parametrize(
    "end", [revoke_by_prefix, expire, delete, deactivate_user, narrow_scope], ids=lambda f: f.__name__
)
async def test_live_socket_whose_credential_ends_closes_4401_and_others_carry_on(
    end: Callable[[str], Awaitable[None]],
) -> None:
    doomed_token = await amake_token("doomed")
    other_token = await amake_token("other")
    doomed, other = await connected(doomed_token), await connected(other_token)

    await end(doomed_token)

    await assert_closed_4401(doomed)
    seqs = await arecord_messages(1)
    assert await receive_seqs(other, 1) == seqs
    await assert_still_open(other)
    await other.disconnect()


async def test_live_socket_with_valid_token_stays_open_across_rechecks() -> None:
    socket = await connected(await amake_token())
    for _ in range(3):
        await arecord_messages(1)
        assert len(await receive_seqs(socket, 1, within=RECHECK * 10)) == 1
    await assert_still_open(socket)
    await socket.disconnect()


@sync_to_async
def staff_session() -> tuple[Client, bytes]:
    user = User.objects.create_user("console", password="unused-password-123", is_staff=True)
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_live_session_socket_closes_4401_after_logout() -> None:
    client, cookie = await staff_session()
    headers = [(b"cookie", cookie), (b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")]
    socket = communicator(INBOX, headers=headers)
    assert (await socket.connect())[0]
    await assert_still_open(socket)

    await sync_to_async(client.logout)()

    await assert_closed_4401(socket)
