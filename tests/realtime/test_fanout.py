"""The per-process fan-out on its own: seq order, gaps read from the log, the poll, slow subscribers."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from realtime.delivery import Message, Subscriber
from realtime.fanout import Fanout, Subscription
from realtime.protocol import CLOSE_TOO_SLOW
from realtime.replay import list_wire_events
from store.auth import EVERYTHING, TokenScope
from store.publish import WireEvent
from tests.realtime.helpers import ALICE, BOB, arecord_messages

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("realtime_cleanup"),
]


def wire(seq: int, conversation_id: int = 1, customer: str = ALICE) -> WireEvent:
    return {
        "seq": seq,
        "conversation_id": conversation_id,
        "business": "100001",
        "customers": [customer],
        "team_only": False,
        "text": f'{{"seq":{seq}}}',
    }


class FakeSocket:
    """A socket's ASGI send that records every message; `blocked` makes writes wait, as a full buffer does."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.writable = asyncio.Event()
        self.writable.set()

    async def send(self, message: Message) -> None:
        await self.writable.wait()
        self.messages.put_nowait(message)


def live(subscription: Subscription, maxsize: int | None = None) -> tuple[Subscriber, FakeSocket]:
    socket = FakeSocket()
    subscriber = Subscriber(subscription, socket.send, maxsize)
    subscriber.go_live(0)
    return subscriber, socket


async def drain(socket: FakeSocket, count: int, within: float = 5.0) -> list[int]:
    messages = [await asyncio.wait_for(socket.messages.get(), within) for _ in range(count)]
    return [json.loads(message["text"])["seq"] for message in messages]


async def test_fanout_out_of_order_events_dispatched_in_seq_order() -> None:
    fanout = Fanout(layer=None)
    subscriber, socket = live(Subscription(scope=EVERYTHING))
    await fanout.subscribe(subscriber)
    fanout._accept([wire(3), wire(2)])
    assert socket.messages.empty()
    fanout._accept([wire(1), wire(2)])
    assert await drain(socket, 3) == [1, 2, 3]
    assert fanout.watermark == 3
    assert socket.messages.empty()
    await fanout.aclose()


async def test_fanout_gap_read_from_log_in_order() -> None:
    fanout = Fanout(layer=None)
    subscriber, socket = live(Subscription(scope=EVERYTHING))
    await fanout.subscribe(subscriber)
    seqs = await arecord_messages(4)
    # Only the last one's news arrives; the three before it are read from the log.
    latest = await sync_to_async(list_wire_events)(seqs[-2])
    fanout._incoming.put_nowait(latest)
    # Well before the poll would find them (it waits for events older than one poll interval).
    assert await drain(socket, 4, within=0.8) == seqs
    await fanout.aclose()


async def test_fanout_lost_broadcast_delivered_by_poll() -> None:
    fanout = Fanout(layer=None)
    subscriber, socket = live(Subscription(scope=EVERYTHING))
    await fanout.subscribe(subscriber)
    seqs = await arecord_messages(3)
    assert await drain(socket, 3, within=4) == seqs
    await fanout.aclose()


async def test_fanout_full_queue_closes_only_that_subscriber() -> None:
    fanout = Fanout(layer=None)
    slow, slow_socket = live(Subscription(scope=EVERYTHING), maxsize=1)
    fast, fast_socket = live(Subscription(scope=EVERYTHING))
    await fanout.subscribe(slow)
    await fanout.subscribe(fast)
    # The slow socket's first write waits; the second event queues behind it, the third overflows.
    slow_socket.writable.clear()
    fanout._accept([wire(1), wire(2), wire(3)])
    assert slow.overflowed
    assert not fast.overflowed
    assert fanout.subscriber_count == 1
    assert await drain(fast_socket, 3) == [1, 2, 3]
    # The blocked write is given up and the slow socket closed with 4008; it gets nothing more.
    slow_socket.writable.set()
    closing = await asyncio.wait_for(slow_socket.messages.get(), 5)
    assert closing == {"type": "websocket.close", "code": CLOSE_TOO_SLOW}
    assert slow_socket.messages.empty()
    await fanout.aclose()


async def test_fanout_matches_scope_and_conversation() -> None:
    fanout = Fanout(layer=None)
    scoped, scoped_socket = live(Subscription(scope=TokenScope(customers=frozenset({BOB}))))
    conversation, conversation_socket = live(Subscription(scope=EVERYTHING, conversation_id=7))
    await fanout.subscribe(scoped)
    await fanout.subscribe(conversation)
    fanout._accept([wire(1, 7, ALICE), wire(2, 8, BOB), wire(3, 7, ALICE)])
    assert await drain(scoped_socket, 1) == [2]
    assert await drain(conversation_socket, 2) == [1, 3]
    fanout.unsubscribe(conversation)
    fanout.unsubscribe(conversation)
    assert fanout.subscriber_count == 1
    assert not fanout._by_conversation
    await fanout.aclose()


async def test_fanout_without_subscribers_skips_to_log_head() -> None:
    fanout = Fanout(layer=None)
    first, _ = live(Subscription(scope=EVERYTHING))
    await fanout.subscribe(first)
    fanout.unsubscribe(first)
    await arecord_messages(3)
    second, second_socket = live(Subscription(scope=EVERYTHING))
    await fanout.subscribe(second)
    assert fanout.watermark == 3
    seqs = await arecord_messages(1)
    assert await drain(second_socket, 1, within=4) == seqs
    await fanout.aclose()
