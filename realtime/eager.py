"""Start a coroutine at once and make a task only of the part that waits, as Python 3.12's eager tasks do.

The fan-out writes every frame to every socket, and the server's ASGI send almost always finishes
without waiting (daphne and uvicorn put the frame in the transport's buffer and return), so a task per
frame would cost more than the write. Python 3.11 has no eager tasks (`asyncio.eager_task_factory` came
with 3.12), so `start_eagerly` runs the coroutine with the coroutine protocol
of the language reference (`send`, `throw`) until it first waits, and hands the rest to an ordinary
asyncio task: the task, not this module, waits on what the coroutine waits on, and cancelling the task
cancels that wait as it always does. No private attribute of asyncio or of a server is touched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import Any

_NOTHING: Any = object()


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run `coro` until it first waits: None if it finished meanwhile, else the task that finishes it.

    Raises what `coro` raises before its first wait. Cancel the task to give the rest up: the future
    the coroutine waits on is cancelled, and the coroutine sees `CancelledError` where it waits.
    """
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_Resumed(coro, waiting))


class _Resumed(Coroutine[Any, Any, None]):
    """A coroutine that `start_eagerly` ran up to its first wait, resumed by a task from that wait on.

    The task's first step is handed the wait the coroutine is already in (a future, or None for a
    bare yield) instead of resuming it; every later step goes straight to the coroutine.
    """

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        self._coro = coro
        self._waiting = waiting

    def send(self, value: Any) -> Any:
        waiting, self._waiting = self._waiting, _NOTHING
        if waiting is not _NOTHING:
            return waiting
        return self._coro.send(value)

    def throw(  # type: ignore[override]  # the one-argument form is the one asyncio uses
        self, error: BaseException, value: object = None, traceback: TracebackType | None = None
    ) -> Any:
        waiting, self._waiting = self._waiting, _NOTHING
        if asyncio.isfuture(waiting):
            # Cancelled before its first step, the task never waited on this future: cancel it as the
            # task would have (a server may refuse a second wait while the first is pending).
            waiting.cancel()
        return self._coro.throw(error)

    def close(self) -> None:
        self._waiting = _NOTHING
        self._coro.close()

    def __await__(self) -> Generator[Any, None, None]:
        # A task drives this object through send and throw; awaiting it directly is the same protocol.
        waiting = self.send(None)
        while True:
            try:
                value = yield waiting
            except BaseException as error:  # handed to the coroutine, as a task does
                try:
                    waiting = self.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    waiting = self.send(value)
                except StopIteration:
                    return
