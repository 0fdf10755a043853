"""The per-process fan-out on its own: seq order, gaps read from the log, the poll, slow subscribers."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from realtime.fanout import Fanout, Subscriber, Subscription
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
        "text": f'{{"seq":{seq}}}',
    }


async def drain(subscriber: Subscriber, count: int, within: float = 5.0) -> list[int]:
    return [(await asyncio.wait_for(subscriber.queue.get(), within))["seq"] for _ in range(count)]


async def test_fanout_out_of_order_events_dispatched_in_seq_order() -> None:
    fanout = Fanout(layer=None)
    subscriber = Subscriber(Subscription(scope=EVERYTHING))
    await fanout.subscribe(subscriber)
    fanout._accept([wire(3), wire(2)])
    assert subscriber.queue.empty()
    fanout._accept([wire(1), wire(2)])
    assert await drain(subscriber, 3) == [1, 2, 3]
    assert fanout.watermark == 3
    assert subscriber.queue.empty()
    await fanout.aclose()


async def test_fanout_gap_read_from_log_in_order() -> None:
    fanout = Fanout(layer=None)
    subscriber = Subscriber(Subscription(scope=EVERYTHING))
    await fanout.subscribe(subscriber)
    seqs = await arecord_messages(4)
    # Only the last one's news arrives; the three before it are read from the log.
    latest = await sync_to_async(list_wire_events)(seqs[-2])
    fanout._incoming.put_nowait(latest)
    # Well before the poll would find them (it waits for events older than one poll interval).
    assert await drain(subscriber, 4, within=0.8) == seqs
    await fanout.aclose()


async def test_fanout_lost_broadcast_delivered_by_poll() -> None:
    fanout = Fanout(layer=None)
    subscriber = Subscriber(Subscription(scope=EVERYTHING))
    await fanout.subscribe(subscriber)
    seqs = await arecord_messages(3)
    assert await drain(subscriber, 3, within=4) == seqs
    await fanout.aclose()


async def test_fanout_full_queue_closes_only_that_subscriber() -> None:
    fanout = Fanout(layer=None)
    slow = Subscriber(Subscription(scope=EVERYTHING), maxsize=1)
    fast = Subscriber(Subscription(scope=EVERYTHING))
    await fanout.subscribe(slow)
    await fanout.subscribe(fast)
    fanout._accept([wire(1), wire(2), wire(3)])
    assert slow.overflowed
    assert not fast.overflowed
    assert fanout.subscriber_count == 1
    assert await drain(fast, 3) == [1, 2, 3]
    await fanout.aclose()


async def test_fanout_matches_scope_and_conversation() -> None:
    fanout = Fanout(layer=None)
    scoped = Subscriber(Subscription(scope=TokenScope(customers=frozenset({BOB}))))
    conversation = Subscriber(Subscription(scope=EVERYTHING, conversation_id=7))
    await fanout.subscribe(scoped)
    await fanout.subscribe(conversation)
    fanout._accept([wire(1, 7, ALICE), wire(2, 8, BOB), wire(3, 7, ALICE)])
    assert await drain(scoped, 1) == [2]
    assert await drain(conversation, 2) == [1, 3]
    fanout.unsubscribe(conversation)
    fanout.unsubscribe(conversation)
    assert fanout.subscriber_count == 1
    assert not fanout._by_conversation
    await fanout.aclose()


async def test_fanout_without_subscribers_skips_to_log_head() -> None:
    fanout = Fanout(layer=None)
    first = Subscriber(Subscription(scope=EVERYTHING))
    await fanout.subscribe(first)
    fanout.unsubscribe(first)
    await arecord_messages(3)
    second = Subscriber(Subscription(scope=EVERYTHING))
    await fanout.subscribe(second)
    assert fanout.watermark == 3
    seqs = await arecord_messages(1)
    assert await drain(second, 1, within=4) == seqs
    await fanout.aclose()
