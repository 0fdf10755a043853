"""A draining process closes its sockets side by side: a slow closing handshake holds up no other socket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from realtime import consumers

CLOSE_SECONDS = 0.5


class SlowToClose:
    """A socket whose close waits for the client's closing frame, as uvicorn's does."""

    def __init__(self) -> None:
        self.closed_with: int | None = None

    async def close(self, code: int) -> None:
        await asyncio.sleep(CLOSE_SECONDS)
        self.closed_with = code


@pytest.mark.asyncio
async def test_drain_closes_many_slow_sockets_in_about_one_closing_time(monkeypatch: Any) -> None:
    sockets = [SlowToClose() for _ in range(40)]
    monkeypatch.setattr(consumers, "LIVE_SOCKETS", set(sockets))

    started = time.monotonic()
    closed = await consumers.close_all_sockets(4012)

    # One after another they would take 40 x 0.5 s = 20 s.
    assert time.monotonic() - started < 10 * CLOSE_SECONDS
    assert closed == 40
    assert all(s.closed_with == 4012 for s in sockets)
