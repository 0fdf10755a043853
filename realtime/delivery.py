"""One socket's ordered delivery: frames written straight from the fan-out, a backlog behind a slow write.

The server's ASGI `send` almost always completes without waiting (daphne and uvicorn put the frame in the
transport's buffer and return), so the fan-out writes each frame to each socket itself: no task and no
queue per socket. Only when a send has to wait (uvicorn pauses writing to a socket whose client stopped
reading) does a short-lived task finish it; frames that arrive meanwhile wait in a backlog of at most
`maxsize`, and past that the socket is closed with 4008 (its client replays from its last seq).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from realtime.eager import start_eagerly
from realtime.protocol import CLOSE_INTERNAL_ERROR, CLOSE_TOO_SLOW

if TYPE_CHECKING:
    from realtime.fanout import Subscription

logger = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 1000

Message = dict[str, Any]
# The socket's ASGI send (a coroutine function, as daphne's and uvicorn's are).
Send = Callable[[Message], Coroutine[Any, Any, None]]


def text_message(text: str) -> Message:
    """The ASGI message that writes one text frame; the fan-out builds it once per event for every socket."""
    return {"type": "websocket.send", "text": text}


class Subscriber:
    """One socket in the fan-out: what it wants, the last seq it was given, and its writes.

    Until `go_live` (the socket is connecting or replaying) events wait in the backlog; `cursor` then
    drops every event the socket already has, so the handoff from replay to live has no gap and no
    duplicate.
    """

    __slots__ = ("backlog", "closing", "cursor", "maxsize", "send", "subscription", "task", "waiting_write")

    def __init__(self, subscription: Subscription, send: Send, maxsize: int | None = None) -> None:
        self.subscription = subscription
        self.send = send
        self.maxsize = maxsize or SUBSCRIBER_QUEUE_SIZE
        # The last seq handed to the socket; None until it is live.
        self.cursor: int | None = None
        self.backlog: deque[tuple[int, Message]] | None = None
        # A write that had to wait (realtime/eager.py), and the task that waits for it, then writes the
        # backlog behind it (or the close).
        self.waiting_write: asyncio.Task[None] | None = None
        self.task: asyncio.Task[None] | None = None
        # The close code once the fan-out stopped writing to the socket.
        self.closing: int | None = None

    @property
    def overflowed(self) -> bool:
        return self.closing == CLOSE_TOO_SLOW

    def offer(self, seq: int, message: Message) -> bool:
        """Called by the fan-out with each matching event, in seq order; False once the socket is dropped."""
        if self.closing is not None:
            return False
        if self.cursor is not None and self.task is None and not self.backlog:
            if seq > self.cursor:
                self.cursor = seq
                self._write(message)
            return self.closing is None
        if self.backlog is None:
            self.backlog = deque()
        if len(self.backlog) >= self.maxsize:
            self.stop(CLOSE_TOO_SLOW)
            return False
        self.backlog.append((seq, message))
        return True

    def go_live(self, cursor: int) -> None:
        """Called once the socket has every event up to `cursor` (replayed, or older than its handshake)."""
        self.cursor = cursor
        if self.closing is not None:
            self.task = asyncio.create_task(self._close())
            return
        self._pump()

    def stop(self, code: int) -> None:
        """Write nothing more and close the socket with `code` now; drop what is held for it."""
        if self.closing is not None:
            return
        self.closing = code
        self.backlog = None
        if self.cursor is None:
            # Connecting or replaying: `go_live` closes it.
            return
        # A write waits for a client that does not read: give it up, so the close goes out now (the
        # server already holds the frame in its transport buffer).
        self._give_up_writing()
        self.task = asyncio.create_task(self._close())

    def detach(self) -> None:
        """Called when the socket is gone: drop the backlog and any write still waiting."""
        self.closing = self.closing or CLOSE_INTERNAL_ERROR
        self.backlog = None
        self._give_up_writing()

    def _give_up_writing(self) -> None:
        # Cancelling the write cancels its wait on the socket too (a server may refuse a second waiter
        # while one is pending, the close's included); it runs before the close's task starts.
        if self.waiting_write is not None:
            self.waiting_write.cancel()
            self.waiting_write = None
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        self.task = None

    def _pump(self) -> None:
        backlog = self.backlog
        while backlog and self.task is None and self.closing is None:
            seq, message = backlog.popleft()
            self._write_above_cursor(seq, message)
        if self.task is None and not self.backlog:
            self.backlog = None

    def _write_above_cursor(self, seq: int, message: Message) -> None:
        assert self.cursor is not None
        if seq > self.cursor:
            self.cursor = seq
            self._write(message)

    def _write(self, message: Message) -> None:
        try:
            write = start_eagerly(self.send(message))
        except Exception:
            logger.info("socket write failed", exc_info=True)
            self.stop(CLOSE_INTERNAL_ERROR)
            return
        if write is not None:
            self.waiting_write = write
            self.task = asyncio.create_task(self._write_behind(write))

    async def _write_behind(self, write: asyncio.Task[None]) -> None:
        """Finish a write that had to wait, then the frames that queued up behind it, in order."""
        try:
            await write
            self.waiting_write = None
            while self.backlog and self.closing is None:
                seq, message = self.backlog.popleft()
                assert self.cursor is not None
                if seq > self.cursor:
                    self.cursor = seq
                    await self.send(message)
        except Exception:
            logger.info("socket write failed", exc_info=True)
            self.closing = self.closing or CLOSE_INTERNAL_ERROR
        # No await between the last check of the backlog and this: the fan-out writes directly again.
        self.waiting_write = None
        self.task = None
        self.backlog = None
        if self.closing is not None:
            await self._close()

    async def _close(self) -> None:
        try:
            await self.send({"type": "websocket.close", "code": self.closing})
        except Exception:
            logger.info("closing a socket failed", exc_info=True)
