"""Session-cookie sockets work with or without channels' session middleware in the WebSocket stack."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from realtime.protocol import CLOSE_UNAUTHENTICATED
from realtime.routing import websocket_urlpatterns
from tests.realtime.helpers import arecord_messages, assert_closed_with, receive_seqs

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]

INBOX = "/ws/whatsapp/inbox/"
ORIGIN = (b"origin", b"http://localhost:8000")
HOST = (b"host", b"localhost:8000")
# The routes alone: realtime/auth.py reads the session from the cookie itself.
BARE_STACK = URLRouter(websocket_urlpatterns)


@sync_to_async
def session_cookie() -> bytes:
    user = User.objects.create_user("cookie-user", password="unused-password-123", is_staff=True)
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_session_cookie_without_session_middleware_accepted() -> None:
    socket = WebsocketCommunicator(
        BARE_STACK, INBOX, headers=[(b"cookie", await session_cookie()), ORIGIN, HOST]
    )
    assert (await socket.connect())[0]
    seqs = await arecord_messages(1)
    assert await receive_seqs(socket, 1) == seqs
    await socket.disconnect()


async def test_session_cookie_without_session_middleware_needs_allowed_origin() -> None:
    headers = [(b"cookie", await session_cookie()), (b"origin", b"https://evil.example")]
    await assert_closed_with(WebsocketCommunicator(BARE_STACK, INBOX, headers=headers), CLOSE_UNAUTHENTICATED)


@pytest.mark.parametrize("cookie", [b"sessionid=not-a-session", b"other=1", b""])
async def test_unknown_session_cookie_without_session_middleware_closes_4401(cookie: bytes) -> None:
    socket = WebsocketCommunicator(BARE_STACK, INBOX, headers=[(b"cookie", cookie), ORIGIN, HOST])
    await assert_closed_with(socket, CLOSE_UNAUTHENTICATED)
