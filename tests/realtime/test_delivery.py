"""One socket's delivery on its own: direct writes, the replay handoff, a write that waits, overflow."""

from __future__ import annotations

import asyncio
import json

import pytest

from realtime.delivery import Message, Subscriber, text_message
from realtime.fanout import Subscription
from realtime.protocol import CLOSE_INTERNAL_ERROR, CLOSE_TOO_SLOW
from store.auth import EVERYTHING

pytestmark = pytest.mark.asyncio

SUBSCRIPTION = Subscription(scope=EVERYTHING)


class FakeSocket:
    """An ASGI send that records messages; clearing `writable` makes writes wait, as a full buffer does."""

    def __init__(self, yields: bool = False, fails: bool = False) -> None:
        self.sent: list[Message] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.yields = yields
        self.fails = fails

    async def send(self, message: Message) -> None:
        await self.writable.wait()
        if self.yields:
            await asyncio.sleep(0)
        if self.fails and message["type"] == "websocket.send":
            raise OSError("connection reset")
        self.sent.append(message)

    def seqs(self) -> list[int]:
        return [json.loads(m["text"])["seq"] for m in self.sent if m["type"] == "websocket.send"]

    def closes(self) -> list[int]:
        return [m["code"] for m in self.sent if m["type"] == "websocket.close"]


def frame(seq: int) -> Message:
    return text_message(json.dumps({"seq": seq}))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_subscriber_live_write_completes_at_once_without_a_task() -> None:
    socket = FakeSocket()
    subscriber = Subscriber(SUBSCRIPTION, socket.send)
    subscriber.go_live(0)
    assert subscriber.offer(1, frame(1))
    assert socket.seqs() == [1]
    assert subscriber.task is None
    assert subscriber.backlog is None


async def test_subscriber_before_go_live_buffers_then_drops_what_was_replayed() -> None:
    socket = FakeSocket()
    subscriber = Subscriber(SUBSCRIPTION, socket.send)
    for seq in range(1, 6):
        assert subscriber.offer(seq, frame(seq))
    assert socket.sent == []
    subscriber.go_live(3)
    assert socket.seqs() == [4, 5]
    assert subscriber.offer(6, frame(6))
    assert subscriber.offer(6, frame(6))
    assert socket.seqs() == [4, 5, 6]


async def test_subscriber_write_that_waits_keeps_order_then_writes_directly_again() -> None:
    socket = FakeSocket()
    subscriber = Subscriber(SUBSCRIPTION, socket.send)
    subscriber.go_live(0)
    socket.writable.clear()
    for seq in (1, 2, 3):
        assert subscriber.offer(seq, frame(seq))
    assert subscriber.task is not None
    socket.writable.set()
    await asyncio.wait_for(subscriber.task, 5)
    assert socket.seqs() == [1, 2, 3]
    assert subscriber.task is None
    assert subscriber.offer(4, frame(4))
    assert socket.seqs() == [1, 2, 3, 4]


async def test_subscriber_send_that_yields_is_finished_in_order() -> None:
    socket = FakeSocket(yields=True)
    subscriber = Subscriber(SUBSCRIPTION, socket.send)
    subscriber.go_live(0)
    for seq in (1, 2, 3):
        assert subscriber.offer(seq, frame(seq))
    await settle()
    while subscriber.task is not None:
        await asyncio.wait_for(subscriber.task, 5)
    assert socket.seqs() == [1, 2, 3]


async def test_subscriber_full_backlog_gives_up_the_waiting_write_and_closes_4008_at_once() -> None:
    socket = FakeSocket()
    subscriber = Subscriber(SUBSCRIPTION, socket.send, maxsize=2)
    subscriber.go_live(0)
    socket.writable.clear()
    assert subscriber.offer(1, frame(1))
    waiting_write = subscriber.task
    assert subscriber.offer(2, frame(2))
    assert subscriber.offer(3, frame(3))
    assert not subscriber.offer(4, frame(4))
    assert subscriber.overflowed
    assert not subscriber.offer(5, frame(5))
    await settle()
    # The write was cancelled as a task is, its wait on the socket included: only the close waits now.
    assert waiting_write is not None
    assert waiting_write.cancelled()
    assert len(socket.writable._waiters) == 1
    socket.writable.set()
    await settle()
    assert socket.sent == [{"type": "websocket.close", "code": CLOSE_TOO_SLOW}]


async def test_subscriber_overflow_while_replaying_closes_4008_when_replay_ends() -> None:
    socket = FakeSocket()
    subscriber = Subscriber(SUBSCRIPTION, socket.send, maxsize=2)
    assert subscriber.offer(1, frame(1))
    assert subscriber.offer(2, frame(2))
    assert not subscriber.offer(3, frame(3))
    await settle()
    assert socket.sent == []
    subscriber.go_live(0)
    await settle()
    assert socket.seqs() == []
    assert socket.closes() == [CLOSE_TOO_SLOW]


async def test_subscriber_failed_write_closes_1011_and_takes_nothing_more() -> None:
    socket = FakeSocket(fails=True)
    subscriber = Subscriber(SUBSCRIPTION, socket.send)
    subscriber.go_live(0)
    assert not subscriber.offer(1, frame(1))
    assert not subscriber.offer(2, frame(2))
    await settle()
    assert socket.closes() == [CLOSE_INTERNAL_ERROR]


async def test_subscriber_detach_cancels_a_waiting_write() -> None:
    socket = FakeSocket()
    subscriber = Subscriber(SUBSCRIPTION, socket.send)
    subscriber.go_live(0)
    socket.writable.clear()
    assert subscriber.offer(1, frame(1))
    task = subscriber.task
    assert task is not None
    subscriber.detach()
    await settle()
    assert task.cancelled()
    assert not subscriber.offer(2, frame(2))
    socket.writable.set()
    await settle()
    assert socket.sent == []
