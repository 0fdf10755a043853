"""Group commit: webhook POSTs that arrive while a transaction runs are written together in the next.

Under load most of a webhook's cost is the transaction's fixed part (a dozen statements, the locks,
the commit's flush), so sharing one transaction between the POSTs that queued meanwhile multiplies
throughput, while a lone POST is written at once, as before: nothing waits on a timer. Each POST is
answered only after the transaction holding it has committed (or with its own error).

Only a body whose signature holds joins the queue, and the queue is bounded (POSTs and bytes): when
it is full the POST is answered 503 with `Retry-After` at once, and Meta delivers it again later.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings

from webhook.receive import (
    INVALID_SIGNATURE,
    MAX_GROUP,
    QUEUE_FULL,
    Answer,
    is_signed,
    receive_verified,
    receive_verified_outside_request,
)

# Transactions one process runs at once: two keep the database busy while Python parses the next group.
WRITERS = 2
# Bodies at least this big are verified on a thread: hashlib releases the GIL, the event loop runs on.
VERIFY_OFF_LOOP_BYTES = 64 * 1024


@dataclass(slots=True)
class _Waiting:
    body: bytes
    answer: asyncio.Future[Answer]


@dataclass(slots=True)
class GroupCommit:
    """The POSTs of one event loop waiting to be written, and the writers running for them.

    `in_caller_thread` writes on the thread that called into the event loop (async_to_sync), with that
    thread's connection and transaction: for a synchronous caller such as Django's test client.
    """

    max_group: int = MAX_GROUP
    writers: int = WRITERS
    max_waiting: int = field(default_factory=lambda: int(settings.HUB_WEBHOOK_QUEUE_MAX))
    max_waiting_bytes: int = field(default_factory=lambda: int(settings.HUB_WEBHOOK_QUEUE_MAX_BYTES))
    in_caller_thread: bool = False
    waiting: list[_Waiting] = field(default_factory=list)
    waiting_bytes: int = 0
    running: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def receive(self, body: bytes, signature: str | None) -> Answer:
        if len(body) >= VERIFY_OFF_LOOP_BYTES:
            signed = await asyncio.to_thread(is_signed, body, signature)
        else:
            signed = is_signed(body, signature)
        if not signed:
            return INVALID_SIGNATURE
        if len(self.waiting) >= self.max_waiting or (
            self.waiting and self.waiting_bytes + len(body) > self.max_waiting_bytes
        ):
            return QUEUE_FULL
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Waiting(body, answer))
        self.waiting_bytes += len(body)
        if self.running < self.writers:
            self.running += 1
            task = asyncio.create_task(self._write())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await answer

    async def _write(self) -> None:
        try:
            while self.waiting:
                group, self.waiting = self.waiting[: self.max_group], self.waiting[self.max_group :]
                self.waiting_bytes -= sum(len(item.body) for item in group)
                try:
                    answers = await self._run([item.body for item in group])
                except BaseException as failure:
                    for item in group:
                        if not item.answer.done():
                            item.answer.set_exception(failure)
                    if isinstance(failure, asyncio.CancelledError):
                        raise
                    continue
                for item, answer in zip(group, answers, strict=True):
                    # A POST whose client went away was cancelled; its rows are written all the same.
                    if not item.answer.done():
                        item.answer.set_result(answer)
                del group
        finally:
            self.running -= 1

    async def _run(self, bodies: list[bytes]) -> list[Answer]:
        if self.in_caller_thread:
            return await sync_to_async(receive_verified, thread_sensitive=True)(bodies)
        # Not thread-sensitive: outside a request that would queue every write on one thread.
        return await sync_to_async(receive_verified_outside_request, thread_sensitive=False)(bodies)


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit] = weakref.WeakKeyDictionary()


def group_commit() -> GroupCommit:
    """This event loop's group commit (a server process has one loop; tests make one per test)."""
    loop = asyncio.get_running_loop()
    found = _BY_LOOP.get(loop)
    if found is None:
        found = _BY_LOOP[loop] = GroupCommit()
    return found


def use_group_commit(commit: GroupCommit) -> None:
    """Make `commit` this event loop's group commit (a synchronous caller's `in_caller_thread` one)."""
    _BY_LOOP[asyncio.get_running_loop()] = commit
