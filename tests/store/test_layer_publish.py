"""Group messages sent in one pipeline reach every group's members, as group_send would deliver them."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from store.layer_publish import _pipelinable, group_send_many


async def receive_all(layer: Any, channel: str, count: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(count)]


@pytest.mark.redis
@pytest.mark.asyncio
async def test_pipelined_messages_reach_each_group_in_order() -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    prefix = f"test{uuid.uuid4().hex[:8]}"
    sender = RedisPubSubChannelLayer(hosts=[url], prefix=prefix)
    receiver = RedisPubSubChannelLayer(hosts=[url], prefix=prefix)
    try:
        inbox = await receiver.new_channel()
        one = await receiver.new_channel()
        await receiver.group_add("inbox", inbox)
        await receiver.group_add("conversation.1", one)
        messages = {
            "inbox": {"type": "hub.events", "events": [{"seq": 1}, {"seq": 2}]},
            "conversation.1": {"type": "hub.events", "events": [{"seq": 1}]},
            "conversation.2": {"type": "hub.events", "events": [{"seq": 2}]},
        }
        await group_send_many(sender, messages)
        await group_send_many(sender, {"inbox": {"type": "hub.events", "events": [{"seq": 3}]}})

        assert await receive_all(receiver, inbox, 2) == [
            messages["inbox"],
            {"type": "hub.events", "events": [{"seq": 3}]},
        ]
        assert await receive_all(receiver, one, 1) == [messages["conversation.1"]]
    finally:
        await sender.flush()
        await receiver.flush()


@pytest.mark.asyncio
async def test_other_layers_get_plain_group_sends() -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("inbox", channel)

    await group_send_many(layer, {"inbox": {"type": "hub.events", "events": [{"seq": 7}]}})

    assert await receive_all(layer, channel, 1) == [{"type": "hub.events", "events": [{"seq": 7}]}]


@pytest.mark.redis
@pytest.mark.asyncio
async def test_pinned_channels_redis_has_the_private_parts_so_the_pipeline_is_taken() -> None:
    """The contract of the adapter with the pinned channels-redis: without these parts every group
    would cost its own round trip again, with no error to notice it by."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    layer = RedisPubSubChannelLayer(hosts=[url], prefix=f"test{uuid.uuid4().hex[:8]}")
    try:
        assert _pipelinable(layer)
        loop_layer = layer._get_layer()
        channel = loop_layer._get_group_channel_name("inbox")
        assert channel.endswith("inbox")
        assert loop_layer._get_shard(channel) in loop_layer._shards
    finally:
        await layer.flush()
