"""Each async test runs its own event loop, hence its own fan-out: stop it and leave the layer's group,
and close the connection of asgiref's sync thread, which would otherwise outlive the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from asgiref.sync import sync_to_async
from django.db import connections

from realtime.credentials import get_credential_watch
from realtime.fanout import peek_fanout
from realtime.presence import peek_presence


@pytest_asyncio.fixture
async def realtime_cleanup() -> AsyncIterator[None]:
    yield
    await get_credential_watch().aclose()
    fanout = peek_fanout()
    if fanout is not None:
        await fanout.aclose()
    presence = peek_presence()
    if presence is not None:
        await presence.aclose()
    await sync_to_async(connections.close_all)()
