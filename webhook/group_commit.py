"""Group commit: webhook POSTs that arrive while a transaction runs are written together in the next.

Under load most of a webhook's cost is the transaction's fixed part (a dozen statements, the locks,
the commit's flush), so sharing one transaction between the POSTs that queued meanwhile multiplies
throughput, while a lone POST is written at once, as before: nothing waits on a timer. Each POST is
answered only after the transaction holding it has committed (or with its own error).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from webhook.receive import MAX_GROUP, Answer, Delivery, receive_updates_outside_request

# Transactions one process runs at once: two keep the database busy while Python parses the next group.
WRITERS = 2


@dataclass(slots=True)
class _Waiting:
    delivery: Delivery
    answer: asyncio.Future[Answer]


@dataclass(slots=True)
class GroupCommit:
    """The POSTs of one event loop waiting to be written, and the writers running for them."""

    max_group: int = MAX_GROUP
    writers: int = WRITERS
    waiting: list[_Waiting] = field(default_factory=list)
    running: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def receive(self, body: bytes, signature: str | None) -> Answer:
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Waiting((body, signature), answer))
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
                try:
                    # Not thread-sensitive: outside a request that would queue every write on one thread.
                    answers = await sync_to_async(receive_updates_outside_request, thread_sensitive=False)(
                        [item.delivery for item in group]
                    )
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
        finally:
            self.running -= 1


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit] = weakref.WeakKeyDictionary()


def group_commit() -> GroupCommit:
    """This event loop's group commit (a server process has one loop; tests make one per test)."""
    loop = asyncio.get_running_loop()
    found = _BY_LOOP.get(loop)
    if found is None:
        found = _BY_LOOP[loop] = GroupCommit()
    return found
