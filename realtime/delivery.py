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

from realtime.protocol import CLOSE_INTERNAL_ERROR, CLOSE_TOO_SLOW

if TYPE_CHECKING:
    from realtime.fanout import Subscription

logger = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 1000

Message = dict[str, Any]
# The socket's ASGI send (a coroutine function, as daphne's and uvicorn's are).
Send = Callable[[Message], Coroutine[Any, Any, None]]

_DONE = object()


def text_message(text: str) -> Message:
    """The ASGI message that writes one text frame; the fan-out builds it once per event for every socket."""
    return {"type": "websocket.send", "text": text}


def _step(coro: Coroutine[Any, Any, None]) -> Any:
    """Run `coro` until it first waits; returns what it waits on, or `_DONE` once it has finished."""
    try:
        return coro.send(None)
    except StopIteration:
        return _DONE


class _WaitingWrite:
    """A send that `_step` started and that waits: a task finishes it, or it is given up."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    async def finish(self) -> None:
        """Run the send to its end, the way a task would have run it."""
        try:
            while (waiting := self.waiting) is not _DONE:
                if waiting is None:
                    # A bare yield (asyncio.sleep(0)): give the loop one turn.
                    await asyncio.sleep(0)
                else:
                    waiting._asyncio_future_blocking = False
                    # The send sees the future's result or error itself when it resumes.
                    await asyncio.wait([waiting])
                if self.waiting is not waiting:
                    return  # given up meanwhile
                self.waiting = _DONE  # stays so if the send raises: nothing left to give up
                self.waiting = _step(self.coro)
        except asyncio.CancelledError:
            self.give_up()
            raise

    def give_up(self) -> None:
        """Cancel the send as a task is cancelled, the future it waits on included, so that the server
        cleans up its wait (websockets' legacy drain refuses a second waiter, the close included)."""
        waiting, self.waiting = self.waiting, _DONE
        if waiting is _DONE:
            return
        if waiting is not None:
            waiting.cancel()
        try:
            self.coro.throw(asyncio.CancelledError())
        except (asyncio.CancelledError, Exception):
            # The cancellation, or the send's own error: either way the write is over.
            return
        self.coro.close()


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
        # A write that had to wait, and the task that finishes it, then the backlog behind it.
        self.waiting_write: _WaitingWrite | None = None
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
        if self.waiting_write is not None:
            self.waiting_write.give_up()
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
        coro = self.send(message)
        try:
            waiting = _step(coro)
        except Exception:
            logger.info("socket write failed", exc_info=True)
            self.stop(CLOSE_INTERNAL_ERROR)
            return
        if waiting is not _DONE:
            self.waiting_write = _WaitingWrite(coro, waiting)
            self.task = asyncio.create_task(self._write_behind(self.waiting_write))

    async def _write_behind(self, write: _WaitingWrite) -> None:
        """Finish a write that had to wait, then the frames that queued up behind it, in order."""
        try:
            await write.finish()
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
